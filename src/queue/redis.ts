import { Cluster, Redis, type RedisOptions } from 'ioredis';
import { isClusterUrl } from '../config/env.js';

export class RedisUnavailableError extends Error {
  override name = 'RedisUnavailableError';
}

/** One Redis server, or a Redis Cluster (every command Gazette uses answers the same on both). */
export type RedisClient = Redis | Cluster;

function clusterOf(url: string, opts: RedisOptions): Cluster {
  const u = new URL(url);
  u.searchParams.delete('cluster');
  const node = { host: u.hostname, port: Number(u.port || 6379) };
  return new Cluster([node], {
    redisOptions: {
      ...opts,
      username: u.username ? decodeURIComponent(u.username) : undefined,
      password: u.password ? decodeURIComponent(u.password) : undefined,
      ...(u.protocol === 'rediss:' ? { tls: {} } : {}),
    },
    enableReadyCheck: opts.enableReadyCheck ?? true,
    ...(opts.maxRetriesPerRequest !== undefined ? { maxRetriesPerRequest: opts.maxRetriesPerRequest } : {}),
    lazyConnect: opts.lazyConnect ?? false,
  } as ConstructorParameters<typeof Cluster>[1]);
}

/**
 * A connection for BullMQ: workers need maxRetriesPerRequest null so blocking commands never give
 * up. A cluster URL (see isClusterUrl) gives a Cluster client.
 */
export function createRedis(url: string, opts: RedisOptions = {}): RedisClient {
  const all = { maxRetriesPerRequest: null, enableReadyCheck: true, ...opts };
  return isClusterUrl(url) ? clusterOf(url, all) : new Redis(url, all);
}

/**
 * Keys matching `pattern` on every primary (a cluster spreads keys over its nodes; one server
 * holds them all). For listings, never on a hot path.
 */
export async function scanKeys(client: RedisClient, pattern: string): Promise<string[]> {
  if (client instanceof Cluster && client.status !== 'ready')
    await new Promise<void>((ok, fail) => {
      client.once('ready', () => ok());
      client.once('end', () => fail(new Error('the Redis Cluster connection ended')));
    });
  const nodes = client instanceof Cluster ? client.nodes('master') : [client];
  const out: string[] = [];
  for (const node of nodes) {
    let cursor = '0';
    do {
      const [next, keys] = await node.scan(cursor, 'MATCH', pattern, 'COUNT', 200);
      cursor = next;
      out.push(...keys);
    } while (cursor !== '0');
  }
  return out;
}

/** Fails fast, with the way to start one, when no Redis answers at `url`. */
export async function assertRedisReachable(url: string, timeoutMs = 3000): Promise<void> {
  const probe = createRedis(url, {
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    connectTimeout: timeoutMs,
    retryStrategy: () => null,
  });
  probe.on('error', () => {}); // reported below, not as an unhandled event
  try {
    await probe.connect();
    await probe.ping();
    const policy = await probe.config('GET', 'maxmemory-policy').catch(() => null);
    const value = Array.isArray(policy) ? policy[1] : undefined;
    if (value && value !== 'noeviction') {
      // BullMQ loses jobs when Redis evicts keys; the ledger would recover them, but say so.
      process.emitWarning(`Redis maxmemory-policy is ${value}; BullMQ needs noeviction.`);
    }
  } catch (err) {
    const safeUrl = redactUrl(url);
    throw new RedisUnavailableError(
      `Redis is not answering at ${safeUrl} (${err instanceof Error ? err.message : String(err)}).\n` +
        'Gazette keeps its work queue in Redis. Start one:\n' +
        '  Debian/Ubuntu:  sudo apt-get install -y redis-server && sudo redis-server --daemonize yes\n' +
        '  Docker:         docker compose up -d redis\n' +
        'or point REDIS_URL at a running server.',
    );
  } finally {
    probe.disconnect();
  }
}

export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '(unparseable URL)';
  }
}
