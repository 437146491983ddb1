import type { FastifyPluginAsync } from 'fastify';
import { sql } from 'kysely';
import type { HttpDeps } from '../deps.js';
import { PROBE_TIMEOUT_MS, withTimeout } from './ready.js';

/**
 * GET /healthz, the liveness probe: 200 while the process serves HTTP, whatever its dependencies
 * do, so a supervisor never restarts a server only because PostgreSQL restarts (the server rides
 * that out; /readyz says it cannot serve meanwhile). `database` says how the database answered.
 */
export function healthRoutes(deps: HttpDeps): FastifyPluginAsync {
  return async (app) => {
    app.get('/healthz', { schema: { hide: true } }, async (_request, reply) => {
      const database = await withTimeout(
        sql`SELECT 1`.execute(deps.ctx.db),
        PROBE_TIMEOUT_MS,
        'The database',
      ).then(
        () => 'ok' as const,
        () => 'unreachable' as const,
      );
      return reply.header('cache-control', 'no-store').send({ ok: true, database });
    });
  };
}
