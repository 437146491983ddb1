import { type ChildProcess, spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { SMTPServer } from 'smtp-server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startIssueSend, waitForIssue } from '../../src/delivery/control.js';
import { issueStats } from '../../src/delivery/ledger.js';
import { openSendQueue } from '../../src/delivery/queue.js';
import { createSendWorker, WIRE_GROUPS } from '../../src/delivery/send-worker.js';
import { createTestDatabase, type TestDatabase } from '../support/test-db.js';
import { testEnv } from '../support/test-env.js';
import { staysTrue, waitFor } from '../support/wait.js';
import {
  addSubscribers,
  createIssue,
  deps as makeDeps,
  renderable,
  seedSections,
  standInContent,
} from './support.js';

let tdb: TestDatabase;
let server: SMTPServer;
let sectionIds: Map<string, number>;
const received: string[] = [];
/** Messages the relay has read but not yet answered (its 15 ms latency). */
let answering = 0;

beforeAll(async () => {
  tdb = await createTestDatabase();
  sectionIds = await seedSections(tdb.db);
  // A relay that takes 15 ms per message, so a kill lands while messages are on the wire.
  server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    logger: false,
    onData(stream, session, callback) {
      stream.on('data', () => {});
      stream.on('end', () => {
        answering++;
        setTimeout(() => {
          received.push(session.envelope.rcptTo[0]?.address ?? '');
          answering--;
          callback(null, 'ok');
        }, 15);
      });
    },
  });
  server.on('error', () => {}); // the killed worker's sockets reset; that is the point of the test
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', () => ok()));
});

afterAll(async () => {
  await new Promise<void>((ok) => server.close(() => ok()));
  await tdb.drop();
});

describe('a send worker that stops in mid-send', () => {
  // A process start (tsx) is part of it; on a busy machine that alone can take tens of seconds.
  it('killed with SIGKILL, leaves every row final or unknown after a restart, and nobody receives two messages', {
    timeout: 120_000,
  }, async () => {
    const port = (server.server.address() as { port: number }).port;
    const env = testEnv({
      SMTP_URL: `smtp://127.0.0.1:${port}`,
      SEND_CONCURRENCY: '10',
      SEND_BATCH_SIZE: '50',
      SEND_LEASE_SECONDS: '60',
    });
    const issueId = await createIssue(tdb.db);
    const n = 300;
    await addSubscribers(
      tdb.db,
      sectionIds,
      Array.from({ length: n }, (_, i) => ({ email: `reader${i}.kill@example.test` })),
    );
    const base = makeDeps(
      tdb.db,
      env,
      standInContent((id) => renderable(id)),
    );
    const connection = { url: env.REDIS_URL, prefix: env.QUEUE_PREFIX };
    const queue = openSendQueue(connection);

    const child: ChildProcess = spawn(
      process.execPath,
      ['--import', 'tsx', resolve(__dirname, 'child-worker.ts')],
      {
        env: {
          ...process.env,
          NODE_ENV: 'test',
          LOG_LEVEL: 'silent',
          DATABASE_URL: tdb.url,
          TEST_SCHEMA: tdb.schema,
          REDIS_URL: env.REDIS_URL,
          QUEUE_PREFIX: env.QUEUE_PREFIX,
          SMTP_URL: `smtp://127.0.0.1:${port}`,
          // Two jobs at once (child-worker.ts), chunks of 10, groups of 5 (one per connection).
          SEND_CONCURRENCY: '10',
          SMTP_POOL_CONNECTIONS: '5',
          SEND_BATCH_SIZE: '50',
          SEND_LEASE_SECONDS: '60',
          SECRET_KEY: 'k'.repeat(40),
        },
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    await new Promise<void>((ok, fail) => {
      child.stdout?.on('data', (d: Buffer) => d.toString().includes('ready') && ok());
      child.once('exit', (code) => fail(new Error(`child exited ${code}`)));
    });
    await startIssueSend({ ...base, queue }, issueId);
    await waitFor('30 accepted', async () => (await issueStats(tdb.db, issueId)).byState.accepted >= 30, {
      timeoutMs: 60_000,
      intervalMs: 5,
    });
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
    const atKill = await issueStats(tdb.db, issueId);
    expect(atKill.byState.accepted).toBeLessThan(n);

    const restarted = await createSendWorker({ ...base, connection, scanIntervalMs: 0 });
    try {
      const { state, stats } = await waitForIssue(base, issueId, { timeoutMs: 40_000, intervalMs: 100 });
      expect(state).toBe('sent');
      expect(stats.byState.accepted + stats.byState.unknown).toBe(n);
      // Unknown is at most what may have reached the relay at the kill: the wire window of
      // WIRE_GROUPS groups of 5 rows, not the two jobs' chunks of 10 nor a batch of 50.
      expect(stats.byState.unknown).toBeLessThanOrEqual(5 * WIRE_GROUPS);
      // The killed worker's jobs are only re-run after BullMQ's stall check; the ledger says sent,
      // so what can still arrive is what the relay was reading when the worker died.
      await waitFor('the relay to answer what it read', () => answering === 0);
      await staysTrue('nobody received two messages', () => new Set(received).size === received.length);
      expect(received.length).toBeGreaterThanOrEqual(stats.byState.accepted);
      expect(received.length).toBeLessThanOrEqual(n);
    } finally {
      await restarted.close();
      await queue.close();
    }
  });

  it('holds no more rows in sending than the wire window, whatever the chunk size and job count', async () => {
    const port = (server.server.address() as { port: number }).port;
    const env = testEnv({ SEND_CONCURRENCY: '50', SMTP_POOL_CONNECTIONS: '3', SEND_BATCH_SIZE: '20' });
    const issueId = await createIssue(tdb.db);
    await tdb.db.updateTable('subscribers').set({ status: 'unsubscribed' }).execute();
    const n = 120;
    await addSubscribers(
      tdb.db,
      sectionIds,
      Array.from({ length: n }, (_, i) => ({ email: `reader${i}.window@example.test` })),
    );
    const base = makeDeps(
      tdb.db,
      env,
      standInContent((id) => renderable(id)),
    );
    const w = await createSendWorker({
      ...base,
      connection: { url: env.REDIS_URL, prefix: env.QUEUE_PREFIX },
      transports: [`smtp://127.0.0.1:${port}`],
      concurrency: 4,
      scanIntervalMs: 0,
    });
    try {
      expect(w.wireWindowRows).toBe(3 * WIRE_GROUPS);
      await startIssueSend({ ...base, queue: w.queue }, issueId);
      // Sample the ledger while four jobs (ranges of 20, each claimed whole) work the slow relay.
      let most = 0;
      let state = 'sending';
      while (state === 'sending') {
        const s = await issueStats(tdb.db, issueId);
        most = Math.max(most, s.byState.sending);
        const row = await tdb.db
          .selectFrom('issues')
          .select('state')
          .where('id', '=', issueId)
          .executeTakeFirst();
        state = row?.state ?? 'gone';
      }
      expect(state).toBe('sent');
      expect(most).toBeGreaterThan(0);
      expect(most).toBeLessThanOrEqual(w.wireWindowRows);
      expect((await issueStats(tdb.db, issueId)).byState.accepted).toBe(n);
    } finally {
      await w.close();
    }
  });

  it('on graceful stop finishes what is on the wire, releases claimed rows, and another worker carries on', async () => {
    const port = (server.server.address() as { port: number }).port;
    const env = testEnv({ SEND_CONCURRENCY: '10', SEND_BATCH_SIZE: '100', SEND_LEASE_SECONDS: '60' });
    const issueId = await createIssue(tdb.db);
    await tdb.db.updateTable('subscribers').set({ status: 'unsubscribed' }).execute();
    const n = 200;
    await addSubscribers(
      tdb.db,
      sectionIds,
      Array.from({ length: n }, (_, i) => ({ email: `reader${i}.term@example.test` })),
    );
    const base = makeDeps(
      tdb.db,
      env,
      standInContent((id) => renderable(id)),
    );
    const connection = { url: env.REDIS_URL, prefix: env.QUEUE_PREFIX };
    const first = await createSendWorker({
      ...base,
      connection,
      transports: [`smtp://127.0.0.1:${port}`],
      scanIntervalMs: 0,
    });
    await startIssueSend({ ...base, queue: first.queue }, issueId);
    await waitFor('20 accepted', async () => (await issueStats(tdb.db, issueId)).byState.accepted >= 20, {
      intervalMs: 5,
    });
    await first.close();
    const stopped = await issueStats(tdb.db, issueId);
    expect(stopped.byState.claimed + stopped.byState.sending + stopped.byState.unknown).toBe(0);
    expect(stopped.byState.accepted).toBeLessThan(n);
    const held = await tdb.db
      .selectFrom('deliveries')
      .select('id')
      .where('lease_owner', '=', first.owner)
      .execute();
    expect(held).toHaveLength(0);

    const second = await createSendWorker({
      ...base,
      connection,
      transports: [`smtp://127.0.0.1:${port}`],
      scanIntervalMs: 0,
    });
    try {
      const { state, stats } = await waitForIssue(base, issueId, { timeoutMs: 40_000, intervalMs: 100 });
      expect(state).toBe('sent');
      expect(stats.byState.accepted).toBe(n);
      const mine = received.filter((r) => r.endsWith('.term@example.test'));
      expect(new Set(mine).size).toBe(n);
      expect(mine).toHaveLength(n);
    } finally {
      await second.close();
    }
  });
});
