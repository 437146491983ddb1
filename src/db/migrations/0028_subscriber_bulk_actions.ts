import type { Kysely } from 'kysely';
import { runStatements } from '../run-statements.js';

/**
 * One row per bulk action an editor applied to a selection of subscribers (change sections,
 * suppress, export): who, what, how the selection was made (the filter or "n ticked rows"), and
 * the ids it touched, written in the same transaction as the change. Ids, never addresses.
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
  `,
  );
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await runStatements(db, 'DROP TABLE subscriber_bulk_actions;');
}
