import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { FastifyAdapter } from '@bull-board/fastify';
import type { FastifyInstance, FastifyPluginAsync, RouteOptions } from 'fastify';
import type { Access } from '../../auth/access.js';
import { createOpsReader, JOB_STATES, type OpsSnapshot } from '../../ops/metrics.js';
import { checkReadiness, createProbeRedis } from '../../ops/ready.js';
import { QUEUES } from '../../../queue/names.js';
import type { WebDeps } from '../deps.js';
import { requestLocale, sendAdminPage } from '../respond.js';
import { defineStrings } from '../strings.js';
import { textsFor } from './subscribers/form.js';

export const OPS_STRINGS = defineStrings({
  'zh-CN': {
    opsTitle: '运维',
    opsIntro: '队列、发送和信息源的实时状况。数据在打开页面时从数据库和 Redis 读取，每 15 秒刷新。',
    opsLinks: '工具',
    opsBoard: '队列面板（bull-board）',
    opsBoardHint: '查看、重试或清理 BullMQ 任务。',
    opsMetrics: 'Prometheus 指标（/metrics）',
    opsReady: '就绪检查（/readyz）',
    opsHealth: '存活检查（/healthz）',
    opsReadiness: '就绪状态',
    opsDatabase: '数据库',
    opsMigrations: '数据库迁移',
    opsRedis: 'Redis',
    opsOk: '正常',
    opsFailed: '异常',
    opsQueues: '队列',
    opsQueue: '队列',
    opsQueuePaused: '已暂停',
    opsRedisDown: 'Redis 没有响应，无法读取队列。',
    opsDatabaseDown: '数据库没有响应。',
    opsDeliveries: '发送记录',
    opsAcceptedLastMinute: '最近一分钟被接收：{n} 封',
    opsState: '状态',
    opsCount: '数量',
    opsSmtpErrors: 'SMTP 错误（按类别）',
    opsErrorClass: '类别',
    opsNoErrors: '没有 SMTP 错误。',
    opsSources: '信息源',
    opsSourcesSummary: '共 {total} 个，启用 {enabled} 个，失败 {failing} 个。',
    opsFailingSource: '失败的信息源',
    opsConsecutive: '连续失败次数',
    opsLastError: '最近出错',
    stateWaiting: '等待中',
    stateActive: '进行中',
    stateDelayed: '延迟',
    statePrioritized: '按优先级等待',
    'stateWaiting-children': '等待子任务',
    stateCompleted: '已完成',
    stateFailed: '失败',
  },
  en: {
    opsTitle: 'Operations',
    opsIntro:
      'Queues, sending and sources as they are now: read from the database and Redis when the page opens, refreshed every 15 seconds.',
    opsLinks: 'Tools',
    opsBoard: 'Queue dashboard (bull-board)',
    opsBoardHint: 'Look at, retry or clean BullMQ jobs.',
    opsMetrics: 'Prometheus metrics (/metrics)',
    opsReady: 'Readiness (/readyz)',
    opsHealth: 'Liveness (/healthz)',
    opsReadiness: 'Readiness',
    opsDatabase: 'Database',
    opsMigrations: 'Migrations',
    opsRedis: 'Redis',
    opsOk: 'OK',
    opsFailed: 'Failed',
    opsQueues: 'Queues',
    opsQueue: 'Queue',
    opsQueuePaused: 'paused',
    opsRedisDown: 'Redis is not answering; the queues cannot be read.',
    opsDatabaseDown: 'The database is not answering.',
    opsDeliveries: 'Deliveries',
    opsAcceptedLastMinute: 'Accepted in the last minute: {n}',
    opsState: 'State',
    opsCount: 'Count',
    opsSmtpErrors: 'SMTP errors by class',
    opsErrorClass: 'Class',
    opsNoErrors: 'No SMTP errors.',
    opsSources: 'Sources',
    opsSourcesSummary: '{total} in all, {enabled} enabled, {failing} failing.',
    opsFailingSource: 'Failing source',
    opsConsecutive: 'Failures in a row',
    opsLastError: 'Last error',
    stateWaiting: 'Waiting',
    stateActive: 'Active',
    stateDelayed: 'Delayed',
    statePrioritized: 'Prioritized',
    'stateWaiting-children': 'Waiting for children',
    stateCompleted: 'Completed',
    stateFailed: 'Failed',
  },
});

const ADMIN_ACCESS: Access = { kind: 'session', role: 'admin' };
const ADMIN = { config: { access: ADMIN_ACCESS } } as const;
export const BOARD_PATH = '/admin/queues';

/**
 * bull-board's page asks Google for two web fonts; on a closed network that request hangs or
 * fails, and it leaks the visit either way. The link is taken out of the HTML (the board falls
 * back to system fonts) and a Content-Security-Policy limits the page to this origin, so any
 * other outside request the bundle might make is refused by the browser.
 */
export const BOARD_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  "font-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'self'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

export function stripExternalAssets(html: string): string {
  return html.replace(/<link[^>]+href="https?:\/\/[^"]*"[^>]*>/gi, '');
}

/** Where the board's axios client looks for a CSRF token (its xsrfCookieName default). */
export const BOARD_XSRF_COOKIE = 'XSRF-TOKEN';

/**
 * Mounts bull-board at /admin/queues over every queue in src/queue/names.ts, admin-only.
 * bull-board declares its routes without a config, so the access guard would give them the
 * default (viewer for reads, editor for changes). This context's onRoute hook runs after the
 * guard's (a child context runs its parent's hooks first) and raises each route, the static
 * files included, to admin: in the route's config, which the guard checks per request, and in
 * the access table the route-walk test reads. Its changes (retry, clean, pause) still need the
 * session's CSRF token: the board's axios client sends the XSRF-TOKEN cookie back as the
 * X-XSRF-TOKEN header on same-origin requests, a header the CSRF check reads, so the page is
 * given that cookie (readable by script, limited to /admin/queues, SameSite=Strict).
 */
async function mountBoard(app: FastifyInstance, deps: WebDeps): Promise<void> {
  await app.register(async (board) => {
    board.addHook('onRoute', (route: RouteOptions) => {
      const declared = route.config?.access;
      for (const entry of board.accessTable)
        if (entry.url === route.url && entry.access === declared) entry.access = ADMIN_ACCESS;
      route.config = { ...route.config, access: ADMIN_ACCESS } as typeof route.config;
    });
    board.addHook('preHandler', async (req, reply) => {
      if (req.method !== 'GET' || req.actor?.kind !== 'user') return;
      const path = req.url.split('?')[0] ?? '';
      if (path.startsWith(`${BOARD_PATH}/static/`) || path.startsWith(`${BOARD_PATH}/api/`)) return;
      reply.setCookie(BOARD_XSRF_COOKIE, reply.csrfToken(), {
        path: BOARD_PATH,
        sameSite: 'strict',
        secure: 'auto',
        httpOnly: false,
      });
    });
    board.addHook('onSend', async (_req, reply, payload) => {
      reply.header('content-security-policy', BOARD_CSP);
      reply.header('x-content-type-options', 'nosniff');
      const type = String(reply.getHeader('content-type') ?? '');
      return typeof payload === 'string' && type.startsWith('text/html')
        ? stripExternalAssets(payload)
        : payload;
    });
    const serverAdapter = new FastifyAdapter();
    serverAdapter.setBasePath(BOARD_PATH);
    createBullBoard({
      queues: Object.values(QUEUES).map((name) => new BullMQAdapter(deps.queue(name))),
      serverAdapter,
      options: {
        uiConfig: {
          boardTitle: 'Gazette',
          hideDocsLink: true,
          miscLinks: [{ text: '← Gazette', url: '/admin/ops' }],
          locale: { lng: deps.ctx.env.DEFAULT_LOCALE === 'zh-CN' ? 'zh-CN' : 'en-US' },
        },
      },
    });
    await board.register(serverAdapter.registerPlugin(), { prefix: BOARD_PATH });
  });
}

function view(snap: OpsSnapshot, t: Record<string, string | undefined>) {
  return {
    queues: snap.queues.map((q) => ({
      name: q.name,
      paused: q.paused,
      cells: JOB_STATES.map((s) => q.counts[s] ?? 0),
    })),
    jobStates: JOB_STATES.map((s) => t[`state${s[0]?.toUpperCase()}${s.slice(1)}`] ?? s),
    deliveries: Object.entries(snap.deliveries).map(([state, n]) => ({ state, n })),
  };
}

/**
 * /admin/ops (admins): the queue counts, deliveries by state with the last minute's accepted,
 * SMTP errors by class, failing sources and the readiness checks, with links to bull-board,
 * /metrics, /readyz and /healthz. Reads the same snapshot as /metrics.
 */
export function opsPages(deps: WebDeps): FastifyPluginAsync {
  const { ctx } = deps;
  return async (app) => {
    const reader = createOpsReader(ctx.db, {
      redisUrl: ctx.env.REDIS_URL,
      prefix: ctx.env.QUEUE_PREFIX,
      now: ctx.now,
    });
    const probe = createProbeRedis(ctx.env.REDIS_URL);
    app.addHook('onClose', async () => {
      await reader.close();
      probe.disconnect();
    });

    await mountBoard(app, deps);

    app.get('/admin/ops', ADMIN, async (req, reply) => {
      const t = textsFor(await requestLocale(deps, req), OPS_STRINGS);
      const [snap, ready] = await Promise.all([reader.snapshot(), checkReadiness(ctx.db, probe)]);
      return sendAdminPage(deps, req, reply, {
        page: 'ops-index',
        title: 'opsTitle',
        strings: OPS_STRINGS,
        scripts: ['ops.js'],
        data: {
          snap,
          ...view(snap, t),
          checks: [
            { label: t.opsDatabase, ok: ready.checks.database.ok },
            { label: t.opsMigrations, ok: ready.checks.migrations.ok },
            { label: t.opsRedis, ok: ready.checks.redis.ok },
          ],
          boardPath: BOARD_PATH,
        },
      });
    });
  };
}
