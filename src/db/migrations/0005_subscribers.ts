import { type Kysely, sql } from 'kysely';
import { runStatements } from '../run-statements.js';

/**
 * Admin API keys (only a SHA-256 of each key is stored) and the lookups the subscriber domain
 * needs: suppression checks by domain and erased-hash checks during imports.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await runStatements(
    db,
    `
    CREATE TABLE api_keys (
      id serial PRIMARY KEY,
      name text NOT NULL,
      key_hash text NOT NULL UNIQUE,
      created_at timestamptz NOT NULL DEFAULT now(),
      last_used_at timestamptz,
      revoked_at timestamptz
    );
    CREATE INDEX subscribers_domain_idx ON subscribers ((split_part(email_normalized, '@', 2)));
  `,
  );
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`DROP INDEX IF EXISTS subscribers_domain_idx`.execute(db);
  await sql`DROP TABLE IF EXISTS api_keys`.execute(db);
}
