import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import { waitFor } from './wait.js';

/**
 * A Redis Cluster of a test's own: three primaries (Debian's redis-server in cluster mode) on free
 * ports, joined with `redis-cli --cluster create`. Each node also needs its port + 10000 free (the
 * cluster bus).
 */
export const REDIS_SERVER = '/usr/bin/redis-server';
export const REDIS_CLI = '/usr/bin/redis-cli';

/** Whether both tools are installed; absent: one line says so, and with `CI` set it is an error. */
export function redisClusterToolsPresent(): boolean {
  const missing = [REDIS_SERVER, REDIS_CLI].filter((p) => !existsSync(p));
  if (!missing.length) return true;
  if (process.env.CI) throw new Error(`${missing.join(' and ')} missing: apt-get install -y redis-server`);
  console.log(`skipped: ${missing.join(' and ')} absent (apt-get install -y redis-server)`);
  return false;
}

export interface RedisClusterHandle {
  /** One node, as REDIS_URL takes it: `redis://127.0.0.1:P/?cluster=true`. */
  url: string;
  ports: number[];
  stop(): Promise<void>;
}

function portFree(port: number): Promise<boolean> {
  return new Promise((ok) => {
    const s = createServer();
    s.once('error', () => ok(false));
    s.listen(port, '127.0.0.1', () => s.close(() => ok(true)));
  });
}

/** A port whose cluster-bus twin (port + 10000) is free too. */
async function clusterPort(taken: Set<number>): Promise<number> {
  for (let i = 0; i < 200; i++) {
    const p = 17000 + Math.floor(Math.random() * 10000);
    if (taken.has(p) || taken.has(p + 10000)) continue;
    if ((await portFree(p)) && (await portFree(p + 10000))) {
      taken.add(p);
      taken.add(p + 10000);
      return p;
    }
  }
  throw new Error('no free port pair for a Redis Cluster node');
}

export async function startRedisCluster(nodes = 3): Promise<RedisClusterHandle> {
  const dir = mkdtempSync(join(tmpdir(), 'gazette-redis-cluster-'));
  const taken = new Set<number>();
  const ports: number[] = [];
  for (let i = 0; i < nodes; i++) ports.push(await clusterPort(taken));
  const procs: ChildProcess[] = ports.map((port) =>
    spawn(
      REDIS_SERVER,
      [
        '--port',
        String(port),
        '--bind',
        '127.0.0.1',
        '--cluster-enabled',
        'yes',
        '--cluster-config-file',
        join(dir, `nodes-${port}.conf`),
        '--cluster-node-timeout',
        '5000',
        '--dir',
        dir,
        '--save',
        '',
        '--appendonly',
        'no',
      ],
      { stdio: 'ignore' },
    ),
  );
  const stop = async () => {
    await Promise.all(
      procs.map(
        (p) =>
          new Promise<void>((ok) => {
            if (p.exitCode !== null) return ok();
            p.once('exit', () => ok());
            p.kill('SIGTERM');
          }),
      ),
    );
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    for (const port of ports) {
      const c = new Redis(port, '127.0.0.1', { retryStrategy: (n) => (n > 100 ? null : 50) });
      c.on('error', () => {});
      await c.ping();
      c.disconnect();
    }
    await promisify(execFile)(
      REDIS_CLI,
      [
        '--cluster',
        'create',
        ...ports.map((p) => `127.0.0.1:${p}`),
        '--cluster-replicas',
        '0',
        '--cluster-yes',
      ],
      { timeout: 60_000 },
    );
    // Every node must agree that all slots are served before a client may rely on it.
    await waitFor(
      'every Redis Cluster node to report cluster_state:ok',
      async () => {
        const states = await Promise.all(
          ports.map(async (port) => {
            const c = new Redis(port, '127.0.0.1');
            try {
              return /cluster_state:ok/.test(String(await c.cluster('INFO')));
            } finally {
              c.disconnect();
            }
          }),
        );
        return states.every(Boolean);
      },
      { timeoutMs: 30_000, intervalMs: 100 },
    );
  } catch (err) {
    await stop();
    throw err;
  }
  return { url: `redis://127.0.0.1:${ports[0]}/?cluster=true`, ports, stop };
}
