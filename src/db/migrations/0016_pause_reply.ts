import type { Kysely } from 'kysely';
import { runStatements } from '../run-statements.js';

/**
 * Why a send stopped, in the relay's own words: issues.pause_reason keeps the stable code
 * (smtp_auth, failure_rate, relay_connection, operator), pause_reply the reply behind it
 * (e.g. "535 5.7.8 Authentication failed"), for the CLI and the send page.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await runStatements(
    db,
    `ALTER TABLE issues ADD COLUMN pause_reply text CHECK (length(pause_reply) <= 1000);`,
  );
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await runStatements(db, `ALTER TABLE issues DROP COLUMN pause_reply;`);
}
