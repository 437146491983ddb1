import type { FastifyPluginAsync } from 'fastify';
import { Redis } from 'ioredis';
import { sql } from 'kysely';
import { migrations } from '../../db/migrations/index.js';
import type { Db } from '../../db/schema.js';
import { publicAccess } from '../auth/access.js';
import type { HttpDeps } from '../deps.js';

/** Each dependency gets this long to answer a probe; a hung one counts as failed. */
export const PROBE_TIMEOUT_MS = 2000;

/**
 * A Redis connection for probes and scrapes that fails fast: a command while Redis is away is
 * refused after one reconnection attempt instead of waiting in the offline queue (BullMQ's own
 * connections wait forever, which is right for workers and wrong for a health check).
 */
export function createProbeRedis(url: string): Redis {
  const client = new Redis(url, {
    lazyConnect: true,
    maxRetriesPerRequest: 1,
    connectTimeout: PROBE_TIMEOUT_MS,
    enableReadyCheck: true,
    retryStrategy: (times) => Math.min(times * 200, 5000),
  });
  client.on('error', () => {}); // reported by the probes that use it
  return client;
}

/** Rejects after `ms` if the promise has not settled (the work itself is not cancelled). */
export function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

export async function pingRedis(client: Redis): Promise<void> {
  if (client.status === 'wait' || client.status === 'end') await client.connect().catch(() => {});
  const answer = await withTimeout(client.ping(), PROBE_TIMEOUT_MS, 'Redis');
  if (answer !== 'PONG') throw new Error(`Redis answered ${answer}`);
}

/**
 * Migrations this build knows that the database has not applied (empty: schema is current). Reads
 * this schema's migration table directly: Kysely's Migrator first introspects every schema of the
 * database, which is slow where there are many and fails when one is dropped meanwhile.
 */
export async function pendingMigrations(db: Db): Promise<string[]> {
  const table = await sql<{ t: string | null }>`SELECT to_regclass('kysely_migration')::text AS t`.execute(
    db,
  );
  if (!table.rows[0]?.t) return Object.keys(migrations);
  const { rows } = await sql<{ name: string }>`SELECT name FROM kysely_migration`.execute(db);
  const applied = new Set(rows.map((r) => r.name));
  return Object.keys(migrations).filter((name) => !applied.has(name));
}

export type CheckResult = { ok: true } | { ok: false; error: string };

export interface Readiness {
  ok: boolean;
  checks: { database: CheckResult; migrations: CheckResult & { pending?: string[] }; redis: CheckResult };
}

const message = (err: unknown) => (err instanceof Error ? err.message : String(err));

/**
 * Whether this process can do its work: the database answers, its schema has every migration
 * this build knows, and Redis answers. The checks run side by side, each bounded in time.
 */
export async function checkReadiness(db: Db, redis: Redis): Promise<Readiness> {
  const database = withTimeout(sql`SELECT 1`.execute(db), PROBE_TIMEOUT_MS, 'The database');
  const [dbResult, pendingResult, redisResult] = await Promise.allSettled([
    database,
    database.then(() => withTimeout(pendingMigrations(db), PROBE_TIMEOUT_MS, 'The migration table')),
    pingRedis(redis),
  ]);
  const checks: Readiness['checks'] = {
    database: dbResult.status === 'fulfilled' ? { ok: true } : { ok: false, error: message(dbResult.reason) },
    migrations:
      pendingResult.status === 'rejected'
        ? { ok: false, error: message(pendingResult.reason) }
        : pendingResult.value.length
          ? { ok: false, error: 'migrations not applied', pending: pendingResult.value }
          : { ok: true },
    redis:
      redisResult.status === 'fulfilled' ? { ok: true } : { ok: false, error: message(redisResult.reason) },
  };
  return { ok: checks.database.ok && checks.migrations.ok && checks.redis.ok, checks };
}

/**
 * GET /readyz, public like /healthz (a load balancer or orchestrator calls it): 200 when the
 * database, the schema and Redis are all fine, else 503 naming each check that failed.
 * /healthz says the process is up; /readyz says it can serve.
 */
export function readyRoutes(deps: HttpDeps): FastifyPluginAsync {
  return async (app) => {
    const redis = createProbeRedis(deps.ctx.env.REDIS_URL);
    app.addHook('onClose', async () => {
      redis.disconnect();
    });
    app.get(
      '/readyz',
      {
        schema: { hide: true },
        config: { access: publicAccess('readiness probe; names failed dependencies only') },
      },
      async (_req, reply) => {
        const { ok, checks } = await checkReadiness(deps.ctx.db, redis);
        const failed = Object.entries(checks)
          .filter(([, c]) => !c.ok)
          .map(([name]) => name);
        if (failed.length)
          deps.ctx.log.warn(
            {
              event: 'http.not_ready',
              failed,
              errors: Object.fromEntries(
                Object.entries(checks).flatMap(([k, c]) => (c.ok ? [] : [[k, c.error]])),
              ),
            },
            `not ready: ${failed.join(', ')}`,
          );
        // Public, so only which check failed; the reason (hosts, ports) goes to the log.
        return reply
          .code(ok ? 200 : 503)
          .header('cache-control', 'no-store')
          .send({
            ok,
            ...(failed.length ? { failed } : {}),
            checks: {
              database: checks.database.ok ? 'ok' : 'unreachable',
              migrations: checks.migrations.ok
                ? 'current'
                : checks.migrations.pending
                  ? 'pending'
                  : 'unknown',
              redis: checks.redis.ok ? 'ok' : 'unreachable',
            },
          });
      },
    );
  };
}
