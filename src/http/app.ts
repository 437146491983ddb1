import { Queue } from 'bullmq';
import type { FastifyInstance, FastifyPluginAsync, FastifyRequest } from 'fastify';
import type { AppContext } from '../context.js';
import { type BuildServerDeps, buildServer, type SendMail, startServer } from './server.js';
import { archiveRoutes } from './public/archive.js';
import { issueEditorRoutes } from './api/issues.js';
import { createLinkProbe } from '../issues/link-probe.js';
import { QUEUES } from '../queue/names.js';
import { createRedis } from '../queue/redis.js';
import { queueArchiveRequests } from '../snapshots/request.js';
import { trackingRoutes } from './tracking/routes.js';
import { webApp } from './admin/index.js';
import { cachedRenderer, previewRenderer } from '../app/preview.js';

/**
 * The one web server: subscriber pages and API (src/http), the public archive (src/issues) and
 * the tracking endpoints and webhooks (src/tracking), each registered as its stage's plugin.
 */
export function appPlugins(ctx: AppContext, sendMail: SendMail): FastifyPluginAsync[] {
  const render = cachedRenderer(previewRenderer(ctx.env.PUBLIC_URL));
  const archive: FastifyPluginAsync = async (app) => {
    await app.register(archiveRoutes, { ctx, render });
  };
  const tracking: FastifyPluginAsync = async (app) => {
    // Statistics (/api/issues/:id/stats) get the access guard's default for /api/: an API key or a session.
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
    const archiveQueue = new Queue(QUEUES.archive, {
      connection: createRedis(ctx.env.REDIS_URL),
      prefix: ctx.env.QUEUE_PREFIX,
    });
    app.addHook('onClose', async () => {
      await Promise.all([queue.close(), archiveQueue.close()]);
    });
    await app.register(issueEditorRoutes, {
      ctx: { db: ctx.db, log: ctx.log, env: ctx.env, now: ctx.now },
      authorize: async (req) => actorName(req),
      queue,
      archive: queueArchiveRequests(archiveQueue),
      render,
      probeLink: createLinkProbe(ctx.env),
    });
  };
  const web = webApp({ ctx, sendMail, render, probeLink: createLinkProbe(ctx.env) });
  return [archive, tracking, editor, web];
}

/** The name the audit log records for whoever the access guard admitted. */
export function actorName(req: FastifyRequest): string | null {
  const actor = req.actor;
  if (!actor) return null;
  return actor.kind === 'api-key' ? actor.label : `user:${actor.user.email}`;
}

export function buildAppServer(ctx: AppContext, sendMail: SendMail): Promise<FastifyInstance> {
  return buildServer({ ctx, sendMail, plugins: appPlugins(ctx, sendMail) } satisfies BuildServerDeps);
}

export function startAppServer(ctx: AppContext, sendMail: SendMail) {
  return startServer({ ctx, sendMail, plugins: appPlugins(ctx, sendMail) });
}
