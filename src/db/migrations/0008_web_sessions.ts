import type { Kysely } from 'kysely';
import { runStatements } from '../run-statements.js';

/**
 * The editors' web app: accounts can be disabled (never deleted, so the audit log keeps its
 * names), addresses are unique whatever their case, and signed-in sessions live in the database
 * so any web process can serve any request. Only a hash of the session token is stored.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await runStatements(
    db,
    `
    ALTER TABLE users ADD COLUMN disabled_at timestamptz;
    ALTER TABLE users ADD COLUMN last_sign_in_at timestamptz;
    ALTER TABLE users ALTER COLUMN locale DROP NOT NULL;
    ALTER TABLE users ALTER COLUMN locale DROP DEFAULT;
    CREATE UNIQUE INDEX users_email_lower_idx ON users (lower(email));

    CREATE TABLE user_sessions (
      id text PRIMARY KEY,
      user_id integer NOT NULL REFERENCES users(id) ON DELETE CASCADE,
      created_at timestamptz NOT NULL DEFAULT now(),
      last_seen_at timestamptz NOT NULL DEFAULT now(),
      expires_at timestamptz NOT NULL,
      CHECK (expires_at > created_at)
    );
    CREATE INDEX user_sessions_user_idx ON user_sessions (user_id);
    CREATE INDEX user_sessions_expiry_idx ON user_sessions (expires_at);
  `,
  );
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await runStatements(
    db,
    `
    DROP TABLE IF EXISTS user_sessions;
    DROP INDEX IF EXISTS users_email_lower_idx;
    UPDATE users SET locale = 'zh-CN' WHERE locale IS NULL;
    ALTER TABLE users ALTER COLUMN locale SET DEFAULT 'zh-CN';
    ALTER TABLE users ALTER COLUMN locale SET NOT NULL;
    ALTER TABLE users DROP COLUMN last_sign_in_at;
    ALTER TABLE users DROP COLUMN disabled_at;
  `,
  );
}
