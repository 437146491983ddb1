import type { Kysely } from 'kysely';
import { runStatements } from '../run-statements.js';

/**
 * Bounce policy (issue 14): how many soft-bounced issues in a row suppress a reader (per
 * publication); each suppression's evidence (the reason, the report's status and text, the event);
 * and an audit of suppressions lifted by an editor.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await runStatements(
    db,
    `
    ALTER TABLE publication
      ADD COLUMN soft_bounce_limit integer NOT NULL DEFAULT 3 CHECK (soft_bounce_limit BETWEEN 1 AND 50),
      ADD COLUMN soft_bounce_issues integer NOT NULL DEFAULT 3 CHECK (soft_bounce_issues BETWEEN 1 AND 50),
      ADD CONSTRAINT publication_soft_bounce_window CHECK (soft_bounce_limit <= soft_bounce_issues);

    ALTER TABLE suppressions DROP CONSTRAINT suppressions_reason_check;
    ALTER TABLE suppressions ADD CONSTRAINT suppressions_reason_check
      CHECK (reason IN ('hard_bounce', 'soft_bounce', 'complaint', 'manual', 'smtp_rejected'));
    ALTER TABLE suppressions
      ADD COLUMN bounce_reason text,
      ADD COLUMN evidence jsonb,
      ADD COLUMN event_id bigint REFERENCES events(id) ON DELETE SET NULL;

    CREATE TABLE suppression_audit (
      id bigserial PRIMARY KEY,
      kind text NOT NULL CHECK (kind IN ('address', 'domain')),
      value text NOT NULL,
      action text NOT NULL CHECK (action IN ('lift')),
      reason text NOT NULL,
      bounce_reason text,
      evidence jsonb,
      actor text NOT NULL,
      created_at timestamptz NOT NULL DEFAULT now()
    );
    CREATE INDEX suppression_audit_value_idx ON suppression_audit (value, id);
  `,
  );
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await runStatements(
    db,
    `
    DROP TABLE IF EXISTS suppression_audit;
    ALTER TABLE suppressions DROP COLUMN IF EXISTS event_id, DROP COLUMN IF EXISTS evidence,
      DROP COLUMN IF EXISTS bounce_reason;
    DELETE FROM suppressions WHERE reason = 'soft_bounce';
    ALTER TABLE suppressions DROP CONSTRAINT suppressions_reason_check;
    ALTER TABLE suppressions ADD CONSTRAINT suppressions_reason_check
      CHECK (reason IN ('hard_bounce', 'complaint', 'manual', 'smtp_rejected'));
    ALTER TABLE publication DROP CONSTRAINT IF EXISTS publication_soft_bounce_window,
      DROP COLUMN IF EXISTS soft_bounce_issues, DROP COLUMN IF EXISTS soft_bounce_limit;
  `,
  );
}
