import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type PrivatePostgres, startPrivatePostgres } from '../support/private-postgres.js';
import { randomQueuePrefix, TEST_REDIS_URL } from '../support/test-env.js';
import { staysTrue, waitFor } from '../support/wait.js';

/**
 * `gazette serve` in its own process against a PostgreSQL cluster of the test's own, which the
 * test stops and starts again: the server must ride the outage out without being restarted.
 */
let pg: PrivatePostgres | string;
let server: ChildProcess | undefined;
let base = '';
const output: string[] = [];

async function freePort(): Promise<number> {
  return new Promise((ok, fail) => {
    const s = createServer();
    s.once('error', fail);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => ok(port));
    });
  });
}

/** One request, bounded in time: an answer (status and JSON or text), or null when none came. */
async function get(path: string): Promise<{ status: number; body: string } | null> {
  try {
    const res = await fetch(`${base}${path}`, { signal: AbortSignal.timeout(5000) });
    return { status: res.status, body: await res.text() };
  } catch {
    return null;
  }
}

const alive = () => server?.exitCode === null && server.signalCode === null;

beforeAll(async () => {
  pg = await startPrivatePostgres();
  if (typeof pg === 'string') {
    if (process.env.CI) throw new Error(`the database restart test needs a private cluster: ${pg}`);
    return;
  }
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  server = spawn(process.execPath, [resolve(__dirname, '../../bin/gazette.js'), 'serve'], {
    env: {
      ...process.env,
      NODE_ENV: 'test',
      LOG_LEVEL: 'warn',
      DATABASE_URL: pg.url,
      REDIS_URL: TEST_REDIS_URL,
      QUEUE_PREFIX: randomQueuePrefix(),
      DATA_DIR: mkdtempSync(join(tmpdir(), 'gazette-serve-')),
      SECRET_KEY: randomBytes(32).toString('hex'),
      HTTP_HOST: '127.0.0.1',
      HTTP_PORT: String(port),
      PUBLIC_URL: base,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  server.stdout?.on('data', (d: Buffer) => output.push(d.toString()));
  server.stderr?.on('data', (d: Buffer) => output.push(d.toString()));
  // Migrating a new database and loading the sources through tsx take a while on a busy machine.
  await waitFor('the web server to listen', () => output.join('').includes('Gazette web server on'), {
    timeoutMs: 90_000,
    intervalMs: 100,
  });
}, 120_000);

afterAll(async () => {
  if (server && alive()) {
    const exited = new Promise((ok) => server?.once('exit', ok));
    server.kill('SIGTERM');
    await exited;
  }
  if (typeof pg !== 'string') pg?.destroy();
});

describe('the web server while PostgreSQL restarts', () => {
  it('stays up: /healthz answers, /readyz says the database is down and then up, and pages work again without a restart', async (ctx) => {
    if (typeof pg === 'string') {
      ctx.skip();
      return;
    }
    const cluster = pg;
    const pages = ['/archive', '/subscribe'];
    for (const page of pages) expect((await get(page))?.status, page).toBe(200);
    expect((await get('/readyz'))?.status).toBe(200);

    cluster.stop();
    const down = await waitFor('/readyz to report the database down', async () => {
      const r = await get('/readyz');
      return r?.status === 503 ? r : null;
    });
    expect(JSON.parse(down.body)).toMatchObject({ ok: false, failed: ['database', 'migrations'] });
    expect(JSON.parse(down.body).checks.database).toBe('unreachable');
    // A few seconds without a database: the process lives, is alive by /healthz, and every
    // request gets an answer (pages say they cannot serve now) instead of hanging.
    await staysTrue(
      'the process alive and answering',
      async () => {
        const health = await get('/healthz');
        const page = await get('/archive');
        return alive() && health?.status === 200 && page !== null && page.status >= 500;
      },
      { forMs: 3000, intervalMs: 200 },
    );
    expect(JSON.parse((await get('/healthz'))?.body ?? '{}')).toEqual({ ok: true, database: 'unreachable' });

    cluster.start();
    await waitFor('/readyz to report ready again', async () => (await get('/readyz'))?.status === 200, {
      timeoutMs: 30_000,
      intervalMs: 200,
    });
    for (const page of pages) expect((await get(page))?.status, page).toBe(200);
    expect(JSON.parse((await get('/healthz'))?.body ?? '{}')).toEqual({ ok: true, database: 'ok' });
    expect(alive()).toBe(true);
    // The outage was logged as such, never as a crash.
    expect(output.join('')).not.toMatch(/Unhandled|uncaught/i);
  }, 120_000);
});
