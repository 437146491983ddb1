import { randomBytes } from 'node:crypto';
import { Migrator } from 'kysely';
import pg from 'pg';
import { openDatabase } from '../../src/db/connect.js';
import { migrations } from '../../src/db/migrations/index.js';
import { TEST_DATABASE_URL, type TestDatabase } from '../support/test-db.js';

/**
 * Like tests/support createTestDatabase, but the migrator is told its schema. Without
 * migrationTableSchema Kysely's migrator looks for its lock table in every schema, so a test
 * file migrating beside another one (or a leftover schema) fails with "kysely_migration_lock
 * does not exist". Kept here until src/db/migrate.ts passes the schema itself.
 */
export async function createIssuesTestDatabase(): Promise<TestDatabase> {
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
  const migrator = new Migrator({
    db: handle.db,
    provider: { getMigrations: async () => migrations },
    allowUnorderedMigrations: true,
    migrationTableSchema: schema,
  });
  const { error } = await migrator.migrateToLatest();
  if (error) {
    await handle.close();
    throw error;
  }
  return {
    db: handle.db,
    schema,
    url: TEST_DATABASE_URL,
    async drop() {
      await handle.close();
      const c = new pg.Client({ connectionString: TEST_DATABASE_URL });
      await c.connect();
      await c.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      await c.end();
    },
  };
}
