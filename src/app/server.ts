import type { FastifyInstance, FastifyPluginAsync } from 'fastify';
import type { AppContext } from '../context.js';
import { isValidApiKey } from '../http/api-keys.js';
import { type BuildServerDeps, buildServer, type SendMail, startServer } from '../http/server.js';
import { archiveRoutes } from '../issues/archive-routes.js';
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
      const header = req.headers['x-api-key'];
      const bearer = req.headers.authorization?.match(/^Bearer\s+(\S+)$/i)?.[1];
      const key = (Array.isArray(header) ? header[0] : header) ?? bearer;
      if (!(await isValidApiKey(ctx.db, ctx.env.API_KEYS, key))) {
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
  return [archive, tracking];
}

export function buildAppServer(ctx: AppContext, sendMail: SendMail): Promise<FastifyInstance> {
  return buildServer({ ctx, sendMail, plugins: appPlugins(ctx) } satisfies BuildServerDeps);
}

export function startAppServer(ctx: AppContext, sendMail: SendMail) {
  return startServer({ ctx, sendMail, plugins: appPlugins(ctx) });
}
