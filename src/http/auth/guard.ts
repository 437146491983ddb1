import { createHmac } from 'node:crypto';
import cookie from '@fastify/cookie';
import csrf from '@fastify/csrf-protection';
import type { FastifyReply, FastifyRequest, RouteOptions } from 'fastify';
import fp from 'fastify-plugin';
import type { SecretKeys } from '../../config/secret.js';
import type { Db } from '../../db/schema.js';
import { findApiKey } from '../../accounts/api-keys.js';
import { type Access, type Actor, authorise, defaultAccess, needsCsrf } from './access.js';
import { findSession, SESSION_COOKIE } from '../../accounts/sessions.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    access?: Access;
  }
  interface FastifyRequest {
    /** Who is calling, resolved once by the access guard (null: nobody signed in). */
    actor: Actor | null;
  }
  interface FastifyReply {
    /** A CSRF token bound to the caller's session, for a form's hidden `_csrf` field or the x-csrf-token header. */
    csrfToken(): string;
  }
  interface FastifyInstance {
    /** Every route with the access it was given: the route-walk test reads this. */
    accessTable: RouteAccess[];
  }
}

export interface RouteAccess {
  method: string;
  url: string;
  access: Access;
}

export interface AccessGuardOptions {
  db: Db;
  secrets: SecretKeys;
  apiKeys: readonly string[];
  now: () => Date;
  refusalPage: RefusalPage;
}

/** Separate keys per purpose, all derived from SECRET_KEY. */
function derive(secret: string, purpose: string): string {
  return createHmac('sha256', secret).update(`gazette:${purpose}`).digest('base64url');
}

function presentedApiKey(req: FastifyRequest): string | undefined {
  const header = req.headers['x-api-key'];
  const bearer = req.headers.authorization?.match(/^Bearer\s+(\S+)$/i)?.[1];
  return (Array.isArray(header) ? header[0] : header) ?? bearer;
}

const csrfUserInfo = (req: FastifyRequest) =>
  req.actor?.kind === 'user' ? req.actor.sessionId : 'anonymous';

function isPage(req: FastifyRequest): boolean {
  return !req.url.startsWith('/api/');
}

/**
 * Answers here rather than by throwing: a route's own error handler (JSON APIs map unknown
 * errors to 500) must not turn a refusal into something else.
 */
function refuse(req: FastifyRequest, reply: FastifyReply, status: 401 | 403, page: RefusalPage) {
  if (status === 401 && isPage(req) && req.method === 'GET' && req.url.startsWith('/admin')) {
    return reply.redirect(`/admin/sign-in?next=${encodeURIComponent(req.url)}`, 303);
  }
  if (!isPage(req)) {
    return reply
      .code(status)
      .send({ error: status === 401 ? 'unauthorized' : 'forbidden', message: REFUSAL[status] });
  }
  return reply.code(status).type('text/html; charset=utf-8').send(page(req, status));
}

const REFUSAL = {
  401: 'sign in, or send an API key (x-api-key header)',
  403: 'your role does not allow this',
} as const;

/** Draws the refusal page for a browser (the server's message page, in the visitor's language). */
export type RefusalPage = (req: FastifyRequest, status: 401 | 403) => string;

/**
 * One gate in front of every route (DESIGN.md: every admin route needs a signed-in user with the
 * right role). Registered on the root before any route, so its onRoute hook sees them all: each
 * gets its declared access or the closed default, recorded in app.accessTable.
 */
export const accessGuard = fp<AccessGuardOptions>(
  async (app, opts) => {
    await app.register(cookie, { secret: derive(opts.secrets.current, 'cookie') });
    await app.register(csrf, {
      sessionPlugin: '@fastify/cookie',
      cookieKey: 'gz_csrf',
      cookieOpts: { path: '/', sameSite: 'strict', httpOnly: true, secure: 'auto', signed: true },
      csrfOpts: { hmacKey: derive(opts.secrets.current, 'csrf') },
      getUserInfo: csrfUserInfo,
    });

    const table: RouteAccess[] = [];
    app.decorate('accessTable', table);
    app.decorateRequest('actor', null);
    app.decorateReply('csrfToken', function (this: FastifyReply) {
      return this.generateCsrf({ userInfo: csrfUserInfo(this.request) });
    });

    app.addHook('onRoute', (route: RouteOptions) => {
      const methods = Array.isArray(route.method) ? route.method : [route.method];
      const declared = route.config?.access;
      const access = declared ?? defaultAccess(methods[0] as string, route.url);
      route.config = { ...route.config, access } as typeof route.config;
      for (const method of methods) table.push({ method, url: route.url, access });
    });

    async function resolveActor(req: FastifyRequest, access: Access): Promise<Actor | null> {
      const key = access.kind === 'api' ? presentedApiKey(req) : undefined;
      if (key !== undefined) {
        // A key that was presented and is wrong is a refusal, not a fall-back to the cookie.
        const holder = await findApiKey(opts.db, opts.apiKeys, key);
        // The audit log records the key's name, never any part of the key.
        return holder ? { kind: 'api-key', label: `api-key:${holder.name}`, role: holder.role } : null;
      }
      const token = req.cookies[SESSION_COOKIE];
      if (!token) return null;
      const session = await findSession(opts.db, token, opts.now());
      if (!session) return null;
      const { id, email, name, role } = session.user;
      return { kind: 'user', sessionId: session.id, user: { id, email, name, role } };
    }

    app.addHook('onRequest', async (req, reply) => {
      const access = req.routeOptions.config?.access ?? defaultAccess(req.method, req.url);
      if (access.kind === 'public' && !req.cookies[SESSION_COOKIE]) return;
      req.actor = await resolveActor(req, access);
      const verdict = authorise(access, req.actor);
      if (verdict === 'unauthenticated') return refuse(req, reply, 401, opts.refusalPage);
      if (verdict === 'forbidden') return refuse(req, reply, 403, opts.refusalPage);
    });

    // After the body is parsed (forms carry the token in `_csrf`), before validation, so a
    // forged request is refused as forged rather than as malformed.
    app.addHook('preValidation', (req, reply, done) => {
      const access = req.routeOptions.config?.access ?? defaultAccess(req.method, req.url);
      if (!needsCsrf(access, req.method, req.actor)) return done();
      app.csrfProtection(req, reply, done);
    });
  },
  { name: 'gazette-access-guard' },
);
