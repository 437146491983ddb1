import { type Kysely, type MigrationResultSet, Migrator, sql } from 'kysely';
import { migrations } from './migrations/index.js';

export class MigrationError extends Error {
  override name = 'MigrationError';
}

/** Brings the schema up to date; returns the names of the migrations it applied. */
// biome-ignore lint/suspicious/noExplicitAny: the migrator works on any schema, before its types exist
export async function migrateToLatest(db: Kysely<any>, opts: { schema?: string } = {}): Promise<string[]> {
  // Name the schema, or the migrator may find another schema's bookkeeping tables and skip its own.
  const schema =
    opts.schema ??
    (await sql<{ s: string }>`SELECT current_schema() AS s`.execute(db)).rows[0]?.s ??
    'public';
  const migrator = new Migrator({
    db,
    migrationTableSchema: schema,
    provider: { getMigrations: async () => migrations },
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
