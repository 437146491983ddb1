import { type ChildProcess, spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startIssueSend } from '../../src/delivery/control.js';
import { issueStats } from '../../src/delivery/ledger.js';
import { openSendQueue } from '../../src/delivery/queue.js';
import { WIRE_ROWS_PER_CONNECTION } from '../../src/delivery/send-worker.js';
import { type FaultSmtp, startFaultSmtp } from '../support/fault-smtp.js';
import { testEnv } from '../support/test-env.js';
import { staysTrue, waitFor } from '../support/wait.js';
import { deliveryHarness, emails } from './harness.js';
import { addSubscribers, createIssue } from './support.js';

const h = deliveryHarness();
/** A relay that takes 15 ms per message, so a kill lands while messages are on the wire. */
let relay: FaultSmtp;
beforeAll(async () => {
  relay = await startFaultSmtp({ delayMs: 15 });
});
afterAll(() => relay.close());

describe('a send worker that stops in mid-send', () => {
  // A process start (tsx) is part of it; on a busy machine that alone can take tens of seconds.
  it('killed with SIGKILL, leaves every row final or unknown after a restart, and nobody receives two messages', {
    timeout: 120_000,
  }, async () => {
    const env = testEnv({
      SMTP_URL: relay.url,
      SEND_CONCURRENCY: '10',
      SEND_BATCH_SIZE: '50',
      SEND_LEASE_SECONDS: '60',
    });
    const issueId = await createIssue(h.tdb.db);
    const n = 300;
    await addSubscribers(h.tdb.db, h.sectionIds, emails(n, 'kill'));
    const base = { ...h.base, env };
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
          DATABASE_URL: h.tdb.url,
          TEST_SCHEMA: h.tdb.schema,
          REDIS_URL: env.REDIS_URL,
          QUEUE_PREFIX: env.QUEUE_PREFIX,
          SMTP_URL: relay.url,
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
    await waitFor('30 accepted', async () => (await issueStats(h.tdb.db, issueId)).byState.accepted >= 30, {
      timeoutMs: 60_000,
      intervalMs: 5,
    });
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
    const atKill = await issueStats(h.tdb.db, issueId);
    expect(atKill.byState.accepted).toBeLessThan(n);

    const restarted = await h.worker(relay.url, { env, connection });
    try {
      const { state, stats } = await h.settled(issueId, 40_000);
      expect(state).toBe('sent');
      expect(stats.byState.accepted + stats.byState.unknown).toBe(n);
      // Unknown is at most what may have reached the relay at the kill: the wire window of
      // two rows per connection of the 5, not the two jobs' chunks of 10 nor a batch of 50.
      expect(stats.byState.unknown).toBeLessThanOrEqual(5 * WIRE_ROWS_PER_CONNECTION);
      // The killed worker's jobs are only re-run after BullMQ's stall check; the ledger says sent,
      // so what can still arrive is what the relay was reading when the worker died.
      await waitFor('the relay to answer what it read', () => relay.answering === 0);
      await staysTrue(
        'nobody received two messages',
        () => new Set(relay.received).size === relay.received.length,
      );
      expect(relay.received.length).toBeGreaterThanOrEqual(stats.byState.accepted);
      expect(relay.received.length).toBeLessThanOrEqual(n);
    } finally {
      await restarted.close();
      await queue.close();
    }
  });

  it('holds no more rows in sending than the wire window, whatever the chunk size and job count', async () => {
    const env = testEnv({ SEND_CONCURRENCY: '50', SMTP_POOL_CONNECTIONS: '3', SEND_BATCH_SIZE: '20' });
    const issueId = await createIssue(h.tdb.db);
    const n = 120;
    await addSubscribers(h.tdb.db, h.sectionIds, emails(n, 'window'));
    const base = { ...h.base, env };
    const w = await h.worker(relay.url, { env, concurrency: 4 });
    try {
      expect(w.wireWindowRows(3)).toBe(3 * WIRE_ROWS_PER_CONNECTION);
      await startIssueSend({ ...base, queue: w.queue }, issueId);
      // Sample the ledger while four jobs (ranges of 20, each claimed whole) work the slow relay.
      let most = 0;
      let state = 'sending';
      while (state === 'sending') {
        const s = await issueStats(h.tdb.db, issueId);
        most = Math.max(most, s.byState.sending);
        const row = await h.tdb.db
          .selectFrom('issues')
          .select('state')
          .where('id', '=', issueId)
          .executeTakeFirst();
        state = row?.state ?? 'gone';
      }
      expect(state).toBe('sent');
      expect(most).toBeGreaterThan(0);
      expect(most).toBeLessThanOrEqual(w.wireWindowRows(3));
      expect((await issueStats(h.tdb.db, issueId)).byState.accepted).toBe(n);
    } finally {
      await w.close();
    }
  });

  it('on graceful stop finishes what is on the wire, releases claimed rows, and another worker carries on', async () => {
    const env = testEnv({ SEND_CONCURRENCY: '10', SEND_BATCH_SIZE: '100', SEND_LEASE_SECONDS: '60' });
    const issueId = await createIssue(h.tdb.db);
    const n = 200;
    await addSubscribers(h.tdb.db, h.sectionIds, emails(n, 'term'));
    const base = { ...h.base, env };
    const connection = { url: env.REDIS_URL, prefix: env.QUEUE_PREFIX };
    const first = await h.worker(relay.url, { env, connection });
    await startIssueSend({ ...base, queue: first.queue }, issueId);
    await waitFor('20 accepted', async () => (await issueStats(h.tdb.db, issueId)).byState.accepted >= 20, {
      intervalMs: 5,
    });
    await first.close();
    const stopped = await issueStats(h.tdb.db, issueId);
    expect(stopped.byState.claimed + stopped.byState.sending + stopped.byState.unknown).toBe(0);
    expect(stopped.byState.accepted).toBeLessThan(n);
    const held = await h.tdb.db
      .selectFrom('deliveries')
      .select('id')
      .where('lease_owner', '=', first.owner)
      .execute();
    expect(held).toHaveLength(0);

    const second = await h.worker(relay.url, { env, connection });
    try {
      const { state, stats } = await h.settled(issueId, 40_000);
      expect(state).toBe('sent');
      expect(stats.byState.accepted).toBe(n);
      const mine = relay.received.filter((r) => r.endsWith('.term@example.test'));
      expect(new Set(mine).size).toBe(n);
      expect(mine).toHaveLength(n);
    } finally {
      await second.close();
    }
  });
});
