import type { Kysely } from 'kysely';
import { runStatements } from '../run-statements.js';

/**
 * Lookups by subscriber (the editors' subscriber page, erasure) and the send rate that /metrics
 * reads at every scrape; without these each is a scan of the whole deliveries or events table.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await runStatements(
    db,
    `
    CREATE INDEX deliveries_subscriber_idx ON deliveries (subscriber_id, id);
    CREATE INDEX events_subscriber_idx ON events (subscriber_id, occurred_at) WHERE subscriber_id IS NOT NULL;
    CREATE INDEX deliveries_accepted_at_idx ON deliveries (accepted_at) WHERE accepted_at IS NOT NULL;
    `,
  );
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await runStatements(
    db,
    `
    DROP INDEX IF EXISTS deliveries_accepted_at_idx;
    DROP INDEX IF EXISTS events_subscriber_idx;
    DROP INDEX IF EXISTS deliveries_subscriber_idx;
    `,
  );
}
