import type { FastifyPluginAsync } from 'fastify';
import { sql } from 'kysely';
import type { HttpDeps } from '../deps.js';

export function healthRoutes(deps: HttpDeps): FastifyPluginAsync {
  return async (app) => {
    app.get('/healthz', { schema: { hide: true } }, async (_request, reply) => {
      try {
        await sql`SELECT 1`.execute(deps.ctx.db);
        return { ok: true, database: 'ok' };
      } catch {
        return reply.code(503).send({ ok: false, database: 'unreachable' });
      }
    });
  };
}
