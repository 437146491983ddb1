import { type ChildProcess, fork } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { loadavg } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Queue } from 'bullmq';
import { sql } from 'kysely';
import pg from 'pg';
import { waitForIssue } from '../src/cli/wait-for-issue.js';
import { parseEnv } from '../src/config/env.js';
import { openDatabase } from '../src/db/connect.js';
import { migrateToLatest } from '../src/db/migrate.js';
import type { Db } from '../src/db/schema.js';
import { issueStats, openSendQueue, prepareIssue, startIssueSend } from '../src/delivery/api.js';
import { silentLogger } from '../src/log.js';
import { createRedis } from '../src/queue/redis.js';
import type { RenderableIssue } from '../src/rendering/types.js';
import { loadModelIssue } from '../tests/support/model-issue.js';
import { seedPublication } from './_seed.js';
import { type Sink, type SinkKind, SinkUnavailableError, startSink } from './_sinks.js';

/**
 * `npm run bench -- send --recipients <n> [--workers <k>] [--sink node|smtp-sink | --smtp <url>]
 * [--mode spliced|naive|both] [--naive-recipients <m>] [--profile <dir>] --json`
 *
 * A model-sized issue (the sample's 4 sections, 27 items) to n subscribers with random section
 * choices, prepared and sent end to end (a fresh PostgreSQL database, Redis under a random prefix)
 * by k worker processes into an SMTP sink in another process. "spliced" is the engine, started as
 * `workers/send.ts` starts it; "naive" is the straightforward pipeline (one job per recipient,
 * nodemailer building each message), run on the first m subscribers in the same run.
 *
 * `--sink smtp-sink` starts Postfix's C smtp-sink (Debian: `apt-get install postfix`, then
 * `postfix stop`); `--sink node` (the default) an smtp-server sink; `--smtp <url>` sends to a sink
 * already running. `--profile <dir>` writes a V8 CPU profile of every worker process there.
 */
const here = dirname(fileURLToPath(import.meta.url));

function flag(args: string[], name: string, fallback?: string): string | undefined {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : fallback;
}

const log = (msg: string) => process.stderr.write(`[bench send] ${msg}\n`);

export async function run(args: string[]): Promise<object> {
  const recipients = Number(flag(args, 'recipients', '10000'));
  const workers = Number(flag(args, 'workers', '1'));
  const mode = flag(args, 'mode', 'both') as 'spliced' | 'naive' | 'both';
  const naiveRecipients = Math.min(recipients, Number(flag(args, 'naive-recipients', '5000')));
  const smtpUrl = flag(args, 'smtp');
  const sinkKind = (smtpUrl ? 'external' : flag(args, 'sink', 'node')) as SinkKind;
  if (!['node', 'smtp-sink', 'external'].includes(sinkKind))
    throw new Error(`--sink must be node or smtp-sink (got "${sinkKind}")`);
  const profileDir = flag(args, 'profile');
  if (profileDir) mkdirSync(resolve(profileDir), { recursive: true });
  const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
  // A database of its own (not a schema in the shared one): the migrator's table checks see every
  // schema of a database, so a bench schema would disturb tests running beside it.
  const dbName = `gazette_bench_${randomBytes(4).toString('hex')}`;
  const adminUrl = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
  const benchUrl = new URL(adminUrl);
  benchUrl.pathname = `/${dbName}`;
  const databaseUrl = benchUrl.toString();
  const prefix = `gbench-${randomBytes(4).toString('hex')}`;

  const sink = await startSink(sinkKind, smtpUrl).catch((err: Error) => {
    if (!(err instanceof SinkUnavailableError)) throw err;
    process.stderr.write(`${err.message}\n`);
    process.exit(2);
  });
  log(`SMTP sink (${sink.kind}) at ${sink.url}`);
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${dbName}`);
  const handle = await openDatabase({ databaseUrl, dataDir: '/nonexistent', poolSize: 4 });
  const db = handle.db;
  const envVars: Record<string, string> = {
    NODE_ENV: 'production',
    LOG_LEVEL: 'silent',
    DATABASE_URL: databaseUrl,
    DATABASE_POOL_SIZE: '6',
    REDIS_URL: redisUrl,
    QUEUE_PREFIX: prefix,
    SMTP_URL: sink.url,
    SECRET_KEY: randomBytes(32).toString('hex'),
    PUBLIC_URL: 'https://news.example.org',
    MAIL_FROM: '数字科技与人工智能专业委员会 <newsletter@example.org>',
    BOUNCE_DOMAIN: 'bounces.example.org',
    SEND_BATCH_SIZE: '500',
    SEND_CONCURRENCY: '50',
    SEND_JOBS_PER_WORKER: '4',
    SMTP_POOL_CONNECTIONS: '8',
    DATA_DIR: '/tmp/gazette-bench',
  };
  const env = parseEnv(envVars);
  const results: Record<string, unknown> = {};
  const load = { start: loadavg()[0] as number, end: 0 };
  try {
    await migrateToLatest(db);
    const model = loadModelIssue();
    await seed(db, model, Math.max(recipients, naiveRecipients));
    log(`${recipients} subscribers in database ${dbName}`);
    const deps = {
      db,
      env,
      log: silentLogger,
      secrets: { current: envVars.SECRET_KEY as string },
      now: () => new Date(),
    };
    const issueFor = async (): Promise<RenderableIssue> => {
      const row = await db
        .insertInto('issues')
        .values({
          period: `2025-07-${randomBytes(2).toString('hex')}`,
          title: model.title,
          subject: model.subject,
          state: 'approved',
        })
        .returning('id')
        .executeTakeFirstOrThrow();
      return { ...model, id: row.id };
    };
    const { stageContent } = await import('../src/delivery/stage-content.js');
    const content = (issue: RenderableIssue) => ({ ...stageContent, loadIssue: async () => issue });

    if (mode === 'spliced' || mode === 'both') {
      const issue = await issueFor();
      const children = await startWorkers('spliced', workers, envVars, profileDir);
      const queue = openSendQueue({ url: redisUrl, prefix });
      const before = await sink.count();
      const t0 = performance.now();
      await startIssueSend({ ...deps, queue, content: content(issue) }, issue.id);
      const prepareSeconds = (performance.now() - t0) / 1000;
      log(`prepared in ${prepareSeconds.toFixed(1)} s; sending`);
      const done = await waitForIssue(deps, issue.id, {
        intervalMs: 250,
        onProgress: (s) => progress(s.byState.accepted, recipients),
      });
      const seconds = (performance.now() - t0) / 1000;
      const after = await sink.count();
      await collect(children);
      results.spliced = {
        recipients,
        eligible: done.stats.total - done.stats.byState.skipped,
        accepted: done.stats.byState.accepted,
        byState: done.stats.byState,
        state: done.state,
        seconds: round(seconds),
        prepareSeconds: round(prepareSeconds),
        messagesPerSecond: round(done.stats.byState.accepted / seconds),
        ...figures(children, done.stats.byState.accepted, before, after),
        workers,
      };
      await queue.close();
      await stopWorkers(children);
    }
    if (mode === 'naive' || mode === 'both') {
      const issue = await issueFor();
      // The same audience, cut to naiveRecipients: this pipeline is too slow for 100k in a run.
      await db
        .updateTable('subscribers')
        .set({ status: 'unsubscribed' })
        .where('id', '>', await nthSubscriberId(db, naiveRecipients))
        .execute();
      const children = await startWorkers('naive', workers, envVars, profileDir);
      const queue = new Queue('naive-send', { connection: createRedis(redisUrl), prefix });
      const before = await sink.count();
      const t0 = performance.now();
      await db.updateTable('issues').set({ state: 'sending' }).where('id', '=', issue.id).execute();
      await prepareIssue({ ...deps, content: content(issue) }, issue.id);
      let last = 0;
      for (;;) {
        const ids = await db
          .selectFrom('deliveries')
          .select('id')
          .where('issue_id', '=', issue.id)
          .where('state', '=', 'queued')
          .where('id', '>', last)
          .orderBy('id')
          .limit(1000)
          .execute();
        if (!ids.length) break;
        await queue.addBulk(
          ids.map((r) => ({ name: 'send', data: { deliveryId: r.id }, opts: { removeOnComplete: true } })),
        );
        last = ids[ids.length - 1]?.id as number;
      }
      let stats = await issueStats(db, issue.id);
      while (stats.byState.queued > 0) {
        await new Promise((r) => setTimeout(r, 250));
        stats = await issueStats(db, issue.id);
        progress(stats.byState.accepted, stats.total);
      }
      const seconds = (performance.now() - t0) / 1000;
      const after = await sink.count();
      await collect(children);
      results.naive = {
        recipients: naiveRecipients,
        accepted: stats.byState.accepted,
        seconds: round(seconds),
        messagesPerSecond: round(stats.byState.accepted / seconds),
        ...figures(children, stats.byState.accepted, before, after),
        workers,
      };
      await queue.close();
      await stopWorkers(children);
    }
    load.end = loadavg()[0] as number;
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
    await sink.stop();
  }
  const spliced = results.spliced as Record<string, unknown> | undefined;
  const naive = results.naive as Record<string, number> | undefined;
  return {
    ...(spliced ?? {}),
    ...results,
    ...(spliced && naive
      ? { speedup: round((spliced.messagesPerSecond as number) / (naive.messagesPerSecond as number)) }
      : {}),
    sink: sink.kind,
    loadAverage: { start: round(load.start), end: round(load.end) },
    target: { messagesPerSecond: 600, peakRssMb: 300 },
  };
}

function round(n: number): number {
  return Math.round(n * 10) / 10;
}

/** Per-run figures from the worker processes' reports and the sink's counts. */
function figures(
  children: Child[],
  accepted: number,
  before: Awaited<ReturnType<Sink['count']>>,
  after: Awaited<ReturnType<Sink['count']>>,
) {
  const handed = children.reduce((n, c) => n + c.stats.accepted, 0);
  const bytes = children.reduce((n, c) => n + c.stats.bytes, 0);
  const cpuMs = children.reduce((n, c) => n + c.stats.cpuMs - c.startCpuMs, 0);
  // The sink's own count, when it keeps one: every accepted row should have reached it.
  const sinkMessages = before && after ? after.messages - before.messages : null;
  return {
    bytesPerMessage: handed ? Math.round(bytes / handed) : null,
    sinkMessages,
    // Worker CPU per accepted message, all worker processes together (excludes PostgreSQL, Redis, sink).
    workerCpuMsPerMessage: accepted ? Math.round((cpuMs / accepted) * 1000) / 1000 : null,
    peakRssMb: Math.round(Math.max(...children.map((c) => c.stats.rss)) / 1048576),
    // The largest worker at rest (code, connections, the embedded-database driver it loads).
    readyRssMb: Math.round(Math.max(...children.map((c) => c.readyRss)) / 1048576),
  };
}

let lastProgress = 0;
function progress(done: number, total: number): void {
  const now = Date.now();
  if (now - lastProgress < 2000) return;
  lastProgress = now;
  log(`${done}/${total} accepted`);
}

async function nthSubscriberId(db: Db, n: number): Promise<number> {
  const row = await db
    .selectFrom('subscribers')
    .select('id')
    .orderBy('id')
    .offset(n - 1)
    .limit(1)
    .executeTakeFirst();
  return row?.id ?? Number.MAX_SAFE_INTEGER;
}

async function seed(db: Db, model: RenderableIssue, n: number): Promise<void> {
  await seedPublication(db, model);
  // Half choose everything; the rest a random non-empty subset of the four sections.
  await sql`
    INSERT INTO subscribers (email, email_normalized, name, status, all_sections, consent_source)
    SELECT 'reader' || g || '@example.net', 'reader' || g || '@example.net', '读者' || g, 'active', random() < 0.5, 'import'
    FROM generate_series(1, ${n}) g
  `.execute(db);
  await sql`
    INSERT INTO subscriber_sections (subscriber_id, section_id)
    SELECT s.id, sec.id FROM subscribers s CROSS JOIN sections sec
    WHERE NOT s.all_sections AND (random() < 0.5 OR sec.position = 1 + (s.id % 4))
  `.execute(db);
}

interface WorkerStats {
  rss: number;
  accepted: number;
  bytes: number;
  cpuMs: number;
}

interface Child {
  proc: ChildProcess;
  stats: WorkerStats;
  /** CPU the process had used when it said it was ready (start-up is not part of the send). */
  startCpuMs: number;
  /** RSS when it was ready: the process at rest, before any message. */
  readyRss: number;
}

async function startWorkers(
  mode: string,
  k: number,
  envVars: Record<string, string>,
  profileDir: string | undefined,
): Promise<Child[]> {
  const children: Child[] = [];
  for (let i = 0; i < k; i++) {
    const proc = fork(join(here, '_send-worker.ts'), [], {
      execArgv: [
        '--import',
        'tsx',
        ...(profileDir ? ['--cpu-prof', `--cpu-prof-dir=${resolve(profileDir)}`] : []),
      ],
      env: { ...process.env, ...envVars, BENCH_MODE: mode },
    });
    const child: Child = {
      proc,
      stats: { rss: 0, accepted: 0, bytes: 0, cpuMs: 0 },
      startCpuMs: 0,
      readyRss: 0,
    };
    await new Promise<void>((ok, fail) => {
      proc.on('message', (m: { type: string } & WorkerStats) => {
        if (m.type === 'ready') {
          child.startCpuMs = m.cpuMs;
          child.readyRss = m.rss;
          ok();
        }
        if (m.type === 'stats') child.stats = { ...m, rss: Math.max(child.stats.rss, m.rss) };
      });
      proc.once('exit', (code) => fail(new Error(`bench worker exited with ${code}`)));
    });
    children.push(child);
  }
  return children;
}

/** Asks every worker for a fresh report (counters and CPU as of now). */
async function collect(children: Child[]): Promise<void> {
  await Promise.all(
    children.map(
      (c) =>
        new Promise<void>((ok) => {
          const on = (m: { type: string }) => {
            if (m.type !== 'stats') return;
            c.proc.off('message', on);
            ok();
          };
          c.proc.on('message', on);
          c.proc.send({ type: 'report' });
        }),
    ),
  );
}

/**
 * Stops the worker processes (SIGTERM: a graceful stop, which also writes CPU profiles) and waits
 * until they are gone, before their database is dropped.
 */
async function stopWorkers(children: Child[]): Promise<void> {
  await Promise.all(
    children.map(
      (c) =>
        new Promise<void>((ok) => {
          if (c.proc.exitCode !== null) return ok();
          c.proc.once('exit', () => ok());
          c.proc.kill('SIGTERM');
          setTimeout(() => c.proc.kill('SIGKILL'), 15_000).unref();
        }),
    ),
  );
}
