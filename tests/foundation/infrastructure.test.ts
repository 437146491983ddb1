import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'kysely';
import { describe, expect, it } from 'vitest';
import { DatabaseLockedError, openDatabase } from '../../src/db/connect.js';
import { migrateToLatest } from '../../src/db/migrate.js';
import { assertRedisReachable, RedisUnavailableError } from '../../src/queue/redis.js';
import { runBin } from '../support/cli.js';
import { waitFor } from '../support/wait.js';

describe('Redis', () => {
  it('explains how to start Redis when none answers', async () => {
    const error = await assertRedisReachable('redis://127.0.0.1:1', 1000).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RedisUnavailableError);
    expect((error as Error).message).toContain('redis://127.0.0.1:1');
    expect((error as Error).message).toContain('redis-server');
    expect((error as Error).message).toContain('docker compose up -d redis');
  });

  it('accepts the machine Redis', async () => {
    await expect(assertRedisReachable('redis://127.0.0.1:6379')).resolves.toBeUndefined();
  });
});

// PGlite boots a WebAssembly PostgreSQL: seconds on an idle machine, much longer on a loaded one.
describe('embedded PGlite', { timeout: 120_000 }, () => {
  it('runs the same migrations and enforces the ledger constraints', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'gazette-pglite-'));
    const handle = await openDatabase({ dataDir });
    try {
      expect(handle.kind).toBe('pglite');
      expect(await migrateToLatest(handle.db)).toContain('0001_initial');
      const { db } = handle;
      const [issue] = await db
        .insertInto('issues')
        .values({ period: '2025-07', title: 'T' })
        .returning('id')
        .execute();
      const [sub] = await db
        .insertInto('subscribers')
        .values({ email: 'a@example.com', email_normalized: 'a@example.com', consent_source: 'editor' })
        .returning('id')
        .execute();
      const row = { issue_id: issue!.id, subscriber_id: sub!.id };
      await db.insertInto('deliveries').values(row).execute();
      await expect(db.insertInto('deliveries').values(row).execute()).rejects.toThrow(/unique|duplicate/i);
      await expect(
        sql`UPDATE deliveries SET state = 'delivered' WHERE issue_id = ${issue!.id}`.execute(db),
      ).rejects.toThrow(/check constraint/i);
    } finally {
      await handle.close();
    }
  });

  it('refuses a second process and points to DATABASE_URL', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'gazette-pglite-'));
    const handle = await openDatabase({ dataDir });
    try {
      // The bin itself, a second process: the lock is per process.
      const child = await runBin(['migrate'], {
        env: { ...process.env, DATA_DIR: dataDir, DATABASE_URL: '', LOG_LEVEL: 'silent' },
      });
      expect(child.code).toBe(2);
      expect(child.stderr).toContain(`in use by process ${process.pid}`);
      expect(child.stderr).toContain('DATABASE_URL');
      // The same process opening it twice is refused too, rather than corrupting it.
      await expect(openDatabase({ dataDir })).rejects.toBeInstanceOf(DatabaseLockedError);
    } finally {
      await handle.close();
    }
    // Once released, it opens again.
    const again = await openDatabase({ dataDir });
    await again.close();
  });
});

describe('PostgreSQL schema changes', () => {
  it('holds the schema-change lock for a whole migration run, so a schema drop waits for it', async () => {
    const { TEST_DATABASE_URL } = await import('../support/test-db.js');
    const { SCHEMA_CHANGE_LOCK } = await import('../../src/db/migrate.js');
    const schema = `t_lock_${Date.now().toString(36)}`;
    const pg = (await import('pg')).default;
    const admin = new pg.Client({ connectionString: TEST_DATABASE_URL });
    await admin.connect();
    await admin.query(`CREATE SCHEMA ${schema}`);
    const handle = await openDatabase({
      databaseUrl: TEST_DATABASE_URL,
      dataDir: '/nonexistent',
      schema,
      poolSize: 3,
    });
    try {
      // While another session holds the lock, an exclusive migration cannot start.
      await admin.query(`SELECT pg_advisory_lock(${SCHEMA_CHANGE_LOCK})`);
      let finished = false;
      const run = migrateToLatest(handle.db, { schema, exclusive: true }).then((applied) => {
        finished = true;
        return applied;
      });
      // It has reached the lock and waits behind this session (or behind it with other files').
      const { rows: me } = await admin.query('SELECT pg_backend_pid() AS pid');
      await waitFor('a migration waiting for the schema-change lock', async () => {
        const { rows } = await admin.query(
          'SELECT count(*)::int AS n FROM pg_stat_activity WHERE $1 = ANY(pg_blocking_pids(pid))',
          [me[0].pid],
        );
        return rows[0].n > 0;
      });
      expect(finished).toBe(false);
      await admin.query(`SELECT pg_advisory_unlock(${SCHEMA_CHANGE_LOCK})`);
      expect(await run).toContain('0001_initial');
      // And the lock is released afterwards, though the migrator's pooled connection stays open:
      // this session can take it. Other test files migrate side by side and hold it briefly, so
      // wait in the queue (bounded) rather than try once; a lock never released times out here.
      await admin.query(`SET lock_timeout = '20s'`);
      await admin.query(`SELECT pg_advisory_lock(${SCHEMA_CHANGE_LOCK})`);
      const { rows } = await admin.query(`SELECT pg_advisory_unlock(${SCHEMA_CHANGE_LOCK}) AS released`);
      expect(rows[0].released).toBe(true);
    } finally {
      await handle.close();
      await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      await admin.end();
    }
  });
});
