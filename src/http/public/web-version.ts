import type { FastifyPluginAsync } from 'fastify';
import { verifyLinkToken } from '../../security/link-tokens.js';
import type { HttpDeps } from '../deps.js';
import { sendTokenError, TokenError } from './page-helpers.js';

/**
 * "View in browser" links from recipientLinks: /web/:token (purpose 'web') redirects to the
 * issue's archive page, which the archive stage serves at /archive/:issueId.
 */
export function webVersionRoutes(deps: HttpDeps): FastifyPluginAsync {
  return async (app) => {
    app.get<{ Params: { token: string } }>(
      '/web/:token',
      { schema: { hide: true } },
      async (request, reply) => {
        try {
          const claim = verifyLinkToken(deps.ctx.secrets, request.params.token, 'web', {
            now: deps.ctx.now(),
          });
          return reply.header('cache-control', 'no-store').redirect(`/archive/${claim.i}`, 302);
        } catch (err) {
          if (err instanceof TokenError) return sendTokenError(deps, request, reply, err);
          throw err;
        }
      },
    );
  };
}
