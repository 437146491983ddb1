import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { allSections, UnknownSectionError } from '../../../subscribers/sections.js';
import {
  getSubscriber,
  SubscriberError,
  type SubscriberRecord,
  updateSubscriber,
} from '../../../subscribers/store.js';
import { unsubscribeAll } from '../../../subscribers/unsubscribe.js';
import type { Locale } from '../../db/schema.js';
import { verifyLinkToken } from '../../security/link-tokens.js';
import { publicAccess } from '../auth/access.js';
import type { HttpDeps } from '../deps.js';
import { asLocale, strings } from '../i18n.js';
import {
  formList,
  formString,
  pageLocale,
  sectionName,
  sendMessage,
  sendPage,
  sendTokenError,
  TokenError,
} from './page-helpers.js';

type TokenRequest = FastifyRequest<{ Params: { token: string } }>;

/** The preference centre: sections, name, locale, or leave. Reached from every message. */
export function preferencesRoutes(deps: HttpDeps): FastifyPluginAsync {
  const { ctx } = deps;

  async function render(
    request: TokenRequest,
    reply: FastifyReply,
    sub: SubscriberRecord,
    extra: { saved?: boolean; error?: string; status?: number; chosen?: string[] } = {},
  ) {
    const locale = pageLocale(deps, request, sub.locale);
    const chosen = extra.chosen ?? sub.sectionKeys;
    const sections = (await allSections(ctx.db)).map((s) => ({
      key: s.key,
      name: sectionName(s, locale),
      checked: chosen.includes(s.key),
    }));
    return sendPage(deps, reply, extra.status ?? 200, 'preferences', locale, {
      title: strings(locale).preferencesTitle,
      action: `/preferences/${request.params.token}`,
      name: sub.name ?? '',
      subscriberLocale: sub.locale,
      sections,
      saved: extra.saved,
      error: extra.error,
      inactive: !['active', 'pending'].includes(sub.status),
    });
  }

  async function load(request: TokenRequest): Promise<SubscriberRecord | undefined> {
    const claim = verifyLinkToken(ctx.secrets, request.params.token, 'pref', { now: ctx.now() });
    return getSubscriber(ctx.db, claim.s);
  }

  function gone(request: TokenRequest, reply: FastifyReply) {
    const locale = pageLocale(deps, request);
    const t = strings(locale);
    return sendMessage(deps, reply, 404, locale, t.alreadyLeftTitle, t.alreadyLeftBody);
  }

  return async (app) => {
    app.get<{ Params: { token: string } }>(
      '/preferences/:token',
      { schema: { hide: true }, config: { access: publicAccess('signed preferences token') } },
      async (request, reply) => {
        try {
          const sub = await load(request);
          return sub ? render(request, reply, sub) : gone(request, reply);
        } catch (err) {
          if (err instanceof TokenError) return sendTokenError(deps, request, reply, err);
          throw err;
        }
      },
    );

    app.post<{ Params: { token: string } }>(
      '/preferences/:token',
      { schema: { hide: true }, config: { access: publicAccess('signed preferences token') } },
      async (request, reply) => {
        let sub: SubscriberRecord | undefined;
        try {
          sub = await load(request);
        } catch (err) {
          if (err instanceof TokenError) return sendTokenError(deps, request, reply, err);
          throw err;
        }
        if (!sub) return gone(request, reply);
        const body = (request.body ?? {}) as Record<string, unknown>;
        if (formString(body.action) === 'leave') {
          await unsubscribeAll(ctx.db, sub.id, { via: 'preferences', now: ctx.now() });
          ctx.log.info(
            { event: 'unsubscribe.all', subscriberId: sub.id, via: 'preferences' },
            'unsubscribed',
          );
          const locale = pageLocale(deps, request, sub.locale);
          const t = strings(locale);
          return sendMessage(deps, reply, 200, locale, t.unsubscribedTitle, t.unsubscribedBody);
        }
        const chosen = formList(body.sections);
        const locale: Locale = asLocale(body.locale) ?? sub.locale;
        if (!chosen.length) {
          const t = strings(pageLocale(deps, request, sub.locale));
          return render(request, reply, sub, { error: t.atLeastOneSection, status: 400, chosen });
        }
        const every = (await allSections(ctx.db)).map((s) => s.key);
        try {
          const updated = await updateSubscriber(
            ctx.db,
            sub.id,
            {
              name: formString(body.name) ?? sub.name,
              locale,
              // Everything ticked keeps "all sections", so sections added later arrive too.
              sectionKeys: every.every((k) => chosen.includes(k)) && sub.all_sections ? 'all' : chosen,
            },
            { now: ctx.now() },
          );
          ctx.log.info({ event: 'subscriber.preferences.saved', subscriberId: sub.id }, 'preferences saved');
          return render(request, reply, updated, { saved: true });
        } catch (err) {
          if (err instanceof UnknownSectionError || err instanceof SubscriberError) {
            return render(request, reply, sub, { error: err.message, status: 400, chosen });
          }
          throw err;
        }
      },
    );
  };
}
