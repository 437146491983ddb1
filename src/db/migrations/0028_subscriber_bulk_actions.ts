import type { Kysely } from 'kysely';
import { runStatements } from '../run-statements.js';

/**
 * One row per bulk action an editor applied to a selection of subscribers (change sections,
 * suppress, export): who, what, how the selection was made (the filter or "n ticked rows"), and
 * the ids it touched, written in the same transaction as the change. Ids, never addresses.
 * With the indexes the list's sort orders page through.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await runStatements(
    db,
    `
    CREATE TABLE subscriber_bulk_actions (
      id bigserial PRIMARY KEY,
      actor text NOT NULL CHECK (length(actor) <= 300),
      action text NOT NULL CHECK (action IN ('sections-add', 'sections-remove', 'sections-set', 'suppress', 'export')),
      params jsonb NOT NULL DEFAULT '{}'::jsonb,
      selection jsonb NOT NULL,
      affected integer NOT NULL CHECK (affected >= 0),
      subscriber_ids bigint[] NOT NULL,
      at timestamptz NOT NULL DEFAULT now()
    );
    CREATE INDEX subscriber_bulk_actions_at ON subscriber_bulk_actions (at DESC);
    -- The list's sort orders (subscribers/store.ts sortExpression), each with id for the keyset.
    CREATE INDEX subscribers_sort_name ON subscribers ((coalesce(name, '')), id);
    CREATE INDEX subscribers_sort_created ON subscribers (created_at, id);
    CREATE INDEX subscribers_sort_status ON subscribers ((CASE status WHEN 'pending' THEN 0 WHEN 'active' THEN 1 WHEN 'unsubscribed' THEN 2 WHEN 'bounced' THEN 3 WHEN 'complained' THEN 4 END), id);
    CREATE INDEX subscribers_sort_email ON subscribers (email_normalized, id);
  `,
  );
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await runStatements(
    db,
    `DROP INDEX subscribers_sort_email; DROP INDEX subscribers_sort_status; DROP INDEX subscribers_sort_created;
     DROP INDEX subscribers_sort_name; DROP TABLE subscriber_bulk_actions;`,
  );
}
