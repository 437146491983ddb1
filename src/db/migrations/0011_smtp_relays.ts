import type { Kysely } from 'kysely';
import { runStatements } from '../run-statements.js';

/**
 * SMTP relays an admin manages from the web app. When any is enabled they replace SMTP_URL, and
 * running send workers pick a change up at their next job. Passwords are stored encrypted
 * (AES-256-GCM under a key derived from SECRET_KEY); names are what deliveries.transport (now .relay, 0022) records
 * and what the rate limiter counts against, so they are unique.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await runStatements(
    db,
    `
    CREATE TABLE smtp_relays (
      id serial PRIMARY KEY,
      name text NOT NULL UNIQUE CHECK (name ~ '^[A-Za-z0-9][A-Za-z0-9._:-]{0,62}$'),
      host text NOT NULL CHECK (length(host) BETWEEN 1 AND 253),
      port integer NOT NULL CHECK (port BETWEEN 1 AND 65535),
      security text NOT NULL CHECK (security IN ('starttls', 'tls')),
      username text,
      password_encrypted text,
      weight integer NOT NULL DEFAULT 1 CHECK (weight >= 0),
      per_second integer NOT NULL DEFAULT 0 CHECK (per_second >= 0),
      per_hour integer NOT NULL DEFAULT 0 CHECK (per_hour >= 0),
      enabled boolean NOT NULL DEFAULT true,
      created_at timestamptz NOT NULL DEFAULT now(),
      updated_at timestamptz NOT NULL DEFAULT now(),
      CHECK ((username IS NULL) = (password_encrypted IS NULL))
    );
  `,
  );
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await runStatements(db, 'DROP TABLE IF EXISTS smtp_relays;');
}
