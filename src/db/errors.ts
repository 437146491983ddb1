/** Whether a database error is a unique-constraint violation (PostgreSQL and PGlite: SQLSTATE 23505). */
export function isUniqueViolation(err: unknown): boolean {
  return (err as { code?: string } | null)?.code === '23505';
}
