import { type ChildProcess, spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { Queue } from 'bullmq';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/log.js';
import { QUEUES } from '../../src/queue/names.js';
import { createRedis } from '../../src/queue/redis.js';
import {
  getImport,
  importRefusals,
  queueImportRequests,
  REFUSALS_KEPT,
  storeImport,
} from '../../subscribers/api.js';
import { createImportWorker } from '../../workers/imports.js';
import { seedModelSections } from '../http/support.js';
import { createTestDatabase, type TestDatabase } from '../support/test-db.js';
import { testEnv } from '../support/test-env.js';
import { waitFor } from '../support/wait.js';

let tdb: TestDatabase;
const env = testEnv();
const connection = { url: env.REDIS_URL, prefix: env.QUEUE_PREFIX };
let queue: Queue;

beforeAll(async () => {
  tdb = await createTestDatabase();
  await seedModelSections(tdb.db);
  queue = new Queue(QUEUES.imports, { connection: createRedis(env.REDIS_URL), prefix: env.QUEUE_PREFIX });
});
afterAll(async () => {
  await queue?.close();
  await tdb?.drop();
});

/** `n` rows, every fifth without an @; the rest distinct good addresses. */
function generated(n: number, tag: string) {
  const lines = ['email,name'];
  let good = 0;
  for (let i = 0; i < n; i++) {
    if (i % 5 === 4) lines.push(`broken${i}.${tag}-at-example.com,x`);
    else {
      lines.push(`reader${i}.${tag}@example.com,读者${i}`);
      good++;
    }
  }
  return { chunks: [Buffer.from(`${lines.join('\n')}\n`)], good, bad: n - good };
}

const subscribersTagged = async (tag: string) =>
  Number(
    (
      await tdb.db
        .selectFrom('subscribers')
        .select((eb) => eb.fn.countAll<string>().as('n'))
        .where('email_normalized', 'like', `%.${tag}@example.com`)
        .executeTakeFirstOrThrow()
    ).n,
  );

describe('an import whose worker stops', () => {
  // A process start (tsx) is part of it; on a busy machine that alone can take tens of seconds.
  it('killed with SIGKILL in mid-file, is resumed by another worker: every row once, the counts exact', {
    timeout: 180_000,
  }, async () => {
    const rows = 100_000;
    const file = generated(rows, 'kill');
    const importId = await storeImport(
      tdb.db,
      { fileName: 'kill.csv', chunks: file.chunks, actor: null, maxRows: 1_000_000 },
      new Date(),
    );
    const child: ChildProcess = spawn(
      process.execPath,
      ['--import', 'tsx', resolve(import.meta.dirname, 'import-child-worker.ts')],
      {
        env: {
          ...process.env,
          NODE_ENV: 'test',
          LOG_LEVEL: 'silent',
          DATABASE_URL: tdb.url,
          TEST_SCHEMA: tdb.schema,
          REDIS_URL: env.REDIS_URL,
          QUEUE_PREFIX: env.QUEUE_PREFIX,
          SECRET_KEY: 'k'.repeat(40),
          IMPORT_BATCH: '500',
        },
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    await new Promise<void>((ok, fail) => {
      child.stdout?.on('data', (d: Buffer) => d.toString().includes('ready') && ok());
      child.once('exit', (code) => fail(new Error(`child exited ${code}`)));
    });
    await queueImportRequests(queue).request(importId);
    await waitFor(
      'the child to commit some batches',
      async () => ((await getImport(tdb.db, importId))?.recordsDone ?? 0) >= 5000,
      { timeoutMs: 60_000, intervalMs: 5 },
    );
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
    const atKill = await getImport(tdb.db, importId);
    expect(atKill?.state).toBe('running');
    expect(atKill?.recordsDone).toBeLessThan(rows);

    // Another worker: once the dead one's lock expires, BullMQ's stall check gives it the job.
    const worker = createImportWorker({
      db: tdb.db,
      log: silentLogger,
      now: () => new Date(),
      connection,
      batchSize: 500,
      lockDurationMs: 2000,
      stalledIntervalMs: 500,
    });
    try {
      const done = await waitFor(
        'the import to finish',
        async () => {
          const r = await getImport(tdb.db, importId);
          return r?.state === 'done' || r?.state === 'failed' ? r : null;
        },
        { timeoutMs: 90_000, intervalMs: 100 },
      );
      // Resumed, not restarted: a second pass over the first run's rows would count them as
      // "updated", and a batch committed twice would push the totals past the file.
      expect(done).toMatchObject({
        state: 'done',
        runs: 2,
        recordsDone: rows,
        added: file.good,
        updated: 0,
        skipped: 0,
        invalid: file.bad,
      });
      expect(await subscribersTagged('kill')).toBe(file.good);
      const refused = await importRefusals(tdb.db, importId, { limit: REFUSALS_KEPT + 1 });
      expect(refused).toHaveLength(Math.min(file.bad, REFUSALS_KEPT));
      expect(new Set(refused.map((r) => r.line)).size).toBe(refused.length);
      expect(
        await tdb.db
          .selectFrom('subscriber_import_chunks')
          .select('seq')
          .where('import_id', '=', importId)
          .execute(),
      ).toEqual([]);
    } finally {
      await worker.close();
    }
  });

  it('that fails on every attempt is marked failed with the reason, keeping the rows it stored', {
    timeout: 120_000,
  }, async () => {
    const file = generated(3000, 'broken');
    const importId = await storeImport(
      tdb.db,
      { fileName: 'broken.csv', chunks: file.chunks, actor: null, maxRows: 1_000_000 },
      new Date(),
    );
    // Refused rows cannot be stored from the second batch on (the first has none: rows 0–3 are
    // good and row 4 is the first bad one, so a batch of 4 commits): every attempt stops there.
    await sql`CREATE FUNCTION refuse_refusal() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN RAISE EXCEPTION 'the refusals table is refusing writes (test)'; END $$`.execute(tdb.db);
    await sql`CREATE TRIGGER refuse_refusal BEFORE INSERT ON subscriber_import_refusals
      FOR EACH ROW EXECUTE FUNCTION refuse_refusal()`.execute(tdb.db);
    const worker = createImportWorker({
      db: tdb.db,
      log: silentLogger,
      now: () => new Date(),
      connection,
      batchSize: 4,
    });
    try {
      await queueImportRequests(queue).request(importId);
      const failed = await waitFor(
        'the import to be marked failed',
        async () => {
          const r = await getImport(tdb.db, importId);
          return r?.state === 'failed' ? r : null;
        },
        { timeoutMs: 90_000, intervalMs: 100 },
      );
      expect(failed.failure?.problem?.code).toBe('import-job-failed');
      expect(failed.failure?.message).toContain('the refusals table is refusing writes (test)');
      // Three attempts, each resuming where the last committed batch ended.
      expect(failed.runs).toBe(3);
      expect(failed).toMatchObject({ recordsDone: 4, added: 4, invalid: 0 });
      expect(await subscribersTagged('broken')).toBe(4);
    } finally {
      await worker.close();
      await sql`DROP TRIGGER refuse_refusal ON subscriber_import_refusals`.execute(tdb.db);
    }
  });
});

describe('imports on several workers', () => {
  it('run one at a time across workers, in upload order, each page saying how many are ahead', {
    timeout: 120_000,
  }, async () => {
    const ids: number[] = [];
    for (const tag of ['first', 'second', 'third']) {
      const file = generated(20_000, tag);
      ids.push(
        await storeImport(
          tdb.db,
          { fileName: `${tag}.csv`, chunks: file.chunks, actor: null, maxRows: 1_000_000 },
          new Date(),
        ),
      );
    }
    expect(await Promise.all(ids.map(async (id) => (await getImport(tdb.db, id))?.ahead))).toEqual([0, 1, 2]);
    const requests = queueImportRequests(queue);
    for (const id of ids) await requests.request(id);
    // Two workers, as on two hosts: still only one import runs at any moment.
    const workers = [1, 2].map(() =>
      createImportWorker({
        db: tdb.db,
        log: silentLogger,
        now: () => new Date(),
        connection,
        batchSize: 500,
      }),
    );
    try {
      let most = 0;
      await waitFor(
        'every import to finish',
        async () => {
          const states = await Promise.all(ids.map(async (id) => (await getImport(tdb.db, id))?.state));
          most = Math.max(most, states.filter((s) => s === 'running').length);
          return states.every((s) => s === 'done');
        },
        { timeoutMs: 90_000, intervalMs: 10 },
      );
      expect(most).toBe(1);
      const [a, b, c] = await Promise.all(ids.map((id) => getImport(tdb.db, id)));
      // Each started only after the one uploaded before it had finished.
      expect((b?.startedAt as Date) >= (a?.finishedAt as Date)).toBe(true);
      expect((c?.startedAt as Date) >= (b?.finishedAt as Date)).toBe(true);
    } finally {
      await Promise.all(workers.map((w) => w.close()));
    }
  });
});
