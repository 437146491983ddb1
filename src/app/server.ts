import { Queue } from 'bullmq';
import type { FastifyInstance, FastifyPluginAsync, FastifyRequest } from 'fastify';
import type { AppContext } from '../context.js';
import { isValidApiKey } from '../http/api-keys.js';
import { type BuildServerDeps, buildServer, type SendMail, startServer } from '../http/server.js';
import { archiveRoutes } from '../issues/archive-routes.js';
import { issueEditorRoutes } from '../issues/editor-routes.js';
import { createLinkProbe } from '../issues/link-probe.js';
import { QUEUES } from '../queue/names.js';
import { createRedis } from '../queue/redis.js';
import { trackingRoutes } from '../tracking/routes.js';
import { cachedRenderer, previewRenderer } from './preview.js';

/**
 * The one web server: subscriber pages and API (src/http), the public archive (src/issues) and
 * the tracking endpoints and webhooks (src/tracking), each registered as its stage's plugin.
 */
export function appPlugins(ctx: AppContext): FastifyPluginAsync[] {
  const render = cachedRenderer(previewRenderer(ctx.env.PUBLIC_URL));
  const archive: FastifyPluginAsync = async (app) => {
    await app.register(archiveRoutes, { ctx, render });
  };
  const tracking: FastifyPluginAsync = async (app) => {
    // Statistics are for editors: the same API key as the admin JSON API.
    app.addHook('onRequest', async (req, reply) => {
      if (!req.url.startsWith('/api/')) return;
      if (!(await apiKeyActor(ctx, req))) {
        return reply.code(401).send({ error: 'an API key is required (x-api-key header)' });
      }
    });
    await app.register(trackingRoutes, {
      db: ctx.db,
      log: ctx.log,
      secrets: ctx.secrets,
      snsTopicArns: ctx.env.SES_SNS_TOPIC_ARNS,
      ...(ctx.env.MAILGUN_WEBHOOK_SIGNING_KEY
        ? { mailgunSigningKey: ctx.env.MAILGUN_WEBHOOK_SIGNING_KEY }
        : {}),
    });
  };
  const editor: FastifyPluginAsync = async (app) => {
    const queue = new Queue(QUEUES.issues, {
      connection: createRedis(ctx.env.REDIS_URL),
      prefix: ctx.env.QUEUE_PREFIX,
    });
    app.addHook('onClose', async () => queue.close());
    await app.register(issueEditorRoutes, {
      ctx: { db: ctx.db, log: ctx.log, env: ctx.env, now: ctx.now },
      authorize: (req) => apiKeyActor(ctx, req),
      queue,
      render,
      probeLink: createLinkProbe(ctx.env),
    });
  };
  return [archive, tracking, editor];
}

/**
 * The admin routes' gate until the editors' web app brings sessions: a valid API key (header
 * x-api-key or a Bearer token) names the actor in the audit log; anything else is refused.
 */
export async function apiKeyActor(ctx: AppContext, req: FastifyRequest): Promise<string | null> {
  const header = req.headers['x-api-key'];
  const bearer = req.headers.authorization?.match(/^Bearer\s+(\S+)$/i)?.[1];
  const key = (Array.isArray(header) ? header[0] : header) ?? bearer;
  return key && (await isValidApiKey(ctx.db, ctx.env.API_KEYS, key)) ? `api-key:${key.slice(0, 8)}` : null;
}

export function buildAppServer(ctx: AppContext, sendMail: SendMail): Promise<FastifyInstance> {
  return buildServer({ ctx, sendMail, plugins: appPlugins(ctx) } satisfies BuildServerDeps);
}

export function startAppServer(ctx: AppContext, sendMail: SendMail) {
  return startServer({ ctx, sendMail, plugins: appPlugins(ctx) });
}
