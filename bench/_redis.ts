/**
 * Redis for a benchmark: a private redis-server on a free port (so INFO commandstats counts the
 * benchmark's commands only, not those of tests running beside it), or the one at `url` when given
 * or when redis-server is not installed.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { Redis } from 'ioredis';

export interface BenchRedis {
  url: string;
  /** Whether the server is the benchmark's own (its command counts are the benchmark's alone). */
  private: boolean;
  /** Calls per command since the server started (INFO commandstats). */
  commandCalls(): Promise<Record<string, number>>;
  stop(): Promise<void>;
}

export function findRedisServer(): string | null {
  for (const p of ['/usr/bin/redis-server', '/usr/local/bin/redis-server', '/usr/sbin/redis-server'])
    if (existsSync(p)) return p;
  return null;
}

export function freePort(): Promise<number> {
  return new Promise((ok, fail) => {
    const srv = createServer();
    srv.once('error', fail);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => ok(port));
    });
  });
}

export async function commandCalls(client: Redis): Promise<Record<string, number>> {
  const info = await client.info('commandstats');
  const out: Record<string, number> = {};
  for (const m of info.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) out[m[1] as string] = Number(m[2]);
  return out;
}

/** Calls per command between two readings, busiest first, and their total. */
export function commandDelta(
  before: Record<string, number>,
  after: Record<string, number>,
): { total: number; byCommand: Record<string, number> } {
  const rows = Object.entries(after)
    .map(([k, v]) => [k, v - (before[k] ?? 0)] as const)
    .filter(([, v]) => v > 0)
    .sort((a, b) => b[1] - a[1]);
  return { total: rows.reduce((n, [, v]) => n + v, 0), byCommand: Object.fromEntries(rows) };
}

export async function startBenchRedis(url: string | undefined): Promise<BenchRedis> {
  const bin = url ? null : findRedisServer();
  if (!bin) {
    const shared = url ?? process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
    const client = new Redis(shared, { maxRetriesPerRequest: 1 });
    return {
      url: shared,
      private: false,
      commandCalls: () => commandCalls(client),
      stop: async () => {
        client.disconnect();
      },
    };
  }
  const port = await freePort();
  const proc = spawn(
    bin,
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--daemonize', 'no'],
    { stdio: 'ignore' },
  );
  const own = `redis://127.0.0.1:${port}`;
  const client = new Redis(own, { maxRetriesPerRequest: null, retryStrategy: (n) => Math.min(n * 20, 200) });
  client.on('error', () => {}); // refused until the server listens; ping() waits for it
  await client.ping();
  return {
    url: own,
    private: true,
    commandCalls: () => commandCalls(client),
    stop: async () => {
      client.disconnect();
      await new Promise<void>((ok) => {
        if (proc.exitCode !== null) return ok();
        proc.once('exit', () => ok());
        proc.kill('SIGTERM');
      });
    },
  };
}
