import { createHash, timingSafeEqual } from 'node:crypto';
import { Queue } from 'bullmq';
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import type { Redis } from 'ioredis';
import { sql } from 'kysely';
import { Gauge, Registry } from 'prom-client';
import { type Db, DELIVERY_STATES, ISSUE_STATES, SUBSCRIBER_STATUSES } from '../../db/schema.js';
import { QUEUES } from '../../queue/names.js';
import { findApiKey } from '../../accounts/api-keys.js';
import type { HttpDeps } from '../deps.js';
import { createProbeRedis, PROBE_TIMEOUT_MS, pingRedis, withTimeout } from './ready.js';

/** The BullMQ job states counted per queue (getJobCounts' names). */
export const JOB_STATES = [
  'waiting',
  'active',
  'delayed',
  'prioritized',
  'waiting-children',
  'completed',
  'failed',
] as const;
export type JobState = (typeof JOB_STATES)[number];

/**
 * Everything /metrics and the operations page report, read at the moment of asking from
 * PostgreSQL and Redis, so the numbers are right however many worker processes there are.
 * A dependency that does not answer is reported as down and its numbers left out.
 */
export interface OpsSnapshot {
  up: { database: boolean; redis: boolean };
  queues: { name: string; paused: boolean; counts: Record<JobState, number> }[];
  deliveries: Record<string, number>;
  acceptedLastMinute: number;
  /** Deliveries whose last SMTP outcome was an error, by error class and by the state it left. */
  smtpErrors: { errorClass: string; state: string; count: number }[];
  sources: { total: number; enabled: number; failing: number };
  failingSources: { id: number; name: string; consecutiveFailures: number; lastErrorAt: Date | null }[];
  issues: Record<string, number>;
  subscribers: Record<string, number>;
}

const countBy = <K extends string>(keys: readonly K[], rows: { k: string; n: number | string }[]) => {
  const out = Object.fromEntries(keys.map((k) => [k, 0])) as Record<string, number>;
  for (const r of rows) out[r.k] = Number(r.n);
  return out;
};

async function databaseNumbers(db: Db, now: Date) {
  const since = new Date(now.getTime() - 60_000);
  const [deliveries, accepted, errors, sources, failing, issues, subscribers] = await Promise.all([
    db
      .selectFrom('deliveries')
      .select(['state as k', (eb) => eb.fn.countAll<number>().as('n')])
      .groupBy('state')
      .execute(),
    db
      .selectFrom('deliveries')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('accepted_at', '>=', since)
      .executeTakeFirstOrThrow(),
    db
      .selectFrom('deliveries')
      .select(['error_class', 'state', (eb) => eb.fn.countAll<number>().as('n')])
      .where('error_class', 'is not', null)
      .groupBy(['error_class', 'state'])
      .orderBy('error_class')
      .orderBy('state')
      .execute(),
    db
      .selectFrom('sources')
      .select([
        (eb) => eb.fn.countAll<number>().as('total'),
        sql<number>`count(*) FILTER (WHERE enabled)`.as('enabled'),
        sql<number>`count(*) FILTER (WHERE status = 'failing')`.as('failing'),
      ])
      .executeTakeFirstOrThrow(),
    db
      .selectFrom('sources')
      .select(['id', 'name', 'consecutive_failures', 'last_error_at'])
      .where('status', '=', 'failing')
      .orderBy('id')
      .limit(200)
      .execute(),
    db
      .selectFrom('issues')
      .select(['state as k', (eb) => eb.fn.countAll<number>().as('n')])
      .groupBy('state')
      .execute(),
    db
      .selectFrom('subscribers')
      .select(['status as k', (eb) => eb.fn.countAll<number>().as('n')])
      .groupBy('status')
      .execute(),
  ]);
  return {
    deliveries: countBy(DELIVERY_STATES, deliveries),
    acceptedLastMinute: Number(accepted.n),
    smtpErrors: errors.map((e) => ({
      errorClass: e.error_class as string,
      state: e.state,
      count: Number(e.n),
    })),
    sources: {
      total: Number(sources.total),
      enabled: Number(sources.enabled),
      failing: Number(sources.failing),
    },
    failingSources: failing.map((s) => ({
      id: s.id,
      name: s.name,
      consecutiveFailures: s.consecutive_failures,
      lastErrorAt: s.last_error_at,
    })),
    issues: countBy(ISSUE_STATES, issues),
    subscribers: countBy(SUBSCRIBER_STATUSES, subscribers),
  };
}

/**
 * Reads queue counts through BullMQ on a fail-fast connection. Queues are opened after Redis
 * answered once and reopened after a failure (a BullMQ queue whose first connect failed stays
 * failed).
 */
export function createOpsReader(db: Db, opts: { redisUrl: string; prefix: string; now: () => Date }) {
  const redis: Redis = createProbeRedis(opts.redisUrl);
  let queues: Map<string, Queue> | null = null;
  const dropQueues = async () => {
    const open = queues;
    queues = null;
    if (open) await Promise.allSettled([...open.values()].map((q) => q.close()));
  };

  async function queueCounts() {
    await pingRedis(redis);
    queues ??= new Map(
      Object.values(QUEUES).map((name) => [
        name,
        new Queue(name, { connection: redis, prefix: opts.prefix }),
      ]),
    );
    try {
      return await withTimeout(
        Promise.all(
          [...queues.entries()].map(async ([name, q]) => ({
            name,
            paused: await q.isPaused(),
            counts: countBy(
              JOB_STATES,
              Object.entries(await q.getJobCounts(...JOB_STATES)).map(([k, n]) => ({ k, n })),
            ) as Record<JobState, number>,
          })),
        ),
        PROBE_TIMEOUT_MS,
        'Redis',
      );
    } catch (err) {
      await dropQueues();
      throw err;
    }
  }

  return {
    async snapshot(): Promise<OpsSnapshot> {
      const [fromDb, fromRedis] = await Promise.allSettled([
        withTimeout(databaseNumbers(db, opts.now()), PROBE_TIMEOUT_MS * 2, 'The database'),
        queueCounts(),
      ]);
      const numbers =
        fromDb.status === 'fulfilled'
          ? fromDb.value
          : {
              deliveries: {},
              acceptedLastMinute: 0,
              smtpErrors: [],
              sources: { total: 0, enabled: 0, failing: 0 },
              failingSources: [],
              issues: {},
              subscribers: {},
            };
      return {
        up: { database: fromDb.status === 'fulfilled', redis: fromRedis.status === 'fulfilled' },
        queues: fromRedis.status === 'fulfilled' ? fromRedis.value : [],
        ...numbers,
      };
    },
    async close() {
      await dropQueues();
      redis.disconnect();
    },
  };
}

export type OpsReader = ReturnType<typeof createOpsReader>;

/**
 * The snapshot in Prometheus text format. A fresh registry per scrape: the values are read from
 * the ledger each time, and two scrapes at once cannot see each other's half-set gauges.
 */
export async function renderMetrics(snap: OpsSnapshot): Promise<{ contentType: string; body: string }> {
  const registry = new Registry();
  const gauge = <L extends string>(name: string, help: string, labelNames: L[] = []) =>
    new Gauge<L>({ name, help, labelNames, registers: [registry] });

  const up = gauge('gazette_dependency_up', 'Whether the dependency answered this scrape (1) or not (0).', [
    'dependency',
  ]);
  up.set({ dependency: 'database' }, snap.up.database ? 1 : 0);
  up.set({ dependency: 'redis' }, snap.up.redis ? 1 : 0);

  if (snap.up.redis) {
    const jobs = gauge(
      'gazette_queue_jobs',
      'BullMQ jobs per queue and state (queue depth: waiting + delayed + prioritized).',
      ['queue', 'state'],
    );
    for (const q of snap.queues)
      for (const state of JOB_STATES) jobs.set({ queue: q.name, state }, q.counts[state] ?? 0);
    const paused = gauge('gazette_queue_paused', 'Whether the queue is paused (1) in BullMQ.', ['queue']);
    for (const q of snap.queues) paused.set({ queue: q.name }, q.paused ? 1 : 0);
  }
  if (snap.up.database) {
    const deliveries = gauge(
      'gazette_deliveries',
      'Delivery ledger rows by state, all issues. rate(gazette_deliveries{state="accepted"}[5m]) is the send rate.',
      ['state'],
    );
    for (const state of DELIVERY_STATES) deliveries.set({ state }, snap.deliveries[state] ?? 0);
    gauge(
      'gazette_deliveries_accepted_last_minute',
      'Deliveries the SMTP relay accepted in the last 60 seconds.',
    ).set(snap.acceptedLastMinute);
    const errors = gauge(
      'gazette_smtp_errors',
      'Deliveries whose last SMTP outcome was an error, by class (src/delivery/classify.ts) and the state it left them in.',
      ['class', 'state'],
    );
    for (const e of snap.smtpErrors) errors.set({ class: e.errorClass, state: e.state }, e.count);
    const sources = gauge(
      'gazette_sources',
      'Feed sources: all, enabled, and failing (consecutive failed polls).',
      ['kind'],
    );
    sources.set({ kind: 'total' }, snap.sources.total);
    sources.set({ kind: 'enabled' }, snap.sources.enabled);
    sources.set({ kind: 'failing' }, snap.sources.failing);
    const failing = gauge(
      'gazette_source_consecutive_failures',
      'Consecutive failed polls of each failing source.',
      ['source_id', 'source'],
    );
    for (const s of snap.failingSources)
      failing.set({ source_id: String(s.id), source: s.name }, s.consecutiveFailures);
    const issues = gauge('gazette_issues', 'Issues by state.', ['state']);
    for (const state of ISSUE_STATES) issues.set({ state }, snap.issues[state] ?? 0);
    const subscribers = gauge('gazette_subscribers', 'Subscribers by status.', ['status']);
    for (const status of SUBSCRIBER_STATUSES) subscribers.set({ status }, snap.subscribers[status] ?? 0);
  }
  return { contentType: registry.contentType, body: await registry.metrics() };
}

const digest = (s: string) => createHash('sha256').update(s).digest();

function bearer(req: FastifyRequest): string | undefined {
  return req.headers.authorization?.match(/^Bearer\s+(\S+)$/i)?.[1];
}

export type MetricsVerdict = 'allow' | 'unauthenticated' | 'forbidden';

/**
 * Who may scrape: a Prometheus server holding METRICS_TOKEN (a read-only credential, so a
 * leaked scrape config cannot change subscribers the way an API key could), an admin API key,
 * or a signed-in admin looking in a browser.
 */
export async function metricsAccess(
  req: FastifyRequest,
  opts: { db: Db; token: string | undefined; apiKeys: readonly string[] },
): Promise<MetricsVerdict> {
  const presented = bearer(req) ?? (req.headers['x-api-key'] as string | undefined);
  if (presented !== undefined) {
    if (opts.token && timingSafeEqual(digest(presented), digest(opts.token))) return 'allow';
    const holder = await findApiKey(opts.db, opts.apiKeys, presented);
    if (!holder) return 'unauthenticated';
    return holder.role === 'admin' ? 'allow' : 'forbidden';
  }
  const actor = req.actor;
  if (actor?.kind !== 'user') return 'unauthenticated';
  return actor.user.role === 'admin' ? 'allow' : 'forbidden';
}

/**
 * GET /metrics in Prometheus text format. The route is public to the access guard (which knows
 * sessions and API keys, not the scrape token) and checks metricsAccess itself.
 */
export function metricsRoutes(deps: HttpDeps): FastifyPluginAsync {
  const { ctx } = deps;
  return async (app) => {
    const reader = createOpsReader(ctx.db, {
      redisUrl: ctx.env.REDIS_URL,
      prefix: ctx.env.QUEUE_PREFIX,
      now: ctx.now,
    });
    app.addHook('onClose', async () => reader.close());
    app.get(
      '/metrics',
      {
        schema: { hide: true },
        config: {
          access: {
            kind: 'public',
            why: 'read-only; the handler requires METRICS_TOKEN, an API key or an admin session',
          },
        },
      },
      async (req, reply) => {
        const verdict = await metricsAccess(req, {
          db: ctx.db,
          token: ctx.env.METRICS_TOKEN,
          apiKeys: ctx.env.API_KEYS,
        });
        if (verdict !== 'allow') {
          return reply
            .code(verdict === 'forbidden' ? 403 : 401)
            .header('www-authenticate', 'Bearer realm="gazette-metrics"')
            .send({ error: verdict === 'forbidden' ? 'forbidden' : 'unauthorized' });
        }
        const { contentType, body } = await renderMetrics(await reader.snapshot());
        return reply.header('cache-control', 'no-store').type(contentType).send(body);
      },
    );
  };
}
