import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type DatabaseHandle, openDatabase } from '../../src/db/connect.js';
import { migrateToLatest } from '../../src/db/migrate.js';
import { isConnectionError } from '../../src/db/outage.js';
import { startIssueSend } from '../../src/delivery/control.js';
import { issueStats } from '../../src/delivery/ledger.js';
import { createSendWorker } from '../../src/delivery/send-worker.js';
import { type FaultSmtp, startFaultSmtp } from '../support/fault-smtp.js';
import { type PrivatePostgres, startPrivatePostgres } from '../support/private-postgres.js';
import { testEnv } from '../support/test-env.js';
import {
  addManySubscribers,
  captureLog,
  createIssue,
  deps as makeDeps,
  renderable,
  seedSections,
  standInContent,
} from './support.js';

let pg: PrivatePostgres | string;
let handle: DatabaseHandle;
let relay: FaultSmtp;

beforeAll(async () => {
  pg = await startPrivatePostgres();
  if (typeof pg === 'string') {
    if (process.env.CI) throw new Error(`the database restart test needs a private cluster: ${pg}`);
    return;
  }
  handle = await openDatabase({ databaseUrl: pg.url, dataDir: '/nonexistent', poolSize: 4 });
  await migrateToLatest(handle.db, { exclusive: true });
  // A relay that takes a few ms per message, so the restart lands while messages are on the wire.
  relay = await startFaultSmtp({ delayMs: 5 });
}, 120_000);

afterAll(async () => {
  if (typeof pg === 'string' || !pg) return;
  await relay.close();
  await handle.db.destroy().catch(() => {});
  pg.destroy();
});

/** Polls `read` until `ok`, riding out the moments the database is away. */
async function until<T>(read: () => Promise<T>, ok: (v: T) => boolean, timeoutMs = 120_000): Promise<T> {
  const started = Date.now();
  for (;;) {
    try {
      const v = await read();
      if (ok(v)) return v;
    } catch (err) {
      if (!isConnectionError(err)) throw err;
    }
    if (Date.now() - started > timeoutMs) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('a PostgreSQL restart in mid-send', () => {
  it('leaves no row unknown: the worker stops claiming, keeps the outcomes on the wire, writes them when the database is back, and finishes unattended', async (ctx) => {
    if (typeof pg === 'string') {
      ctx.skip();
      return;
    }
    const cluster = pg;
    const db = handle.db;
    const sectionIds = await seedSections(db);
    void sectionIds;
    const env = testEnv({
      DATABASE_URL: cluster.url,
      SMTP_URL: relay.url,
      SEND_CONCURRENCY: '10',
      SEND_BATCH_SIZE: '50',
      SEND_LEASE_SECONDS: '120',
      DATABASE_OUTAGE_GRACE_SECONDS: '300',
    });
    const logs = captureLog();
    const base = {
      ...makeDeps(
        db,
        env,
        standInContent((id) => renderable(id)),
      ),
      log: logs.log,
    };
    const n = 400;
    await addManySubscribers(db, n, randomBytes(3).toString('hex'));
    const worker = await createSendWorker({
      ...base,
      connection: { url: env.REDIS_URL, prefix: env.QUEUE_PREFIX },
      relays: [relay.url],
      scanIntervalMs: 1000,
    });
    try {
      const issueId = await createIssue(db);
      await startIssueSend({ ...base, queue: worker.queue }, issueId);
      await until(
        async () => relay.received.length,
        (k) => k >= 40,
      );
      cluster.stop();
      // The worker notices, holds what it has, and waits for the database.
      await until(
        async () => logs.events('db.unavailable').length,
        (k) => k > 0,
      );
      const duringOutage = relay.received.length;
      cluster.start();
      const stats = await until(
        () => issueStats(db, issueId),
        (s) => s.byState.accepted + s.byState.unknown + s.byState.failed === n,
      );
      const issue = await until(
        () => db.selectFrom('issues').select('state').where('id', '=', issueId).executeTakeFirstOrThrow(),
        (r) => r.state === 'sent',
      );
      expect(issue.state).toBe('sent');
      expect(stats.byState.unknown).toBe(0);
      expect(stats.byState.accepted).toBe(n);
      expect(relay.received.length).toBeGreaterThan(duringOutage);
      expect(new Set(relay.received).size).toBe(n);
      expect(relay.received).toHaveLength(n);
      expect(logs.events('db.recovered').length).toBeGreaterThan(0);
    } finally {
      await worker.close();
    }
  }, 240_000);
});
