import type { Kysely } from 'kysely';
import { runStatements } from '../run-statements.js';

/**
 * An API key holds a role like a user (viewer, editor, admin), and the API allows it what the pages
 * allow that role. Keys made before this were all admin keys; they stay admin.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await runStatements(
    db,
    `
    ALTER TABLE api_keys ADD COLUMN role text NOT NULL DEFAULT 'admin'
      CHECK (role IN ('viewer', 'editor', 'admin'));
  `,
  );
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await runStatements(db, 'ALTER TABLE api_keys DROP COLUMN IF EXISTS role;');
}
