import { type Kysely, sql } from 'kysely';
import { runStatements } from '../run-statements.js';

/**
 * What the last poll had to bend to read a feed (recovered XML, dates that are not dates, a charset
 * label that was not believed) and the charset that won, so an editor sees it on the source; and a
 * per-source time zone for feeds whose zone-less or "CST" dates mean somewhere else than the
 * publication's zone.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await runStatements(
    db,
    `
    ALTER TABLE sources ADD COLUMN time_zone text CHECK (time_zone IS NULL OR length(time_zone) BETWEEN 1 AND 64);
    ALTER TABLE sources ADD COLUMN parse_notes jsonb NOT NULL DEFAULT '[]'::jsonb
      CHECK (jsonb_typeof(parse_notes) = 'array');
    ALTER TABLE sources ADD COLUMN last_charset text;
  `,
  );
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`ALTER TABLE sources DROP COLUMN IF EXISTS last_charset`.execute(db);
  await sql`ALTER TABLE sources DROP COLUMN IF EXISTS parse_notes`.execute(db);
  await sql`ALTER TABLE sources DROP COLUMN IF EXISTS time_zone`.execute(db);
}
