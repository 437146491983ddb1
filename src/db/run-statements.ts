import { type Kysely, sql } from 'kysely';

/** Runs a migration's SQL one statement at a time: PGlite's extended protocol takes one per query. */
export async function runStatements(db: Kysely<unknown>, text: string): Promise<void> {
  const withoutComments = text.replace(/^\s*--.*$/gm, '');
  for (const statement of withoutComments.split(/;\s*(?:\n|$)/)) {
    if (statement.trim()) await sql.raw(statement).execute(db);
  }
}
