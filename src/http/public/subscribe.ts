import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { InvalidEmailError, normalizeEmail } from '../../../subscribers/email.js';
import { confirmSubscription, type OptInDeps, requestSubscription } from '../../../subscribers/opt-in.js';
import { allSections, sectionIdsForKeys, UnknownSectionError } from '../../../subscribers/sections.js';
import type { Locale } from '../../db/schema.js';
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

export function optInDeps(deps: HttpDeps, publicationName: string): OptInDeps {
  const { ctx } = deps;
  return {
    db: ctx.db,
    secrets: ctx.secrets,
    publicUrl: ctx.env.PUBLIC_URL,
    sendMail: deps.sendMail,
    log: ctx.log,
    now: ctx.now,
    confirmTtlHours: ctx.env.CONFIRM_TOKEN_TTL_HOURS,
    linkTtlDays: ctx.env.LINK_TOKEN_TTL_DAYS,
    publicationName,
  };
}

export interface SignupInput {
  email: string;
  name?: string;
  locale: Locale;
  sectionKeys: string[];
}

/**
 * Checks what can be checked without looking anyone up, then hands the rest to the background,
 * so the answer (and its timing) is the same for a new, pending, active or suppressed address.
 */
export async function acceptSignup(deps: HttpDeps, input: SignupInput): Promise<void> {
  normalizeEmail(input.email);
  if (input.sectionKeys.length) await sectionIdsForKeys(deps.ctx.db, input.sectionKeys);
  const publicationName = await deps.publicationName();
  deps.background.run('subscribe.request', () =>
    requestSubscription(optInDeps(deps, publicationName), {
      email: input.email,
      ...(input.name ? { name: input.name.slice(0, 200) } : {}),
      locale: input.locale,
      sectionKeys: input.sectionKeys,
    }),
  );
}

export function subscribeRoutes(deps: HttpDeps): FastifyPluginAsync {
  const rate = { max: deps.ctx.env.SUBSCRIBE_RATE_PER_MINUTE, timeWindow: '1 minute' };

  async function formPage(request: FastifyRequest, locale: Locale, extra: Record<string, unknown> = {}) {
    const chosen = (extra.chosen as string[] | undefined) ?? [];
    const sections = (await allSections(deps.ctx.db)).map((s) => ({
      key: s.key,
      name: sectionName(s, locale),
      checked: chosen.includes(s.key),
    }));
    return { action: request.url.split('?')[0], sections, ...extra };
  }

  return async (app) => {
    app.get('/subscribe', { schema: { hide: true } }, async (request, reply) => {
      const locale = pageLocale(deps, request);
      return sendPage(deps, reply, 200, 'subscribe', locale, await formPage(request, locale));
    });

    app.post(
      '/subscribe',
      {
        config: {
          rateLimit: rate,
          access: publicAccess('double opt-in, rate-limited, same answer for every address'),
        },
        schema: { hide: true },
      },
      async (request, reply) => {
        const body = (request.body ?? {}) as Record<string, unknown>;
        const locale = asLocale(body.locale) ?? pageLocale(deps, request);
        const t = strings(locale);
        const input: SignupInput = {
          email: formString(body.email) ?? '',
          name: formString(body.name)?.trim() || undefined,
          locale,
          sectionKeys: formList(body.sections),
        };
        try {
          await acceptSignup(deps, input);
        } catch (err) {
          if (err instanceof InvalidEmailError || err instanceof UnknownSectionError) {
            const page = await formPage(request, locale, {
              error: err.message,
              values: { email: input.email, name: input.name },
              chosen: input.sectionKeys,
            });
            return sendPage(deps, reply, 400, 'subscribe', locale, page);
          }
          throw err;
        }
        return sendMessage(deps, reply, 200, locale, t.sentTitle, t.sentBody);
      },
    );

    // GET only shows a button (link scanners in corporate mail follow every link); the POST
    // confirms. Confirming twice is harmless.
    const confirm =
      (dryRun: boolean) =>
      async (request: FastifyRequest<{ Params: { token: string } }>, reply: FastifyReply) => {
        try {
          const result = await confirmSubscription(deps.ctx, request.params.token, { dryRun });
          const locale = pageLocale(deps, request, result.locale);
          const t = strings(locale);
          if (result.outcome === 'confirmable')
            return sendPage(deps, reply, 200, 'confirm', locale, {
              title: t.confirmTitle,
              action: `/confirm/${request.params.token}`,
            });
          if (result.outcome === 'confirmed')
            return sendMessage(deps, reply, 200, locale, t.confirmedTitle, t.confirmedBody);
          if (result.outcome === 'already-confirmed')
            return sendMessage(deps, reply, 200, locale, t.alreadyConfirmedTitle, t.alreadyConfirmedBody);
          return sendMessage(deps, reply, 410, locale, t.staleTitle, t.staleBody);
        } catch (err) {
          if (err instanceof TokenError) return sendTokenError(deps, request, reply, err);
          throw err;
        }
      };
    app.get('/confirm/:token', { schema: { hide: true } }, confirm(true));
    app.post(
      '/confirm/:token',
      { schema: { hide: true }, config: { access: publicAccess('signed confirmation token') } },
      confirm(false),
    );
  };
}
