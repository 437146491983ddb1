import type { Kysely } from 'kysely';
import { runStatements } from '../run-statements.js';

/**
 * An API key holds a role like a user (viewer, editor, admin), and the API allows it what the pages
 * allow that role. Keys made before this were all admin keys; they stay admin.
 * A subscriber row remembers when the subscribe form last mailed the address (a confirmation or an
 * "already subscribed" reminder), so signups from many clients send at most one mail per window.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await runStatements(
    db,
    `
    ALTER TABLE api_keys ADD COLUMN role text NOT NULL DEFAULT 'admin'
      CHECK (role IN ('viewer', 'editor', 'admin'));
    ALTER TABLE subscribers ADD COLUMN opt_in_mailed_at timestamptz;
  `,
  );
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await runStatements(
    db,
    'ALTER TABLE api_keys DROP COLUMN IF EXISTS role; ALTER TABLE subscribers DROP COLUMN IF EXISTS opt_in_mailed_at;',
  );
}
