import type { Kysely } from 'kysely';
import { runStatements } from '../run-statements.js';

/**
 * A subscriber row remembers when the subscribe form last mailed the address (a confirmation or an
 * "already subscribed" reminder), so signups from many clients send at most one mail per window.
 * (Issue 16's second 0014 migration: 0014_api_key_roles had shipped already.)
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await runStatements(db, 'ALTER TABLE subscribers ADD COLUMN opt_in_mailed_at timestamptz;');
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await runStatements(db, 'ALTER TABLE subscribers DROP COLUMN IF EXISTS opt_in_mailed_at;');
}
