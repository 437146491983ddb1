import type { Kysely } from 'kysely';
import { runStatements } from '../run-statements.js';

/** Indexes the delivery engine's hot queries use. */
export async function up(db: Kysely<unknown>): Promise<void> {
  await runStatements(
    db,
    `
    -- Resume scan: rows held by a lease, and whose lease is it.
    CREATE INDEX deliveries_leased_idx ON deliveries (lease_owner, lease_until) WHERE state IN ('claimed', 'sending');
    -- Retries that have come due.
    CREATE INDEX deliveries_deferred_idx ON deliveries (issue_id, next_attempt_at) WHERE state = 'deferred';
    `,
  );
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await runStatements(
    db,
    `DROP INDEX IF EXISTS deliveries_leased_idx; DROP INDEX IF EXISTS deliveries_deferred_idx;`,
  );
}
