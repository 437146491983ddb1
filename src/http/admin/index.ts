import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import { Queue } from 'bullmq';
import type { FastifyPluginAsync } from 'fastify';
import { createRedis } from '../../queue/redis.js';
import type { WebDeps } from './deps.js';
import { inboxPages } from './pages/inbox/index.js';
import { issuesPages } from './pages/issues/index.js';
import { opsPages } from './pages/ops.js';
import { previewPages } from './pages/preview.js';
import { sendPages } from './pages/send.js';
import { settingsPages } from './pages/settings.js';
import { sourcesPages } from './pages/sources/index.js';
import { statsPages } from './pages/stats.js';
import { subscribersPages } from './pages/subscribers/index.js';
import { usersPages } from './pages/users.js';
import { welcomePages } from './pages/welcome.js';
import { loadAdminRenderer } from './render.js';
import { sessionRoutes } from './routes/session.js';

const ASSETS = fileURLToPath(new URL('./assets/', import.meta.url));

export type WebAppOptions = Omit<WebDeps, 'pages' | 'queue'>;

/**
 * The editors' web app under /admin: server-rendered pages (templates/admin) with small scripts
 * for drag and drop, autosave and live progress; every asset is served from here, none from a CDN.
 * Each page area registers its routes from its own module.
 */
export function webApp(options: WebAppOptions): FastifyPluginAsync {
  return async (app) => {
    const { ctx } = options;
    const queues = new Map<string, Queue>();
    const deps: WebDeps = {
      ...options,
      pages: loadAdminRenderer(),
      queue(name) {
        let q = queues.get(name);
        if (!q) {
          q = new Queue(name, { connection: createRedis(ctx.env.REDIS_URL), prefix: ctx.env.QUEUE_PREFIX });
          queues.set(name, q);
        }
        return q;
      },
    };
    app.addHook('onClose', async () => {
      await Promise.all([...queues.values()].map((q) => q.close()));
    });

    await app.register(fastifyStatic, {
      root: ASSETS,
      // Outside /admin: public, since the sign-in page needs its stylesheet too.
      prefix: '/static/',
      decorateReply: false,
      cacheControl: true,
      maxAge: '1h',
    });
    await app.register(sessionRoutes(deps));
    // Page areas (each in src/http/admin/pages/<area>.ts) register here.
    await app.register(previewPages(deps));
    await app.register(sendPages(deps));
    await app.register(statsPages(deps));
    await app.register(subscribersPages(deps));
    await app.register(usersPages(deps));
    await app.register(settingsPages(deps));
    await app.register(opsPages(deps));
    await app.register(issuesPages(deps));
    await app.register(inboxPages(deps));
    await app.register(sourcesPages(deps));
    await app.register(welcomePages(deps));
  };
}
