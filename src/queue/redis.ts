import { Redis, type RedisOptions } from 'ioredis';

export class RedisUnavailableError extends Error {
  override name = 'RedisUnavailableError';
}

/** A connection for BullMQ: workers need maxRetriesPerRequest null so blocking commands never give up. */
export function createRedis(url: string, opts: RedisOptions = {}): Redis {
  return new Redis(url, { maxRetriesPerRequest: null, enableReadyCheck: true, ...opts });
}

/** Fails fast, with the way to start one, when no Redis answers at `url`. */
export async function assertRedisReachable(url: string, timeoutMs = 3000): Promise<void> {
  const probe = new Redis(url, {
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
