import type { Kysely } from 'kysely';
import { runStatements } from '../run-statements.js';

/**
 * How often a relay refused a row before its final outcome (deferred, throttled back to the queue,
 * relay resting) and the last reason, kept after acceptance so statistics can say "QQ throttled
 * 312, retried and accepted" instead of losing the refusals when the row succeeds.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await runStatements(
    db,
    `
    ALTER TABLE deliveries ADD COLUMN refusals integer NOT NULL DEFAULT 0 CHECK (refusals >= 0);
    ALTER TABLE deliveries ADD COLUMN last_refusal_reason text CHECK (length(last_refusal_reason) <= 100);
  `,
  );
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await runStatements(
    db,
    `ALTER TABLE deliveries DROP COLUMN last_refusal_reason;
     ALTER TABLE deliveries DROP COLUMN refusals;`,
  );
}
