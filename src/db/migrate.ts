import { type Kysely, type MigrationResultSet, Migrator, sql } from 'kysely';
import { migrations } from './migrations/index.js';

export class MigrationError extends Error {
  override name = 'MigrationError';
}

/**
 * Held (on PostgreSQL) around a whole migration run and by anything that drops a schema. Kysely's
 * migrator reads the catalogue of every schema before it takes its own lock, and a schema dropped
 * at that moment fails the read ("schema … does not exist"): test files that run side by side,
 * each in its own schema, did exactly that.
 */
export const SCHEMA_CHANGE_LOCK = 4_740_105_118_200_331n;

// biome-ignore lint/suspicious/noExplicitAny: the migrator works on any schema, before its types exist
type AnyDb = Kysely<any>;

/**
 * Brings the schema up to date; returns the names of the migrations it applied. `exclusive`
 * (PostgreSQL only: it holds a second pooled connection) serialises the run with schema drops.
 */
export async function migrateToLatest(
  db: AnyDb,
  /** `before`: stop short of the migration of that name (tests of what a migration does to an older install). */
  opts: { schema?: string; exclusive?: boolean; before?: string } = {},
): Promise<string[]> {
  if (!opts.exclusive) return migrate(db, opts.schema, opts.before);
  return db.connection().execute(async (lock) => {
    await sql`SELECT pg_advisory_lock(${sql.lit(SCHEMA_CHANGE_LOCK)})`.execute(lock);
    try {
      return await migrate(db, opts.schema, opts.before);
    } finally {
      await sql`SELECT pg_advisory_unlock(${sql.lit(SCHEMA_CHANGE_LOCK)})`.execute(lock);
    }
  });
}

async function migrate(db: AnyDb, named: string | undefined, before?: string): Promise<string[]> {
  // Name the schema, or the migrator may find another schema's bookkeeping tables and skip its own.
  const schema =
    named ?? (await sql<{ s: string }>`SELECT current_schema() AS s`.execute(db)).rows[0]?.s ?? 'public';
  const migrator = new Migrator({
    db,
    migrationTableSchema: schema,
    provider: {
      getMigrations: async () =>
        before
          ? Object.fromEntries(Object.entries(migrations).filter(([name]) => name < before))
          : migrations,
    },
    // Helpers land migrations in parallel branches; order by name but accept late arrivals.
    allowUnorderedMigrations: true,
  });
  const { error, results }: MigrationResultSet = await migrator.migrateToLatest();
  if (error) {
    const failed = results?.find((r) => r.status === 'Error');
    throw new MigrationError(
      `Migration ${failed?.migrationName ?? '(unknown)'} failed: ${error instanceof Error ? error.message : String(error)}`,
    );
  }
  return (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName);
}
