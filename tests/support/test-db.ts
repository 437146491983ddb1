import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { openDatabase } from '../../src/db/connect.js';
import { migrateToLatest, SCHEMA_CHANGE_LOCK } from '../../src/db/migrate.js';
import type { Db } from '../../src/db/schema.js';

/** The machine's PostgreSQL (trust auth, database `test`); CI has the same. */
export const TEST_DATABASE_URL = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

export interface TestDatabase {
  db: Db;
  schema: string;
  url: string;
  drop(): Promise<void>;
}

/** A fresh, migrated PostgreSQL schema for one test file (up to `before` when given); drop() removes it. */
export async function createTestDatabase(opts: { before?: string } = {}): Promise<TestDatabase> {
  const schema = `t_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: TEST_DATABASE_URL });
  await admin.connect();
  await admin.query(`CREATE SCHEMA ${schema}`);
  await admin.end();
  const handle = await openDatabase({
    databaseUrl: TEST_DATABASE_URL,
    dataDir: '/nonexistent',
    schema,
    poolSize: 5,
  });
  await migrateToLatest(handle.db, { schema, exclusive: true, ...opts });
  return {
    db: handle.db,
    schema,
    url: TEST_DATABASE_URL,
    async drop() {
      await handle.close();
      const c = new pg.Client({ connectionString: TEST_DATABASE_URL });
      await c.connect();
      // Never while another file's migration reads the catalogue (see SCHEMA_CHANGE_LOCK).
      await c.query(`SELECT pg_advisory_lock(${SCHEMA_CHANGE_LOCK})`);
      await c.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      await c.query(`SELECT pg_advisory_unlock(${SCHEMA_CHANGE_LOCK})`);
      await c.end();
    },
  };
}
