import type { Kysely } from 'kysely';
import { runStatements } from '../run-statements.js';

/**
 * Optimistic concurrency for the web editor: each issue item carries a version that every
 * content change bumps, so two editors saving the same item are told rather than one silently
 * overwriting the other. The revision cannot serve: it moves on every edit anywhere.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await runStatements(db, 'ALTER TABLE issue_items ADD COLUMN version integer NOT NULL DEFAULT 1;');
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await runStatements(db, 'ALTER TABLE issue_items DROP COLUMN version;');
}
