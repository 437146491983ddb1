import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { allSections } from '../../../subscribers/sections.js';
import { getSubscriber } from '../../../subscribers/store.js';
import { unsubscribeAll, unsubscribeFromSection } from '../../../subscribers/unsubscribe.js';
import { type UnsubscribeToken, verifyLinkToken } from '../../security/link-tokens.js';
import { subscriberLinks } from '../../security/recipient-links.js';
import { publicAccess } from '../auth/access.js';
import type { HttpDeps } from '../deps.js';
import { strings } from '../i18n.js';
import {
  formString,
  pageLocale,
  sectionName,
  sendMessage,
  sendPage,
  sendTokenError,
  TokenError,
} from './page-helpers.js';

type TokenRequest = FastifyRequest<{ Params: { token: string } }>;

/**
 * Unsubscribe links. GET never changes anything (mail scanners follow links): it shows a page
 * whose form POSTs back. POST /u/:token is the RFC 8058 one-click target named in
 * List-Unsubscribe; it needs no cookie, no page and accepts urlencoded or multipart bodies.
 */
export function unsubscribeRoutes(deps: HttpDeps): FastifyPluginAsync {
  const { ctx } = deps;

  function claim(request: TokenRequest): UnsubscribeToken {
    return verifyLinkToken(ctx.secrets, request.params.token, 'unsub', { now: ctx.now() });
  }

  async function showPage(request: TokenRequest, reply: FastifyReply) {
    const c = claim(request);
    const sub = await getSubscriber(ctx.db, c.s);
    const locale = pageLocale(deps, request, sub?.locale);
    const t = strings(locale);
    if (!sub || !['active', 'pending'].includes(sub.status)) {
      return sendMessage(deps, reply, 200, locale, t.alreadyLeftTitle, t.alreadyLeftBody);
    }
    const sections = (await allSections(ctx.db))
      .filter((s) => sub.sectionKeys.includes(s.key))
      .map((s) => ({ key: s.key, name: sectionName(s, locale), checked: s.key === c.k }));
    const links = subscriberLinks(ctx.secrets, ctx.env.PUBLIC_URL, sub.id, {
      linkTtlDays: ctx.env.LINK_TOKEN_TTL_DAYS,
    });
    return sendPage(deps, reply, 200, 'unsubscribe', locale, {
      title: t.unsubscribeTitle,
      action: `/unsubscribe/${request.params.token}`,
      sections: sections.length > 1 ? sections : [],
      sectionKey: c.k && sections.some((s) => s.key === c.k) ? c.k : undefined,
      preferencesUrl: links.preferencesUrl,
    });
  }

  /** Applies a scope ('all' or 'section:<key>'); returns the page to show. */
  async function apply(request: TokenRequest, reply: FastifyReply, scope: string, via: string) {
    const c = claim(request);
    const sub = await getSubscriber(ctx.db, c.s);
    const locale = pageLocale(deps, request, sub?.locale);
    const t = strings(locale);
    const context = {
      via,
      now: ctx.now(),
      ...(c.i ? { issueId: c.i } : {}),
      ...(c.d ? { deliveryId: c.d } : {}),
    };
    if (!sub) return sendMessage(deps, reply, 200, locale, t.alreadyLeftTitle, t.alreadyLeftBody);
    if (scope.startsWith('section:')) {
      const result = await unsubscribeFromSection(ctx.db, sub.id, scope.slice('section:'.length), context);
      ctx.log.info(
        { event: 'unsubscribe.section', subscriberId: sub.id, via, result },
        'section unsubscribe',
      );
      if (result === 'removed')
        return sendMessage(deps, reply, 200, locale, t.sectionRemovedTitle, t.sectionRemovedBody);
      if (result === 'unsubscribed')
        return sendMessage(deps, reply, 200, locale, t.unsubscribedTitle, t.unsubscribedBody);
      return sendMessage(deps, reply, 200, locale, t.alreadyLeftTitle, t.alreadyLeftBody);
    }
    const changed = await unsubscribeAll(ctx.db, sub.id, context);
    ctx.log.info({ event: 'unsubscribe.all', subscriberId: sub.id, via, changed }, 'unsubscribed');
    return sendMessage(deps, reply, 200, locale, t.unsubscribedTitle, t.unsubscribedBody);
  }

  const guard =
    (handler: (request: TokenRequest, reply: FastifyReply) => Promise<unknown>) =>
    async (request: TokenRequest, reply: FastifyReply) => {
      try {
        return await handler(request, reply);
      } catch (err) {
        if (err instanceof TokenError) return sendTokenError(deps, request, reply, err);
        throw err;
      }
    };

  return async (app) => {
    app.get('/unsubscribe/:token', { schema: { hide: true } }, guard(showPage));
    app.post(
      '/unsubscribe/:token',
      { schema: { hide: true }, config: { access: publicAccess('signed unsubscribe token') } },
      guard(async (request, reply) => {
        const body = (request.body ?? {}) as Record<string, unknown>;
        const scope = formString(body.scope) ?? 'all';
        return apply(request, reply, scope, 'page');
      }),
    );

    app.get('/u/:token', { schema: { hide: true } }, guard(showPage));

    // The one-click endpoint lives in its own scope so its lenient body parsing stays here.
    await app.register(async (oneClick) => {
      oneClick.removeAllContentTypeParsers();
      // Mail providers send `List-Unsubscribe=One-Click` urlencoded or as multipart; the POST
      // itself is the request, so the body is read (bounded) and not otherwise needed.
      oneClick.addContentTypeParser('*', { parseAs: 'string', bodyLimit: 8 * 1024 }, (_req, body, done) =>
        done(null, body),
      );
      oneClick.post(
        '/u/:token',
        { schema: { hide: true }, config: { access: publicAccess('RFC 8058 one-click, signed token') } },
        guard(async (request, reply) => {
          const c = claim(request);
          return apply(request, reply, c.k ? `section:${c.k}` : 'all', 'one-click');
        }),
      );
    });
  };
}
