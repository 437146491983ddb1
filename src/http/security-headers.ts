import helmet from '@fastify/helmet';
import type { FastifyInstance } from 'fastify';

/**
 * The headers every answer carries (@fastify/helmet). No page may be framed by another (a click in
 * an invisible frame would act as the signed-in editor); scripts load only from this origin, never
 * inline (the pages' data sits in `<script type="application/json">`, which is not run); inline
 * styles stay allowed because the email HTML shown in the archive is all inline styles, and its
 * images may come from the feeds' sites. A route that needs otherwise (the preview frame, the
 * queue dashboard) sets its own headers, which replace these.
 */
export const PAGE_CSP_DIRECTIVES = {
  'default-src': ["'self'"],
  'script-src': ["'self'"],
  'script-src-attr': ["'none'"],
  'style-src': ["'self'", "'unsafe-inline'"],
  'img-src': ["'self'", 'data:', 'https:', 'http:'],
  'font-src': ["'self'", 'data:'],
  'connect-src': ["'self'"],
  'object-src': ["'none'"],
  'base-uri': ["'self'"],
  'form-action': ["'self'"],
  'frame-ancestors': ["'none'"],
};

export async function registerSecurityHeaders(
  app: FastifyInstance,
  opts: { publicUrl: string },
): Promise<void> {
  // Strict-Transport-Security means something only when the public address is https.
  const https = opts.publicUrl.startsWith('https:');
  await app.register(helmet, {
    contentSecurityPolicy: {
      useDefaults: false,
      directives: https ? { ...PAGE_CSP_DIRECTIVES, 'upgrade-insecure-requests': [] } : PAGE_CSP_DIRECTIVES,
    },
    frameguard: { action: 'deny' },
    referrerPolicy: { policy: 'same-origin' },
    strictTransportSecurity: https ? { maxAge: 180 * 24 * 3600, includeSubDomains: false } : false,
    // Mail clients in a browser load the open pixel and images from another origin.
    crossOriginResourcePolicy: false,
    crossOriginEmbedderPolicy: false,
  });
}
