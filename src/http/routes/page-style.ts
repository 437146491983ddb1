import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { FastifyPluginAsync } from 'fastify';
import { pageBrand } from '../../publication/branding.js';
import { getPublication } from '../../publication/publication.js';
import { publicAccess } from '../auth/access.js';
import type { HttpDeps } from '../deps.js';

const CSS = readFileSync(
  fileURLToPath(new URL('../../../templates/pages/pages.css', import.meta.url)),
  'utf8',
);

/** The stylesheet with the publication's accent colour (a checked hex value) in front. */
export function pageStylesheet(accent: string | null): string {
  return accent ? `${CSS}:root{--accent:${accent}}\n` : CSS;
}

/**
 * GET /pages.css: the one stylesheet of the subscriber pages and the archive. Served by the app
 * (no external loads) and cached briefly, so a new accent colour shows within minutes.
 */
export function pageStyleRoutes(deps: HttpDeps): FastifyPluginAsync {
  return async (app) => {
    app.get(
      '/pages.css',
      { schema: { hide: true }, config: { access: publicAccess('public stylesheet') } },
      async (_request, reply) => {
        const brand = pageBrand(await getPublication(deps.ctx.db));
        return reply
          .header('cache-control', 'public, max-age=300')
          .type('text/css; charset=utf-8')
          .send(pageStylesheet(brand.accentColor));
      },
    );
  };
}
