import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { createWriteStream, mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { createUser } from '../src/accounts/users.js';
import { parseEnv } from '../src/config/env.js';
import { type AppContext, createContext } from '../src/context.js';
import { startAppServer } from '../src/http/app.js';
import { silentLogger } from '../src/log.js';
import { MODEL_SECTIONS, upsertSection } from '../src/publication/index.js';
import { createRedis } from '../src/queue/redis.js';
import { exportSubscribersCsv, getImport, importSubscribersCsv } from '../subscribers/api.js';
import { startWorkers } from '../workers/index.js';

const here = dirname(fileURLToPath(import.meta.url));
const PASSWORD = 'correct horse battery staple';
const log = (line: string) => process.stderr.write(`${line}\n`);

/**
 * Subscriber CSV import, in two parts.
 *
 * 1. /healthz while an editor imports (issue 16 point 6): the real web server in this process,
 *    an editor signed in over HTTP uploads a file of `--rows` invalid rows (the case that never
 *    waits on the database, so nothing but the code's own yielding lets other requests in) through
 *    the import form, and the page's status fragment is polled once a second as the browser does,
 *    until the import job is done. A child process asks /healthz every 10 ms meanwhile. Twice:
 *    with the import worker in a separate process (`gazette worker --roles imports`, as deployed)
 *    and in this process (`gazette serve --workers imports`). Latency is reported for the upload
 *    request, for the job, and overall (after a few seconds without an import, the baseline).
 * 2. The stage's own throughput (import, re-import as updates, export) on `--throughput-rows`
 *    valid rows (0 skips it).
 *
 * A database of its own (the migrator's checks see every schema of a database, so a bench schema
 * would disturb tests running beside it). Flags: --rows N (default 1000000), --throughput-rows N
 * (default 100000), --batch N (default 1000), --modes separate,in-process.
 */
export async function run(args: string[]): Promise<object> {
  const flag = (name: string, fallback: string) => {
    const i = args.indexOf(`--${name}`);
    return i >= 0 ? (args[i + 1] ?? fallback) : fallback;
  };
  const rows = Number(flag('rows', '1000000'));
  const throughputRows = Number(flag('throughput-rows', '100000'));
  const batchSize = Number(flag('batch', '1000'));
  const modes = flag('modes', 'separate,in-process').split(',') as ('separate' | 'in-process')[];

  const dbName = `gazette_bench_${randomBytes(4).toString('hex')}`;
  const adminUrl = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
  const benchUrl = new URL(adminUrl);
  benchUrl.pathname = `/${dbName}`;
  const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
  const prefix = `gbench-${randomBytes(4).toString('hex')}`;
  const envVars: Record<string, string> = {
    NODE_ENV: 'production',
    LOG_LEVEL: 'silent',
    DATABASE_URL: benchUrl.toString(),
    REDIS_URL: redisUrl,
    QUEUE_PREFIX: prefix,
    SECRET_KEY: randomBytes(32).toString('hex'),
    PUBLIC_URL: 'https://news.example.org',
    HTTP_HOST: '127.0.0.1',
    HTTP_PORT: '0',
    IMPORT_MAX_BYTES: String(512 * 1024 * 1024),
    IMPORT_MAX_ROWS: String(Math.max(rows, 1)),
    DATA_DIR: '/tmp/gazette-bench',
  };
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${dbName}`);
  const dir = mkdtempSync(join(tmpdir(), 'gazette-bench-'));
  let ctx: AppContext | undefined;
  try {
    ctx = await createContext(parseEnv(envVars), { log: silentLogger });
    for (const section of MODEL_SECTIONS) await upsertSection(ctx.db, section);
    await createUser(ctx.db, { email: 'editor@bench.example', role: 'editor', password: PASSWORD });

    const invalid = join(dir, 'invalid.csv');
    await writeCsv(invalid, 'email,name', rows, (i) => `x${i},x`);
    const results: Record<string, unknown> = { rows, batchSize, loadAverageAtStart: loadavg()[0] };
    for (const mode of modes) {
      log(`${mode}: uploading ${rows} invalid rows while polling /healthz…`);
      results[mode === 'separate' ? 'healthzWorkerInSeparateProcess' : 'healthzWorkerInProcess'] =
        await importWhilePolling(ctx, envVars, mode, invalid);
    }
    if (throughputRows > 0) results.throughput = await throughput(ctx, dir, throughputRows, batchSize);
    results.loadAverageAtEnd = loadavg()[0];
    results.heapUsedMbAtEnd = Math.round(process.memoryUsage().heapUsed / 1e6);
    return results;
  } finally {
    await ctx?.close();
    await admin
      .query(`DROP DATABASE IF EXISTS ${dbName}`)
      .catch((err: Error) => log(`could not drop ${dbName}: ${err.message}`));
    await admin.end();
    const redis = createRedis(redisUrl);
    const keys = await redis.keys(`${prefix}:*`);
    for (let i = 0; i < keys.length; i += 500) await redis.del(...keys.slice(i, i + 500));
    redis.disconnect();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function writeCsv(file: string, header: string, n: number, row: (i: number) => string) {
  const out = createWriteStream(file);
  out.write(`${header}\n`);
  for (let i = 0; i < n; i++) if (!out.write(`${row(i)}\n`)) await once(out, 'drain');
  out.end();
  await once(out, 'finish');
}

/** One upload through the form, followed to the end of its job, with /healthz asked throughout. */
async function importWhilePolling(
  ctx: AppContext,
  envVars: Record<string, string>,
  mode: 'separate' | 'in-process',
  file: string,
) {
  const mail = async () => ({ messageId: 'bench' });
  const { app, url } = await startAppServer(ctx, mail);
  let worker: ChildProcess | undefined;
  let workers: Awaited<ReturnType<typeof startWorkers>> | undefined;
  try {
    if (mode === 'separate') worker = await startWorkerProcess(envVars);
    else workers = await startWorkers(ctx, { roles: ['imports'] });
    const session = await signIn(url);
    const { readFile } = await import('node:fs/promises');
    const content = await readFile(file);
    const boundary = `----gazette-bench-${randomBytes(4).toString('hex')}`;
    const body = Buffer.concat([
      Buffer.from(
        `--${boundary}\r\nContent-Disposition: form-data; name="_csrf"\r\n\r\n${session.csrf}\r\n` +
          `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="invalid.csv"\r\nContent-Type: text/csv\r\n\r\n`,
      ),
      content,
      Buffer.from(`\r\n--${boundary}--\r\n`),
    ]);

    const poller = startHealthPoller(url);
    await poller.started;
    // A few seconds with no import first: what /healthz takes on this machine anyway.
    await new Promise((r) => setTimeout(r, 3000));
    const t0 = Date.now();
    // How long this (the server's) event loop was held at a time: the same thing as the /healthz
    // figures without the network and the poller's own scheduling in them.
    const loop = monitorEventLoopDelay({ resolution: 5 });
    loop.enable();
    const res = await fetch(`${url}/admin/subscribers/import`, {
      method: 'POST',
      headers: { cookie: session.cookie, 'content-type': `multipart/form-data; boundary=${boundary}` },
      body,
      redirect: 'manual',
    });
    const t1 = Date.now();
    const page = res.headers.get('location');
    if (res.status !== 303 || !page) throw new Error(`upload answered ${res.status}: ${await res.text()}`);
    const importId = Number(page.split('/').at(-1));
    // As the page's script does: the status fragment once a second until the import is over.
    for (;;) {
      const status = await fetch(`${url}${page}/status`, { headers: { cookie: session.cookie } });
      const html = await status.text();
      if (/data-import-state="(done|failed)"/.test(html)) break;
      await new Promise((r) => setTimeout(r, 1000));
    }
    const t2 = Date.now();
    loop.disable();
    const samples = await poller.stop();
    const record = await getImport(ctx.db, importId);
    if (record?.state !== 'done')
      throw new Error(`import ${importId} ended ${record?.state}: ${record?.failure?.message}`);
    return {
      uploadBytes: content.length,
      uploadRequestMs: t1 - t0,
      // From the upload's answer until the page showed the import finished (polled once a second).
      jobMs: t2 - t1,
      // The job itself, by the database's own stamps: waiting in the queue, then running.
      queuedMs: (record.startedAt?.getTime() ?? 0) - record.createdAt.getTime(),
      runMs: (record.finishedAt?.getTime() ?? 0) - (record.startedAt?.getTime() ?? 0),
      rowsPerSecond: Math.round(record.recordsDone / ((t2 - t0) / 1000)),
      refused: record.invalid,
      healthz: {
        idleBefore: stats(samples.filter((s) => s.at < t0).map((s) => s.ms)),
        all: stats(samples.filter((s) => s.at >= t0).map((s) => s.ms)),
        duringUpload: stats(samples.filter((s) => s.at >= t0 && s.at <= t1).map((s) => s.ms)),
        duringJob: stats(samples.filter((s) => s.at > t1 && s.at <= t2).map((s) => s.ms)),
      },
      serverEventLoopDelay: {
        p50Ms: Math.round(loop.percentile(50) / 1e5) / 10,
        p99Ms: Math.round(loop.percentile(99) / 1e5) / 10,
        maxMs: Math.round(loop.max / 1e5) / 10,
      },
    };
  } finally {
    await workers?.close();
    if (worker) {
      worker.kill('SIGTERM');
      await once(worker, 'exit');
    }
    await app.close();
  }
}

/** `gazette worker --roles imports`, as deployed; resolves once it logs that its workers started (its logs are dropped after). */
async function startWorkerProcess(envVars: Record<string, string>): Promise<ChildProcess> {
  const proc = spawn(process.execPath, [join(here, '../bin/gazette.js'), 'worker', '--roles', 'imports'], {
    env: { ...process.env, ...envVars, LOG_LEVEL: 'info' },
    // The CLI logs to stderr (its stdout is for --json answers).
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  await new Promise<void>((ok, fail) => {
    let out = '';
    proc.stderr?.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('workers.started')) ok();
    });
    proc.once('exit', (code) => fail(new Error(`worker exited with ${code}`)));
  });
  proc.stderr?.resume();
  return proc;
}

/** Signs the bench's editor in through the real form; returns the cookie header and a CSRF token. */
async function signIn(base: string): Promise<{ cookie: string; csrf: string }> {
  const jar = new Map<string, string>();
  const keep = (res: Response) => {
    for (const c of res.headers.getSetCookie()) {
      const [pair] = c.split(';');
      const eq = pair?.indexOf('=') ?? -1;
      if (pair && eq > 0) jar.set(pair.slice(0, eq), pair.slice(eq + 1));
    }
  };
  const cookie = () => [...jar].map(([k, v]) => `${k}=${v}`).join('; ');
  const form = await fetch(`${base}/admin/sign-in`);
  keep(form);
  const token = (await form.text()).match(/<meta name="csrf-token" content="([^"]+)"/)?.[1] ?? '';
  const signed = await fetch(`${base}/admin/sign-in`, {
    method: 'POST',
    headers: { cookie: cookie(), 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ email: 'editor@bench.example', password: PASSWORD, _csrf: token }),
    redirect: 'manual',
  });
  if (signed.status !== 303) throw new Error(`sign-in answered ${signed.status}`);
  keep(signed);
  const session = await fetch(`${base}/admin/session`, { headers: { cookie: cookie() } });
  keep(session);
  const { csrfToken } = (await session.json()) as { csrfToken: string };
  return { cookie: cookie(), csrf: csrfToken };
}

/** A child process asking /healthz every 10 ms; each sample is when it was asked and how long it took. */
function startHealthPoller(base: string) {
  const proc = spawn(
    process.execPath,
    [
      '--input-type=module',
      '-e',
      `const l=[];let go=true;process.stdin.on('end',()=>{go=false});process.stdin.resume();
       process.stdout.write('started\\n');
       while(go){const at=Date.now();const t=performance.now();
         const r=await fetch('${base}/healthz');await r.text();
         l.push({at,ms:performance.now()-t});await new Promise(r=>setTimeout(r,10));}
       process.stdout.write(JSON.stringify(l));`,
    ],
    { stdio: ['pipe', 'pipe', 'inherit'] },
  );
  let out = '';
  const started = new Promise<void>((ok) => {
    proc.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.startsWith('started\n')) ok();
    });
  });
  return {
    started,
    async stop(): Promise<{ at: number; ms: number }[]> {
      proc.stdin.end();
      await once(proc, 'exit');
      return JSON.parse(out.slice('started\n'.length) || '[]') as { at: number; ms: number }[];
    },
  };
}

function stats(samples: number[]) {
  const l = [...samples].sort((a, b) => a - b);
  const pct = (p: number) =>
    Math.round((l[Math.min(l.length - 1, Math.floor((p / 100) * l.length))] ?? 0) * 10) / 10;
  return { polls: l.length, p50Ms: pct(50), p99Ms: pct(99), maxMs: Math.round((l.at(-1) ?? 0) * 10) / 10 };
}

/** The stage function's own speed, as the CLI runs it: import, the same file again (updates), export. */
async function throughput(ctx: AppContext, dir: string, n: number, batchSize: number) {
  const file = join(dir, 'valid.csv');
  await writeCsv(
    file,
    'email,name,locale,topics',
    n,
    (i) =>
      `reader${i}@example.com,读者${i},${i % 2 ? 'en' : 'zh-CN'},${i % 3 ? '' : 'case-studies;industry-news'}`,
  );
  log(`importing ${n} rows…`);
  let t = performance.now();
  const first = await importSubscribersCsv(ctx.db, file, { batchSize });
  const importMs = performance.now() - t;
  log('re-importing (all updates)…');
  t = performance.now();
  const second = await importSubscribersCsv(ctx.db, file, { batchSize });
  const reimportMs = performance.now() - t;
  t = performance.now();
  const exported = await exportSubscribersCsv(ctx.db, createWriteStream(join(dir, 'out.csv')));
  const exportMs = performance.now() - t;
  return {
    rows: n,
    import: {
      ms: Math.round(importMs),
      rowsPerSecond: Math.round(n / (importMs / 1000)),
      added: first.added,
    },
    reimport: {
      ms: Math.round(reimportMs),
      rowsPerSecond: Math.round(n / (reimportMs / 1000)),
      updated: second.updated,
    },
    export: { ms: Math.round(exportMs), rowsPerSecond: Math.round(exported / (exportMs / 1000)) },
  };
}
