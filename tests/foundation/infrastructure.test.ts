import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { sql } from 'kysely';
import { describe, expect, it } from 'vitest';
import { DatabaseLockedError, openDatabase } from '../../src/db/connect.js';
import { migrateToLatest } from '../../src/db/migrate.js';
import { assertRedisReachable, RedisUnavailableError } from '../../src/queue/redis.js';

const root = resolve(import.meta.dirname, '../..');

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
      const child = spawnSync(process.execPath, [join(root, 'bin/gazette.js'), 'migrate'], {
        cwd: root,
        env: { ...process.env, DATA_DIR: dataDir, DATABASE_URL: '', LOG_LEVEL: 'silent' },
        encoding: 'utf8',
        timeout: 60_000,
      });
      expect(child.status).toBe(2);
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
