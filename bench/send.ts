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
import { commandDelta, startBenchRedis } from './_redis.js';
import { seedPublication } from './_seed.js';
import { type SinkKind, SinkUnavailableError, startDelayProxy, startSink } from './_sinks.js';

/**
 * `npm run bench -- send --recipients <n> [--workers <k>] [--connections <c>] [--relays <r>]
 * [--relay-rtt-ms <ms>] [--per-second <n>] [--sink node|smtp-sink | --smtp <url,…>]
 * [--mode spliced,bare,naive] [--naive-recipients <m>] [--bare-recipients <m>] [--redis-url <url>]
 * [--profile <dir>] --json`
 *
 * A model-sized issue (the sample's 4 sections, 27 items) to n subscribers with random section
 * choices, prepared and sent end to end (a fresh PostgreSQL database, Redis under a random prefix)
 * by k worker processes into r SMTP sinks (relays) in another process. Modes, in one run:
 * - "spliced": the engine, started as `workers/send.ts` starts it;
 * - "bare": the yardstick, bench/_bare-client.ts: one fixed message of the engine's size over the
 *   same number of connections, nothing else (no ledger, no queue, no rendering);
 * - "naive": the straightforward pipeline (one job per recipient, nodemailer building each
 *   message), on the first m subscribers.
 *
 * `--relay-rtt-ms` puts a delaying proxy (bench/_delay-proxy.ts, half the round trip each way) in
 * front of every sink: a relay that far away. The proxy counts the clients' round trips, so the
 * output gives the bound for the setting, connections ÷ (round trips per message × RTT), and how
 * far below it the run stayed. `--connections` is each worker's pool per relay
 * (SMTP_POOL_CONNECTIONS); `--per-second` the relays' shared budget (SMTP_RATE_PER_SECOND).
 *
 * The audience is prepared first with the send queue paused; "seconds" and "messagesPerSecond"
 * are the send alone, from the queue's resumption to the last row final.
 *
 * Redis is a private redis-server the bench starts (so INFO commandstats counts only this run's
 * commands), unless `--redis-url` names one. Ledger writes are PostgreSQL's own counters of the
 * bench database (rows updated, transactions), read after the workers exit.
 *
 * `--sink smtp-sink` starts Postfix's C smtp-sink (Debian: `apt-get install postfix`, then
 * `postfix stop`); `--sink node` (the default) an smtp-server sink that also counts duplicates and
 * the busiest second; `--smtp <url>` sends to sinks already running. `--profile <dir>` writes a V8
 * CPU profile of every worker process there.
 */
const here = dirname(fileURLToPath(import.meta.url));

function flag(args: string[], name: string, fallback?: string): string | undefined {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : fallback;
}

function count(args: string[], name: string, fallback: number, min = 1): number {
  const raw = flag(args, name, String(fallback)) as string;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min)
    throw new Error(`--${name} must be a whole number ≥ ${min} (got "${raw}")`);
  return n;
}

const log = (msg: string) => process.stderr.write(`[bench send] ${msg}\n`);

type Mode = 'spliced' | 'bare' | 'naive';

export async function run(args: string[]): Promise<object> {
  const recipients = count(args, 'recipients', 10000);
  const workers = count(args, 'workers', 1);
  const connections = count(args, 'connections', 8);
  const relays = count(args, 'relays', 1);
  const rttMs = count(args, 'relay-rtt-ms', 0, 0);
  const perSecond = count(args, 'per-second', 0, 0);
  const modes = (flag(args, 'mode', 'spliced,bare') as string).split(',') as Mode[];
  for (const m of modes)
    if (!['spliced', 'bare', 'naive'].includes(m))
      throw new Error(`--mode takes spliced, bare and naive, comma separated (got "${m}")`);
  const naiveRecipients = Math.min(recipients, count(args, 'naive-recipients', 5000));
  const bareRecipients = Math.min(recipients, count(args, 'bare-recipients', 100_000));
  const smtpUrl = flag(args, 'smtp');
  const sinkKind = (smtpUrl ? 'external' : flag(args, 'sink', 'node')) as SinkKind;
  if (!['node', 'smtp-sink', 'external'].includes(sinkKind))
    throw new Error(`--sink must be node or smtp-sink (got "${sinkKind}")`);
  const profileDir = flag(args, 'profile');
  if (profileDir) mkdirSync(resolve(profileDir), { recursive: true });
  // A database of its own (not a schema in the shared one): the migrator's table checks see every
  // schema of a database, so a bench schema would disturb tests running beside it.
  const dbName = `gazette_bench_${randomBytes(4).toString('hex')}`;
  const adminUrl = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
  const benchUrl = new URL(adminUrl);
  benchUrl.pathname = `/${dbName}`;
  const databaseUrl = benchUrl.toString();
  const prefix = `gbench-${randomBytes(4).toString('hex')}`;

  const sink = await startSink(sinkKind, { externalUrl: smtpUrl, relays }).catch((err: Error) => {
    if (!(err instanceof SinkUnavailableError)) throw err;
    process.stderr.write(`${err.message}\n`);
    process.exit(2);
  });
  const proxy = rttMs > 0 ? await startDelayProxy(sink.urls, rttMs) : null;
  const relayUrls = proxy?.urls ?? sink.urls;
  log(
    `${relayUrls.length} relay(s) (${sink.kind}${rttMs ? `, ${rttMs} ms away` : ''}) at ${relayUrls.join(', ')}`,
  );
  const redis = await startBenchRedis(flag(args, 'redis-url'));
  log(`Redis at ${redis.url}${redis.private ? " (the bench's own)" : ''}`);
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
    REDIS_URL: redis.url,
    QUEUE_PREFIX: prefix,
    SMTP_URL: relayUrls.join(','),
    SECRET_KEY: randomBytes(32).toString('hex'),
    PUBLIC_URL: 'https://news.example.org',
    MAIL_FROM: '数字科技与人工智能专业委员会 <newsletter@example.org>',
    BOUNCE_DOMAIN: 'bounces.example.org',
    SEND_BATCH_SIZE: '500',
    SEND_CONCURRENCY: '50',
    SEND_JOBS_PER_WORKER: '4',
    SMTP_POOL_CONNECTIONS: String(connections),
    SMTP_RATE_PER_SECOND: String(perSecond),
    DATA_DIR: '/tmp/gazette-bench',
  };
  const env = parseEnv(envVars);
  const results: Record<string, unknown> = {};
  const load = { start: loadavg()[0] as number, end: 0 };
  // On a large ledger every progress poll counts the rows by state: poll less often.
  const pollMs = recipients > 100_000 ? 2000 : 250;
  try {
    await migrateToLatest(db);
    const model = loadModelIssue();
    await seed(db, model, Math.max(recipients, modes.includes('naive') ? naiveRecipients : 0));
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
    /** What the relays, Redis and the ledger saw between `start()` and `stop()`. */
    const observe = async () => {
      const sinkBefore = await sink.count();
      const proxyBefore = await proxy?.count();
      const redisBefore = await redis.commandCalls();
      const ledgerBefore = await ledgerCounters(db);
      return {
        /** Reads the sink, proxy and Redis now, the ledger after `settled` (the workers exited). */
        async stop(seconds: number, messages: number, settled: () => Promise<void>) {
          const sinkAfter = await sink.count(sinkBefore?.messages ?? 0);
          const proxyAfter = await proxy?.count();
          const commands = commandDelta(redisBefore, await redis.commandCalls());
          await settled();
          const ledgerAfter = await ledgerCounters(db);
          const rowWrites = ledgerAfter.rowWrites - ledgerBefore.rowWrites;
          const transactions = ledgerAfter.transactions - ledgerBefore.transactions;
          const perMessage = (n: number) => (messages ? Math.round((n / messages) * 100) / 100 : null);
          return {
            sink:
              sinkBefore && sinkAfter
                ? {
                    messages: sinkAfter.messages - sinkBefore.messages,
                    duplicates:
                      sinkAfter.duplicates === null
                        ? null
                        : sinkAfter.duplicates - (sinkBefore.duplicates ?? 0),
                    busiestSecond: sinkAfter.busiestSecond,
                  }
                : null,
            roundTrips:
              proxyBefore && proxyAfter
                ? {
                    connections: proxyAfter.connections - proxyBefore.connections,
                    perMessage: perMessage(proxyAfter.turns - proxyBefore.turns),
                  }
                : null,
            redis: {
              private: redis.private,
              commandsPerSecond: Math.round(commands.total / seconds),
              commandsPerMessage: perMessage(commands.total),
              busiest: Object.fromEntries(Object.entries(commands.byCommand).slice(0, 6)),
            },
            ledger: {
              rowWritesPerSecond: Math.round(rowWrites / seconds),
              rowWritesPerMessage: perMessage(rowWrites),
              transactionsPerSecond: Math.round(transactions / seconds),
              transactionsPerMessage: perMessage(transactions),
            },
          };
        },
      };
    };
    /** connections ÷ (round trips per message × RTT), for every pool of every worker together. */
    const boundFor = (pools: number, perMessage: number | null | undefined, rate: number) => {
      if (!rttMs || !perMessage) return null;
      const total = pools * connections;
      const bound = total / ((perMessage * rttMs) / 1000);
      return {
        connections: total,
        roundTripsPerMessage: perMessage,
        rttMs,
        messagesPerSecond: round(bound),
        shareOfBound: Math.round((rate / bound) * 100) / 100,
      };
    };

    if (modes.includes('spliced')) {
      const issue = await issueFor();
      const children = await startWorkers('spliced', workers, envVars, profileDir);
      const queue = openSendQueue({ url: redis.url, prefix });
      // The audience is frozen and enqueued first, with the queue paused, so the send is timed
      // on its own (on a small machine preparing takes CPU from the workers).
      await queue.pause();
      const p0 = performance.now();
      await startIssueSend({ ...deps, queue, content: content(issue) }, issue.id);
      const prepareSeconds = (performance.now() - p0) / 1000;
      log(`prepared in ${prepareSeconds.toFixed(1)} s; sending`);
      const seen = await observe();
      const t0 = performance.now();
      await queue.resume();
      const done = await waitForIssue(deps, issue.id, {
        intervalMs: pollMs,
        onProgress: (s) => progress(s.byState.accepted, recipients),
      });
      const seconds = (performance.now() - t0) / 1000;
      await collect(children);
      const accepted = done.stats.byState.accepted;
      await queue.close();
      const saw = await seen.stop(seconds, accepted, () => stopWorkers(children));
      const rate = accepted / seconds;
      results.spliced = {
        recipients,
        eligible: done.stats.total - done.stats.byState.skipped,
        accepted,
        byState: done.stats.byState,
        state: done.state,
        seconds: round(seconds),
        prepareSeconds: round(prepareSeconds),
        messagesPerSecond: round(rate),
        bound: boundFor(workers * relays, saw.roundTrips?.perMessage, rate),
        ...workerFigures(children, accepted),
        ...saw,
        workers,
      };
    }
    if (modes.includes('bare')) {
      const spliced = results.spliced as { bytesPerMessage?: number | null } | undefined;
      const bytes = spliced?.bytesPerMessage ?? 60_000;
      const seen = await observe();
      const bare = await runBare(relayUrls, connections * workers, bareRecipients, bytes);
      const saw = await seen.stop(bare.seconds, bare.messages, async () => {});
      const rate = bare.messages / bare.seconds;
      results.bare = {
        recipients: bareRecipients,
        messages: bare.messages,
        seconds: round(bare.seconds),
        messagesPerSecond: round(rate),
        bytesPerMessage: bytes,
        cpuMsPerMessage: Math.round((bare.cpuMs / bare.messages) * 1000) / 1000,
        connectionsPerRelay: connections * workers,
        bound: boundFor(workers * relays, saw.roundTrips?.perMessage, rate),
        sink: saw.sink,
        roundTrips: saw.roundTrips,
      };
    }
    if (modes.includes('naive')) {
      const issue = await issueFor();
      // The same audience, cut to naiveRecipients: this pipeline is too slow for 100k in a run.
      await db
        .updateTable('subscribers')
        .set({ status: 'unsubscribed' })
        .where('id', '>', await nthSubscriberId(db, naiveRecipients))
        .execute();
      const children = await startWorkers('naive', workers, envVars, profileDir);
      const queue = new Queue('naive-send', { connection: createRedis(redis.url), prefix });
      const seen = await observe();
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
      await collect(children);
      await queue.close();
      const saw = await seen.stop(seconds, stats.byState.accepted, () => stopWorkers(children));
      results.naive = {
        recipients: naiveRecipients,
        accepted: stats.byState.accepted,
        seconds: round(seconds),
        messagesPerSecond: round(stats.byState.accepted / seconds),
        ...workerFigures(children, stats.byState.accepted),
        ...saw,
        workers,
      };
    }
    load.end = loadavg()[0] as number;
  } finally {
    await handle.close();
    await admin
      .query(`DROP DATABASE IF EXISTS ${dbName}`)
      .catch((err: Error) => log(`could not drop ${dbName}: ${err.message}`));
    await admin.end();
    if (!redis.private) {
      const client = createRedis(redis.url);
      const keys = await client.keys(`${prefix}:*`);
      for (let i = 0; i < keys.length; i += 500) await client.del(...keys.slice(i, i + 500));
      client.disconnect();
    }
    await redis.stop();
    await proxy?.stop();
    await sink.stop();
  }
  const spliced = results.spliced as { messagesPerSecond: number } | undefined;
  const naive = results.naive as { messagesPerSecond: number } | undefined;
  const bare = results.bare as { messagesPerSecond: number } | undefined;
  return {
    ...(spliced ?? {}),
    ...results,
    ...(spliced && naive ? { speedup: round(spliced.messagesPerSecond / naive.messagesPerSecond) } : {}),
    ...(spliced && bare
      ? { ratioToBare: Math.round((spliced.messagesPerSecond / bare.messagesPerSecond) * 100) / 100 }
      : {}),
    setting: { workers, connections, relays, relayRttMs: rttMs, perSecond, sink: sink.kind },
    sink: sink.kind,
    loadAverage: { start: round(load.start), end: round(load.end) },
    target: { messagesPerSecond: 600, peakRssMb: 300, ratioToBare: 0.4 },
  };
}

/** PostgreSQL's counters for the bench database: rows written to the ledger, transactions. */
async function ledgerCounters(db: Db): Promise<{ rowWrites: number; transactions: number }> {
  const { rows } = await sql<{ row_writes: string; transactions: string }>`
    SELECT (SELECT coalesce(sum(n_tup_upd + n_tup_del), 0) FROM pg_stat_user_tables WHERE relname = 'deliveries') AS row_writes,
           (SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()) AS transactions
  `.execute(db);
  return { rowWrites: Number(rows[0]?.row_writes ?? 0), transactions: Number(rows[0]?.transactions ?? 0) };
}

/** The bare client over `connections` connections per relay, in a process of its own. */
async function runBare(
  urls: string[],
  connections: number,
  messages: number,
  bytes: number,
): Promise<{ messages: number; seconds: number; cpuMs: number }> {
  const proc = fork(join(here, '_bare-client.ts'), [], { execArgv: ['--import', 'tsx'] });
  try {
    return await new Promise((ok, fail) => {
      proc.on('message', (m: { type: string; messages: number; seconds: number; cpuMs: number }) => {
        if (m.type === 'ready') proc.send({ type: 'start', urls, connections, messages, bytes });
        if (m.type === 'done') ok(m);
      });
      proc.once('exit', (code) => fail(new Error(`bare client exited with ${code}`)));
    });
  } finally {
    proc.kill('SIGTERM');
  }
}

function round(n: number): number {
  return Math.round(n * 10) / 10;
}

/** Per-run figures from the worker processes' reports. */
function workerFigures(children: Child[], accepted: number) {
  const handed = children.reduce((n, c) => n + c.stats.accepted, 0);
  const bytes = children.reduce((n, c) => n + c.stats.bytes, 0);
  const cpuMs = children.reduce((n, c) => n + c.stats.cpuMs - c.startCpuMs, 0);
  return {
    bytesPerMessage: handed ? Math.round(bytes / handed) : null,
    // Worker CPU per accepted message, all worker processes together (excludes PostgreSQL, Redis, sink).
    workerCpuMsPerMessage: accepted ? Math.round((cpuMs / accepted) * 1000) / 1000 : null,
    peakRssMb: Math.round(Math.max(...children.map((c) => c.stats.rss)) / 1048576),
    // The largest worker at rest (code, connections, the embedded-database driver it loads).
    readyRssMb: Math.round(Math.max(...children.map((c) => c.readyRss)) / 1048576),
    perWorker: children.map((c) => ({
      accepted: c.stats.accepted,
      cpuMsPerMessage: c.stats.accepted
        ? Math.round(((c.stats.cpuMs - c.startCpuMs) / c.stats.accepted) * 1000) / 1000
        : null,
      peakRssMb: Math.round(c.stats.rss / 1048576),
    })),
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
