import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { FastifyPluginAsync } from 'fastify';
import { loadLogo } from '../../publication/brand-assets.js';
import { pageBrand } from '../../publication/branding.js';
import { getPublication } from '../../publication/publication.js';
import { publicAccess } from '../auth/access.js';
import type { HttpDeps } from '../deps.js';

const CSS = readFileSync(
  fileURLToPath(new URL('../../../templates/pages/pages.css', import.meta.url)),
  'utf8',
);

/** A 32×32 PNG in an ICO container: a white G on the default accent (every page asks for it). */
const FAVICON = readFileSync(fileURLToPath(new URL('../../../templates/pages/favicon.ico', import.meta.url)));

/** The stylesheet with the publication's accent colour (a checked hex value) in front. */
export function pageStylesheet(accent: string | null): string {
  return accent ? `${CSS}:root{--accent:${accent}}\n` : CSS;
}

/**
 * GET /brand/<sha256>.<ext>: the logo uploaded on /admin/settings.
 * GET /favicon.ico: the icon browsers ask every page's server for.
 * GET /pages.css: the one stylesheet of the subscriber pages and the archive. Served by the app
 * (no external loads) and cached briefly, so a new accent colour shows within minutes.
 */
export function brandRoutes(deps: HttpDeps): FastifyPluginAsync {
  return async (app) => {
    // An uploaded logo, by the hash of its bytes: never changes, so cached for good.
    app.get<{ Params: { file: string } }>(
      '/brand/:file',
      { schema: { hide: true }, config: { access: publicAccess('public logo image') } },
      async (request, reply) => {
        const m = /^([0-9a-f]{64})\.(png|jpg|gif)$/.exec(request.params.file);
        const asset = m ? await loadLogo(deps.ctx.db, m[1] as string) : undefined;
        if (!asset) return reply.code(404).type('text/plain; charset=utf-8').send('No such image');
        return reply
          .header('cache-control', 'public, max-age=31536000, immutable')
          .header('x-content-type-options', 'nosniff')
          .type(asset.content_type)
          .send(asset.bytes);
      },
    );

    app.get(
      '/favicon.ico',
      { schema: { hide: true }, config: { access: publicAccess('public icon') } },
      async (_request, reply) =>
        reply.header('cache-control', 'public, max-age=86400').type('image/x-icon').send(FAVICON),
    );

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
