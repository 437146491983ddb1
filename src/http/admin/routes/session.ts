import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { publicAccess } from '../../auth/access.js';
import {
  createSession,
  deleteExpiredSessions,
  endSession,
  SESSION_COOKIE,
} from '../../../accounts/sessions.js';
import { authenticate } from '../../../accounts/users.js';
import type { WebDeps } from '../deps.js';
import { needsFirstRun } from '../pages/welcome.js';
import { LOCALE_COOKIE } from '../locale.js';
import { requestLocale, sendAdminPage } from '../respond.js';
import { setSessionCookie } from '../session-cookie.js';
import { COMMON } from '../strings.js';

/** Only same-site paths under /admin: a crafted ?next= cannot send a user elsewhere. */
export function safeNext(value: unknown): string {
  if (
    typeof value !== 'string' ||
    !value.startsWith('/admin') ||
    value.startsWith('//') ||
    /[\\\r\n]/.test(value)
  )
    return '/admin';
  return value;
}

const field = (body: unknown, name: string) => {
  const v = (body as Record<string, unknown> | undefined)?.[name];
  return typeof v === 'string' ? v : '';
};

/**
 * Sign-in, sign-out and the language switch. Sign-in is rate-limited per address and per client
 * (10 tries in 15 minutes each) and carries a CSRF token too, so another site cannot sign a
 * browser into an account of its choosing.
 */
export function sessionRoutes(deps: WebDeps): FastifyPluginAsync {
  const { ctx } = deps;
  const showForm = (req: FastifyRequest, reply: FastifyReply, status = 200, error?: string, email = '') =>
    sendAdminPage(deps, req, reply, {
      page: 'sign-in',
      title: 'signInTitle',
      status,
      data: {
        next: safeNext((req.query as Record<string, unknown>)?.next ?? field(req.body, 'next')),
        error,
        email,
      },
    });

  return async (app) => {
    app.get(
      '/admin/sign-in',
      { config: { access: publicAccess('the sign-in form') } },
      async (req, reply) => {
        if (req.actor?.kind === 'user')
          return reply.redirect(safeNext((req.query as Record<string, unknown>)?.next), 303);
        return showForm(req, reply);
      },
    );

    // Two limits, both 10 tries in 15 minutes: per address (guessing one account's password)
    // and per client (spraying one password over many accounts).
    const window = { max: 10, timeWindow: 15 * 60 * 1000 };
    const perAddress = app.createRateLimit({
      ...window,
      keyGenerator: (req) => `signin:email:${field(req.body, 'email').trim().toLowerCase()}`,
    });
    const perClient = app.createRateLimit({ ...window, keyGenerator: (req) => `signin:ip:${req.ip}` });
    app.register(async (scoped) => {
      scoped.post(
        '/admin/sign-in',
        { config: { access: { kind: 'public', why: 'the sign-in form (rate-limited)', csrf: true } } },
        async (req, reply) => {
          const [address, client] = await Promise.all([perAddress(req), perClient(req)]);
          const exceeded = (r: typeof address) => !r.isAllowed && r.isExceeded;
          if (exceeded(address) || exceeded(client)) {
            ctx.log.warn({ event: 'web.sign_in.throttled' }, 'sign-in rate limit reached');
            const locale = await requestLocale(deps, req);
            return showForm(req, reply, 429, COMMON[locale].signInThrottled, field(req.body, 'email'));
          }
          const email = field(req.body, 'email');
          const user = await authenticate(ctx.db, email, field(req.body, 'password'), ctx.now());
          if (!user) {
            ctx.log.info({ event: 'web.sign_in.failed' }, 'sign-in refused');
            const locale = await requestLocale(deps, req);
            return showForm(req, reply, 401, COMMON[locale].signInFailed, email);
          }
          await endSession(ctx.db, req.cookies[SESSION_COOKIE]); // never reuse a session across sign-ins
          await deleteExpiredSessions(ctx.db, ctx.now());
          const session = await createSession(ctx.db, user.id, ctx.now());
          setSessionCookie(reply, session.token);
          ctx.log.info({ event: 'web.sign_in', userId: user.id }, 'signed in');
          return reply.redirect(safeNext(field(req.body, 'next')), 303);
        },
      );
    });

    app.post(
      '/admin/sign-out',
      { config: { access: { kind: 'session', role: 'viewer' } } },
      async (req, reply) => {
        await endSession(ctx.db, req.cookies[SESSION_COOKIE]);
        reply.clearCookie(SESSION_COOKIE, { path: '/' });
        return reply.redirect('/admin/sign-in', 303);
      },
    );

    // The language switch works signed out too (the sign-in page has it), so it is public; it
    // only sets a preference, and a signed-in user's choice is stored on the account.
    app.post(
      '/admin/locale',
      { config: { access: { kind: 'public', why: 'sets the page language only', csrf: true } } },
      async (req, reply) => {
        const locale = field(req.body, 'locale');
        if (locale !== 'zh-CN' && locale !== 'en')
          return reply.code(400).send(new Error('locale must be zh-CN or en'));
        reply.setCookie(LOCALE_COOKIE, locale, {
          path: '/admin',
          sameSite: 'lax',
          secure: 'auto',
          maxAge: 31536000,
        });
        if (req.actor?.kind === 'user')
          await ctx.db.updateTable('users').set({ locale }).where('id', '=', req.actor.user.id).execute();
        return reply.redirect(safeNext(field(req.body, 'next')), 303);
      },
    );

    // For scripts and API clients that hold a session: who am I, and a CSRF token for this session.
    app.get('/admin/session', async (req, reply) => {
      const actor = req.actor;
      if (actor?.kind !== 'user') return reply.code(401).send({ error: 'not signed in' });
      return reply
        .header('cache-control', 'no-store')
        .send({ user: actor.user, csrfToken: reply.csrfToken() });
    });

    // An admin of a fresh install (no sender yet) lands on the first-run page; everyone else on the issues.
    app.get('/admin', async (req, reply) => {
      const admin = req.actor?.kind === 'user' && req.actor.user.role === 'admin';
      return reply.redirect(admin && (await needsFirstRun(deps)) ? '/admin/welcome' : '/admin/issues', 303);
    });
  };
}
