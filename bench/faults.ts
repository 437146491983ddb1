import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { parseEnv } from '../src/config/env.js';
import { openDatabase } from '../src/db/connect.js';
import { migrateToLatest } from '../src/db/migrate.js';
import type { Db } from '../src/db/schema.js';
import { startIssueSend } from '../src/delivery/control.js';
import { issueStats } from '../src/delivery/ledger.js';
import { createSendWorker, type SendWorker } from '../src/delivery/send-worker.js';
import {
  addManySubscribers,
  captureLog,
  createIssue,
  deps as makeDeps,
  renderable,
  seedSections,
  standInContent,
} from '../tests/delivery/support.js';
import { type FaultSmtp, startFaultSmtp } from '../tests/support/fault-smtp.js';
import { startPrivatePostgres } from '../tests/support/private-postgres.js';

/**
 * The fault matrix: one issue per scenario sent by two workers (one process, shared Redis) to an
 * SMTP peer that injects the fault, and what came of it: received, duplicates, lost (never
 * received and not recorded failed or unknown), unknown, time. Flags: --n=3000 --rate=100 (per
 * second for the relay), --only=name,name.
 *
 *   npm run bench -- faults --json
 */
type Scenario = 'baseline' | 'throttle-421' | 'relay-outage' | 'db-restart';
const ALL: Scenario[] = ['baseline', 'throttle-421', 'relay-outage', 'db-restart'];

function flag(args: string[], name: string, fallback: string): string {
  const a = args.find((x) => x.startsWith(`--${name}=`));
  return a ? a.slice(name.length + 3) : fallback;
}

export async function run(args: string[]) {
  const n = Number(flag(args, 'n', '3000'));
  const rate = Number(flag(args, 'rate', '100'));
  const only = flag(args, 'only', ALL.join(',')).split(',') as Scenario[];
  const results: Record<string, unknown>[] = [];
  for (const s of ALL.filter((x) => only.includes(x))) {
    process.stderr.write(`faults: ${s}…\n`);
    results.push(await scenario(s, n, rate));
  }
  const base = results.find((r) => r.scenario === 'baseline');
  const thr = results.find((r) => r.scenario === 'throttle-421');
  return {
    n,
    relayRatePerSecond: rate,
    scenarios: results,
    ...(base && thr
      ? {
          throttledShareOfUnthrottledRate:
            Math.round(((thr.rate as number) / (base.rate as number)) * 100) / 100,
        }
      : {}),
  };
}

async function scenario(name: Scenario, n: number, rate: number) {
  const cluster = name === 'db-restart' ? await startPrivatePostgres() : null;
  if (typeof cluster === 'string') return { scenario: name, skipped: cluster };
  const url = cluster?.url ?? process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
  const schema = `bench_${randomBytes(5).toString('hex')}`;
  const admin = new pg.Client({ connectionString: url });
  await admin.connect();
  await admin.query(`CREATE SCHEMA ${schema}`);
  await admin.end();
  const handle = await openDatabase({ databaseUrl: url, dataDir: '/nonexistent', schema, poolSize: 8 });
  const db: Db = handle.db;
  await migrateToLatest(db, { schema, exclusive: true });
  const env = parseEnv({
    NODE_ENV: 'test',
    DATABASE_URL: url,
    QUEUE_PREFIX: `bench-${randomBytes(4).toString('hex')}`,
    SECRET_KEY: 'k'.repeat(40),
    SEND_CONCURRENCY: '20',
    SEND_BATCH_SIZE: '200',
    SEND_LEASE_SECONDS: '120',
    SMTP_RATE_PER_SECOND: String(rate),
  });
  await seedSections(db);
  await addManySubscribers(db, n, randomBytes(3).toString('hex'));
  const peer: FaultSmtp = await startFaultSmtp();
  const deps = makeDeps(
    db,
    env,
    standInContent((id) => renderable(id)),
  );
  // Where the time goes: every rest the workers raised and how long each relay rested.
  const logs = captureLog('info');
  const workers: SendWorker[] = [];
  for (let i = 0; i < 2; i++) {
    workers.push(
      await createSendWorker({
        ...deps,
        log: logs.log,
        connection: { url: env.REDIS_URL, prefix: env.QUEUE_PREFIX },
        relays: [peer.url],
        scanIntervalMs: 5000,
      }),
    );
  }
  const issueId = await createIssue(db);
  const t0 = Date.now();
  if (name === 'throttle-421') {
    // 421-and-close for 3 s in every 20 s, the first burst 2 s in.
    peer.refuse = () => (Date.now() - t0 - 2000 + 20_000) % 20_000 < 3000 && Date.now() - t0 > 2000;
  }
  await startIssueSend({ ...deps, queue: (workers[0] as SendWorker).queue }, issueId);
  const faults: Promise<void>[] = [];
  if (name === 'relay-outage') {
    faults.push(
      (async () => {
        await sleep(2000);
        await peer.down();
        await sleep(10_000);
        await peer.up();
      })(),
    );
  }
  if (name === 'db-restart' && cluster) {
    faults.push(
      (async () => {
        await sleep(2000);
        cluster.stop();
        await sleep(10_000);
        cluster.start();
      })(),
    );
  }
  let state = '';
  for (;;) {
    try {
      const row = await db
        .selectFrom('issues')
        .select('state')
        .where('id', '=', issueId)
        .executeTakeFirstOrThrow();
      state = row.state;
      if (state !== 'sending') break;
    } catch {
      // the database is away (db-restart): look again
    }
    if (Date.now() - t0 > 15 * 60_000) break;
    await sleep(200);
  }
  const seconds = (Date.now() - t0) / 1000;
  await Promise.all(faults);
  const stats = await issueStats(db, issueId);
  const unique = new Set(peer.received).size;
  for (const w of workers) await w.close();
  await peer.close();
  await handle.close();
  cluster?.destroy();
  if (!cluster) {
    const c = new pg.Client({ connectionString: url });
    await c.connect();
    await c.query(`DROP SCHEMA ${schema} CASCADE`);
    await c.end();
  }
  return {
    scenario: name,
    state,
    received: peer.received.length,
    duplicates: peer.received.length - unique,
    lost: n - unique - stats.byState.failed - stats.byState.unknown,
    unknown: stats.byState.unknown,
    failed: stats.byState.failed,
    accepted: stats.byState.accepted,
    refusals: peer.refusals.mail + peer.refusals.rcpt,
    seconds: Math.round(seconds * 10) / 10,
    rate: Math.round((unique / seconds) * 10) / 10,
    rests: logs.events('delivery.relay.resting').map((e) => ({ level: e.level, ms: e.ms })),
    restedSeconds:
      Math.round(logs.events('delivery.relay.recovered').reduce((t, e) => t + Number(e.restedMs), 0) / 100) /
      10,
  };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
