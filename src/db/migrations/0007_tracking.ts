import type { Kysely } from 'kysely';
import { runStatements } from '../run-statements.js';

/**
 * Tracking: a per-link click counter (every click counts, even repeats) and the indexes the
 * statistics queries and first-open/first-click dedupe need. First events are deduplicated by
 * events.dedupe_key (UNIQUE since 0001): `open:<delivery>`, `click:<delivery>:<link>`, …
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await runStatements(
    db,
    `
    ALTER TABLE issue_links ADD COLUMN click_count integer NOT NULL DEFAULT 0;
    ALTER TABLE issue_links ADD COLUMN created_at timestamptz NOT NULL DEFAULT now();
    CREATE INDEX events_delivery_type_idx ON events (delivery_id, type);
    CREATE INDEX events_issue_time_idx ON events (issue_id, occurred_at);
    CREATE INDEX events_link_idx ON events (link_id) WHERE link_id IS NOT NULL;
    CREATE INDEX deliveries_message_id_idx ON deliveries (message_id) WHERE message_id IS NOT NULL;
  `,
  );
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await runStatements(
    db,
    `
    DROP INDEX IF EXISTS deliveries_message_id_idx;
    DROP INDEX IF EXISTS events_link_idx;
    DROP INDEX IF EXISTS events_issue_time_idx;
    DROP INDEX IF EXISTS events_delivery_type_idx;
    ALTER TABLE issue_links DROP COLUMN created_at;
    ALTER TABLE issue_links DROP COLUMN click_count;
  `,
  );
}
