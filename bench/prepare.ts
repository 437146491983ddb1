import { fork } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { sql } from 'kysely';
import pg from 'pg';
import { openDatabase } from '../src/db/connect.js';
import { migrateToLatest } from '../src/db/migrate.js';
import type { Db } from '../src/db/schema.js';
import { createRedis } from '../src/queue/redis.js';
import { loadModelIssue } from '../tests/support/model-issue.js';
import { seedPublication } from './_seed.js';

/**
 * `npm run bench -- prepare --subscribers <n> [--batch <rows>] --json`
 *
 * Freezing the audience of one model-sized issue (4 sections, 27 items) for n subscribers with
 * random section choices — 1% unsubscribed, 1% pending, 1% suppressed by address, and 0.5% who
 * chose only a section the issue leaves empty — in a fresh PostgreSQL database, with the send jobs
 * enqueued in Redis, as `gazette issue send` does. The prepare step runs in a process of its own,
 * so its peak RSS is its own; RSS is sampled at every keyset batch to show it stays flat.
 */
const here = dirname(fileURLToPath(import.meta.url));
const log = (msg: string) => process.stderr.write(`[bench prepare] ${msg}\n`);

function flag(args: string[], name: string, fallback: string): string {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? (args[i + 1] as string) : fallback;
}

interface Done {
  result: { queued: number; skipped: number; variants: string[]; batches: number } | null;
  seconds: number;
  startRssMb: number;
  peakRssMb: number;
  timeline: { rows: number; rssMb: number; seconds: number }[];
  jobs: number;
  peakAt: { seconds: number; rows: number };
}

export async function run(args: string[]): Promise<object> {
  const subscribers = Number(flag(args, 'subscribers', '100000'));
  const batch = flag(args, 'batch', '5000');
  const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
  const dbName = `gazette_bench_${randomBytes(4).toString('hex')}`;
  const adminUrl = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
  const url = new URL(adminUrl);
  url.pathname = `/${dbName}`;
  const prefix = `gbench-${randomBytes(4).toString('hex')}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${dbName}`);
  const handle = await openDatabase({ databaseUrl: url.toString(), dataDir: '/nonexistent', poolSize: 2 });
  const db = handle.db;
  const load = loadavg()[0] as number;
  try {
    await migrateToLatest(db);
    const model = loadModelIssue();
    const seedStart = performance.now();
    await seed(db, model, subscribers);
    log(`${subscribers} subscribers seeded in ${((performance.now() - seedStart) / 1000).toFixed(1)} s`);
    const issue = await db
      .insertInto('issues')
      .values({ period: '2025-07', title: model.title, subject: model.subject, state: 'approved' })
      .returning('id')
      .executeTakeFirstOrThrow();
    const child = fork(join(here, '_prepare-worker.ts'), [], {
      execArgv: ['--import', 'tsx', ...(process.env.BENCH_GC ? ['--expose-gc'] : [])],
      env: {
        ...process.env,
        NODE_ENV: 'production',
        LOG_LEVEL: 'silent',
        DATABASE_URL: url.toString(),
        REDIS_URL: redisUrl,
        QUEUE_PREFIX: prefix,
        SECRET_KEY: randomBytes(32).toString('hex'),
        PUBLIC_URL: 'https://news.example.org',
        SEND_BATCH_SIZE: '500',
        DATA_DIR: '/tmp/gazette-bench',
        BENCH_ISSUE_ID: String(issue.id),
        BENCH_PREPARE_BATCH: batch,
      },
    });
    const done = await new Promise<Done>((ok, fail) => {
      child.on('message', (m: { type: string } & Done) => m.type === 'done' && ok(m));
      child.once('exit', (code) => fail(new Error(`prepare process exited with ${code}`)));
    });
    await new Promise((r) => child.once('exit', r));
    const rows = (done.result?.queued ?? 0) + (done.result?.skipped ?? 0);
    const at = (share: number) => done.timeline.find((p) => p.rows >= rows * share);
    return {
      subscribers,
      rows,
      queued: done.result?.queued,
      skipped: done.result?.skipped,
      variants: done.result?.variants.length,
      batches: done.result?.batches,
      seconds: round(done.seconds),
      rowsPerSecond: Math.round(rows / done.seconds),
      // Memory of the prepare process: at start, after 10% and 50% of the rows, and the peak.
      rssMb: {
        start: Math.round(done.startRssMb),
        at10Percent: Math.round(at(0.1)?.rssMb ?? 0),
        at50Percent: Math.round(at(0.5)?.rssMb ?? 0),
        end: Math.round(done.timeline[done.timeline.length - 1]?.rssMb ?? 0),
        peak: Math.round(done.peakRssMb),
      },
      peakRssMb: Math.round(done.peakRssMb),
      peakAt: { seconds: round(done.peakAt.seconds), rows: done.peakAt.rows },
      sendJobsEnqueued: done.jobs,
      loadAverage: round(load),
    };
  } finally {
    await handle.close();
    await admin
      .query(`DROP DATABASE IF EXISTS ${dbName}`)
      .catch((err: Error) => log(`could not drop ${dbName}: ${err.message}`));
    await admin.end();
    const redis = createRedis(redisUrl);
    const keys = await redis.keys(`${prefix}:*`);
    for (let i = 0; i < keys.length; i += 500) await redis.del(...keys.slice(i, i + 500));
    redis.disconnect();
  }
}

function round(n: number): number {
  return Math.round(n * 10) / 10;
}

async function seed(
  db: Parameters<typeof migrateToLatest>[0],
  model: ReturnType<typeof loadModelIssue>,
  n: number,
) {
  await seedPublication(db as Db, model);
  // A fifth section the issue has no items in: subscribers who chose only it are skipped.
  await db
    .insertInto('sections')
    .values({ key: 'empty', position: 5, names: JSON.stringify({ 'zh-CN': '空', en: 'Empty' }) })
    .execute();
  await sql`
    INSERT INTO subscribers (email, email_normalized, name, status, all_sections, consent_source)
    SELECT 'reader' || g || '@example.net', 'reader' || g || '@example.net', '读者' || g,
      CASE WHEN g % 100 = 1 THEN 'unsubscribed' WHEN g % 100 = 2 THEN 'pending' ELSE 'active' END,
      random() < 0.5 AND g % 200 <> 7, 'import'
    FROM generate_series(1, ${n}) g
  `.execute(db);
  await sql`
    INSERT INTO subscriber_sections (subscriber_id, section_id)
    SELECT s.id, sec.id FROM subscribers s CROSS JOIN sections sec
    WHERE NOT s.all_sections AND CASE WHEN s.id % 200 = 7 THEN sec.key = 'empty'
      ELSE sec.key <> 'empty' AND (random() < 0.5 OR sec.position = 1 + (s.id % 4)) END
  `.execute(db);
  await sql`
    INSERT INTO suppressions (kind, value, reason)
    SELECT 'address', email_normalized, 'manual' FROM subscribers WHERE id % 100 = 3
  `.execute(db);
  await sql`ANALYZE`.execute(db);
}
