import { type ChildProcess, spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { SMTPServer, type SMTPServerAddress } from 'smtp-server';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startSink } from '../../bench/_sinks.js';
import { waitForIssue } from '../../src/cli/wait-for-issue.js';
import { startIssueSend } from '../../src/delivery/control.js';
import { openSendQueue, type SendQueue } from '../../src/delivery/queue.js';
import { RelayRests } from '../../src/delivery/relay-rest.js';
import { WIRE_ROWS_PER_CONNECTION } from '../../src/delivery/send-worker.js';
import { createRedis } from '../../src/queue/redis.js';
import { createTestDatabase, type TestDatabase } from '../support/test-db.js';
import { testEnv } from '../support/test-env.js';
import { waitFor } from '../support/wait.js';
import {
  addSubscribers,
  createIssue,
  deps as makeDeps,
  renderable,
  seedSections,
  standInContent,
} from './support.js';

/**
 * Many worker processes, one relay: the budget and the rests they share live in Redis, so what
 * the relay sees is the sum over every process. Each worker is a process of its own
 * (child-worker.ts: two jobs at once), as on a real host.
 */
let tdb: TestDatabase;
let sectionIds: Map<string, number>;
let server: SMTPServer;
/** Every message the relay took: when its DATA ended, and its recipient. */
const taken: { at: number; to: string }[] = [];
/** When each MAIL FROM arrived (a message the relay was asked to start). */
const started: number[] = [];
/** Set by a test: answer the next MAIL FROM with this reply and clear it. */
let refuseNext: { code: number; text: string } | null = null;
let refusedAt = 0;
const children: ChildProcess[] = [];

beforeAll(async () => {
  tdb = await createTestDatabase();
  sectionIds = await seedSections(tdb.db);
  server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    logger: false,
    onMailFrom(_address: SMTPServerAddress, _session, callback) {
      const now = performance.timeOrigin + performance.now();
      if (refuseNext) {
        const err = Object.assign(new Error(refuseNext.text), { responseCode: refuseNext.code });
        refuseNext = null;
        refusedAt = now;
        return callback(err);
      }
      started.push(now);
      callback();
    },
    onData(stream, session, callback) {
      stream.on('data', () => {});
      stream.on('end', () => {
        taken.push({
          at: performance.timeOrigin + performance.now(),
          to: session.envelope.rcptTo[0]?.address ?? '',
        });
        callback(null, 'ok');
      });
    },
  });
  server.on('error', () => {});
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', () => ok()));
});

afterEach(async () => {
  await Promise.all(children.splice(0).map(stop));
  taken.length = 0;
  started.length = 0;
  await tdb.db.updateTable('subscribers').set({ status: 'unsubscribed' }).execute();
});

afterAll(async () => {
  await new Promise<void>((ok) => server.close(() => ok()));
  await tdb.drop();
});

function stop(child: ChildProcess): Promise<void> {
  return new Promise((ok) => {
    if (child.exitCode !== null || child.signalCode !== null) return ok();
    child.once('exit', () => ok());
    child.kill('SIGTERM');
  });
}

/** `k` worker processes on one queue prefix, sending to the test's relay unless `settings` name another. */
async function workers(k: number, prefix: string, settings: Record<string, string>): Promise<void> {
  const port = (server.server.address() as { port: number }).port;
  await Promise.all(
    Array.from({ length: k }, async () => {
      const child = spawn(process.execPath, ['--import', 'tsx', resolve(__dirname, 'child-worker.ts')], {
        env: {
          ...process.env,
          NODE_ENV: 'test',
          LOG_LEVEL: 'silent',
          DATABASE_URL: tdb.url,
          TEST_SCHEMA: tdb.schema,
          REDIS_URL: testEnv().REDIS_URL,
          QUEUE_PREFIX: prefix,
          SMTP_URL: `smtp://127.0.0.1:${port}`,
          SECRET_KEY: 'k'.repeat(40),
          ...settings,
        },
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      children.push(child);
      await new Promise<void>((ok, fail) => {
        child.stdout?.on('data', (d: Buffer) => d.toString().includes('ready') && ok());
        child.once('exit', (code) => fail(new Error(`worker exited ${code}`)));
      });
    }),
  );
}

async function audience(n: number, tag: string): Promise<number> {
  await addSubscribers(
    tdb.db,
    sectionIds,
    Array.from({ length: n }, (_, i) => ({ email: `reader${i}.${tag}@example.test` })),
  );
  return createIssue(tdb.db);
}

describe('three worker processes and one relay limited to 100 messages a second', () => {
  it('hand the relay at most 105 messages in any one second, summed over the workers, and every message once', {
    timeout: 180_000,
  }, async () => {
    // The relay in a process of its own, as a real one is: its clock is not held up by this test's.
    const relay = await startSink('node');
    const env = testEnv({ SEND_CONCURRENCY: '20', SEND_BATCH_SIZE: '50' });
    const n = 450;
    const issueId = await audience(n, 'budget');
    await workers(3, env.QUEUE_PREFIX, {
      SMTP_URL: `${relay.urls[0]}#perSecond=100`,
      SEND_CONCURRENCY: '20',
      SEND_BATCH_SIZE: '50',
      SMTP_POOL_CONNECTIONS: '5',
    });
    const base = makeDeps(
      tdb.db,
      env,
      standInContent((id) => renderable(id)),
    );
    const queue: SendQueue = openSendQueue({ url: env.REDIS_URL, prefix: env.QUEUE_PREFIX });
    try {
      await startIssueSend({ ...base, queue }, issueId);
      const { state, stats } = await waitForIssue(base, issueId, { timeoutMs: 150_000, intervalMs: 100 });
      expect(state).toBe('sent');
      expect(stats.byState).toMatchObject({ accepted: n, unknown: 0, failed: 0 });
      const seen = await relay.count();
      expect(seen).toMatchObject({ messages: n, duplicates: 0 });
      expect(seen?.busiestSecond).toBeLessThanOrEqual(105);
      // Unlimited, the same workers hand over hundreds a second: the limit is what held them.
      expect(seen?.busiestSecond).toBeGreaterThanOrEqual(80);
    } finally {
      await queue.close();
      await relay.stop();
    }
  });
});

describe('three worker processes and a relay that answers 421', () => {
  it('all rest when one of them is refused: until the rest ends the relay sees at most the chunks already on their way', {
    timeout: 180_000,
  }, async () => {
    const env = testEnv({ SEND_CONCURRENCY: '5', SEND_BATCH_SIZE: '25' });
    const n = 600;
    const issueId = await audience(n, 'rest');
    await workers(3, env.QUEUE_PREFIX, {
      SEND_CONCURRENCY: '5',
      SEND_BATCH_SIZE: '25',
      SMTP_POOL_CONNECTIONS: '2',
      SEND_RELAY_REST_MS: '3000',
      SEND_RELAY_REST_MAX_MS: '3000',
    });
    const base = makeDeps(
      tdb.db,
      env,
      standInContent((id) => renderable(id)),
    );
    const queue: SendQueue = openSendQueue({ url: env.REDIS_URL, prefix: env.QUEUE_PREFIX });
    const redis = createRedis(env.REDIS_URL);
    try {
      await startIssueSend({ ...base, queue }, issueId);
      await waitFor('the three workers to be sending', () => taken.length >= 60, { timeoutMs: 60_000 });
      refuseNext = { code: 421, text: '4.7.0 Too many messages, slow down' };
      const port = (server.server.address() as { port: number }).port;
      const rest = await waitFor(
        'the rest to be recorded in Redis',
        () => new RelayRests(redis, env.QUEUE_PREFIX).state(`127.0.0.1:${port}`),
        { timeoutMs: 30_000 },
      );
      const { state, stats } = await waitForIssue(base, issueId, { timeoutMs: 150_000, intervalMs: 100 });
      expect(state).toBe('sent');
      expect(stats.byState).toMatchObject({ accepted: n, unknown: 0, failed: 0 });
      expect(new Set(taken.map((t) => t.to)).size).toBe(n);
      // Between the refusal and the end of the rest (Redis's word for it), messages the workers
      // began after the refusal: only those already past the rest check on a connection when the
      // news came (two rows per connection at most: 3 workers × 2 connections × 2), never the
      // rest's worth (the relay takes hundreds a second here).
      const during = started.filter((t) => t > refusedAt && t < rest.until).length;
      expect(during).toBeLessThanOrEqual(3 * 2 * WIRE_ROWS_PER_CONNECTION);
      // And sending did resume after the rest: the remaining rows went out.
      expect(started.filter((t) => t >= rest.until).length).toBeGreaterThan(0);
    } finally {
      redis.disconnect();
      await queue.close();
    }
  });
});
