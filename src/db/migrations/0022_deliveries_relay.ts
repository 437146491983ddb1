import type { Kysely } from 'kysely';
import { runStatements } from '../run-statements.js';

/** The SMTP server a delivery went through is its relay (CONTEXT.md): the column says so too. */
export async function up(db: Kysely<unknown>): Promise<void> {
  await runStatements(db, `ALTER TABLE deliveries RENAME COLUMN transport TO relay;`);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await runStatements(db, `ALTER TABLE deliveries RENAME COLUMN relay TO transport;`);
}
