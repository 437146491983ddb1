import formbody from '@fastify/formbody';
import rateLimit from '@fastify/rate-limit';
import swagger from '@fastify/swagger';
import Fastify, {
  type FastifyBaseLogger,
  type FastifyInstance,
  type FastifyPluginAsync,
  LogController,
} from 'fastify';
import type { SendMail } from '../../subscribers/mail.js';
import { hasControl } from '../../subscribers/text.js';
import type { AppContext } from '../context.js';
import { pageBrand } from '../publication/branding.js';
import { getPublication } from '../publication/publication.js';
import { accessGuard } from './auth/guard.js';
import { type BackgroundTasks, createBackgroundTasks } from './background.js';
import type { HttpDeps } from './deps.js';
import { fromAcceptLanguage, strings } from './i18n.js';
import { loadPages } from './public/pages.js';
import { apiRoutes } from './api/v1.js';
import { brandRoutes } from './public/brand.js';
import { healthRoutes } from './ops/health.js';
import { metricsRoutes } from './ops/metrics.js';
import { preferencesRoutes } from './public/preferences.js';
import { readyRoutes } from './ops/ready.js';
import { subscribeRoutes } from './public/subscribe.js';
import { unsubscribeRoutes } from './public/unsubscribe.js';
import { webVersionRoutes } from './public/web-version.js';
import { registerSecurityHeaders } from './security-headers.js';

export type { SendMail };

export interface BuildServerDeps {
  ctx: AppContext;
  sendMail: SendMail;
  /** Other stages' routes (archive pages, tracking, editors' app), registered after ours. */
  plugins?: FastifyPluginAsync[];
}

declare module 'fastify' {
  interface FastifyInstance {
    /** Work still running after a reply (subscribe mail); await settle() before asserting on it. */
    background: BackgroundTasks;
  }
}

/**
 * The web server: subscriber pages (subscribe, confirm, preferences, unsubscribe, one-click),
 * the JSON API under /api/v1 with its OpenAPI document at /openapi.json, and /healthz.
 */
export async function buildServer(deps: BuildServerDeps): Promise<FastifyInstance> {
  const { ctx } = deps;
  const app = Fastify({
    loggerInstance: ctx.log.child({ component: 'http' }) as FastifyBaseLogger,
    // Request lines would carry link tokens; our own events log ids instead.
    logController: new LogController({ disableRequestLogging: true }),
    trustProxy: parseTrustProxy(ctx.env.TRUST_PROXY),
    bodyLimit: 64 * 1024,
    // Signed link tokens are path parameters of 100-300 characters.
    routerOptions: { maxParamLength: 1024 },
    ajv: { customOptions: { removeAdditional: false, coerceTypes: 'array', allErrors: true } },
  });
  const background = createBackgroundTasks(ctx.log);
  app.decorate('background', background);
  app.addHook('onClose', async () => background.settle());

  const pages = loadPages();
  const httpDeps: HttpDeps = {
    ctx,
    sendMail: deps.sendMail,
    pages,
    background,
    async publicationName() {
      const row = await ctx.db.selectFrom('publication').select('name').executeTakeFirst();
      return row?.name ?? 'Gazette';
    },
    async brand() {
      return pageBrand(await getPublication(ctx.db));
    },
  };

  await app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: {
        title: 'Gazette API',
        version: '1',
        description: 'Subscribers and suppressions. Admin routes need an API key (X-API-Key header).',
      },
      components: {
        securitySchemes: { apiKey: { type: 'apiKey', in: 'header', name: 'x-api-key' } },
      },
    },
  });
  // Before any route, so every route (ours and the plugins') passes the one access gate.
  await app.register(accessGuard, {
    db: ctx.db,
    secrets: ctx.secrets,
    apiKeys: ctx.env.API_KEYS,
    now: ctx.now,
    refusalPage: (request, status) => {
      const locale = fromAcceptLanguage(request.headers['accept-language']) ?? ctx.env.DEFAULT_LOCALE;
      const t = strings(locale);
      return status === 401
        ? pages('message', locale, { title: t.signInRequiredTitle, message: t.signInRequiredBody })
        : pages('message', locale, { title: t.forbiddenTitle, message: t.forbiddenBody });
    },
  });
  await registerSecurityHeaders(app, { publicUrl: ctx.env.PUBLIC_URL });
  // No query value of any route holds a control character (a NUL would reach PostgreSQL as an error).
  app.addHook('onRequest', async (request) => {
    const name = controlCharacterParam(request.query);
    if (name !== null) throw new QueryValueError(name);
  });
  await app.register(formbody);
  await app.register(rateLimit, { global: false });

  app.setNotFoundHandler((request, reply) => {
    const locale = fromAcceptLanguage(request.headers['accept-language']) ?? ctx.env.DEFAULT_LOCALE;
    if (request.url.startsWith('/api/')) return reply.code(404).send({ error: 'not_found' });
    const t = strings(locale);
    return reply
      .code(404)
      .type('text/html; charset=utf-8')
      .send(pages('message', locale, { title: t.notFoundTitle, message: t.notFoundBody }));
  });
  app.setErrorHandler((err: Error & { statusCode?: number; validation?: unknown }, request, reply) => {
    if (err instanceof QueryValueError && !request.url.startsWith('/api/')) {
      const locale = fromAcceptLanguage(request.headers['accept-language']) ?? ctx.env.DEFAULT_LOCALE;
      const t = strings(locale);
      const message = t.queryControl.replace('{name}', err.param);
      return reply
        .code(400)
        .type('text/html; charset=utf-8')
        .send(pages('message', locale, { title: t.invalidTitle, message }));
    }
    const status = err.statusCode && err.statusCode >= 400 ? err.statusCode : 500;
    if (status >= 500)
      request.log.error({ event: 'http.error', err, url: request.routeOptions.url }, 'request failed');
    if (request.url.startsWith('/api/') || request.url === '/openapi.json') {
      return reply.code(status).send({ error: status >= 500 ? 'internal_error' : err.message });
    }
    const locale = fromAcceptLanguage(request.headers['accept-language']) ?? ctx.env.DEFAULT_LOCALE;
    const t = strings(locale);
    const [title, message] =
      status === 429
        ? [t.rateLimitedTitle, t.rateLimitedBody]
        : status >= 500
          ? [t.errorTitle, t.errorBody]
          : [t.invalidTitle, err.message];
    return reply
      .code(status)
      .type('text/html; charset=utf-8')
      .send(pages('message', locale, { title, message }));
  });

  await app.register(healthRoutes(httpDeps));
  await app.register(brandRoutes(httpDeps));
  await app.register(readyRoutes(httpDeps));
  await app.register(metricsRoutes(httpDeps));
  await app.register(subscribeRoutes(httpDeps));
  await app.register(unsubscribeRoutes(httpDeps));
  await app.register(preferencesRoutes(httpDeps));
  await app.register(webVersionRoutes(httpDeps));
  await app.register(apiRoutes(httpDeps), { prefix: '/api/v1' });
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());
  for (const plugin of deps.plugins ?? []) await app.register(plugin);
  await app.ready();
  return app;
}

/** A query value with a control character: refused with 400, naming the parameter. */
export class QueryValueError extends Error {
  override name = 'QueryValueError';
  readonly statusCode = 400;
  constructor(readonly param: string) {
    super(`query parameter "${param}" contains a control character`);
  }
}

/** The first query parameter whose value holds a control character, or null (pure). */
export function controlCharacterParam(query: unknown): string | null {
  if (!query || typeof query !== 'object') return null;
  for (const [name, value] of Object.entries(query as Record<string, unknown>)) {
    const values = Array.isArray(value) ? value : [value];
    if (values.some((v) => typeof v === 'string' && hasControl(v))) return name;
  }
  return null;
}

/** TRUST_PROXY: a spoofed X-Forwarded-For must not let a client dodge a per-address rate limit. */
export function parseTrustProxy(value: string): boolean | string[] {
  if (value === 'true') return true;
  if (value === 'false') return false;
  return value
    .split(',')
    .map((v) => v.trim())
    .filter(Boolean);
}

/** Builds the server and listens on HTTP_HOST:HTTP_PORT. */
export async function startServer(deps: BuildServerDeps): Promise<{ app: FastifyInstance; url: string }> {
  const app = await buildServer(deps);
  const address = await app.listen({ host: deps.ctx.env.HTTP_HOST, port: deps.ctx.env.HTTP_PORT });
  deps.ctx.log.info({ event: 'http.listening', address }, 'web server listening');
  return { app, url: address };
}
