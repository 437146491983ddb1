import { type Kysely, sql } from 'kysely';
import { runStatements } from '../run-statements.js';

/**
 * Editorial workflow. An editor who removes an assembled item from a draft must not see it come
 * back when the draft is assembled again, so removals are remembered per issue.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await runStatements(
    db,
    `
    CREATE TABLE issue_item_exclusions (
      issue_id integer NOT NULL REFERENCES issues(id) ON DELETE CASCADE,
      item_id integer NOT NULL REFERENCES items(id) ON DELETE CASCADE,
      excluded_by text NOT NULL,
      excluded_at timestamptz NOT NULL DEFAULT now(),
      PRIMARY KEY (issue_id, item_id)
    );
    CREATE INDEX issues_period_idx ON issues (period_kind, period);
  `,
  );
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`DROP TABLE IF EXISTS issue_item_exclusions`.execute(db);
  await sql`DROP INDEX IF EXISTS issues_period_idx`.execute(db);
}
