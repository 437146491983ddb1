import { type Kysely, sql } from 'kysely';
import { runStatements } from '../run-statements.js';

/**
 * Feed ingestion. The scheduler asks "which enabled sources are due" and editors list a source's
 * recent items, so both get an index; the last HTTP status helps an editor see why a source fails.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await runStatements(
    db,
    `
    ALTER TABLE sources ADD COLUMN last_http_status integer;
    CREATE INDEX sources_due_idx ON sources (enabled, next_poll_at);
    CREATE INDEX items_source_idx ON items (source_id, id);
    CREATE INDEX items_content_hash_idx ON items (content_hash) WHERE content_hash IS NOT NULL;
  `,
  );
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`DROP INDEX IF EXISTS items_content_hash_idx`.execute(db);
  await sql`DROP INDEX IF EXISTS items_source_idx`.execute(db);
  await sql`DROP INDEX IF EXISTS sources_due_idx`.execute(db);
  await sql`ALTER TABLE sources DROP COLUMN IF EXISTS last_http_status`.execute(db);
}
