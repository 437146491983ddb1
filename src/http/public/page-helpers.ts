import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Locale, Section } from '../../db/schema.js';
import { TokenError } from '../../security/tokens.js';
import type { HttpDeps } from '../deps.js';
import { asLocale, fromAcceptLanguage, strings } from '../i18n.js';

/** ?lang= first, then the subscriber's own locale, then the browser's, then the default. */
export function pageLocale(deps: HttpDeps, request: FastifyRequest, subscriberLocale?: Locale): Locale {
  const query = request.query as Record<string, unknown> | undefined;
  return (
    asLocale(query?.lang) ??
    subscriberLocale ??
    fromAcceptLanguage(request.headers['accept-language']) ??
    deps.ctx.env.DEFAULT_LOCALE
  );
}

export async function sendPage(
  deps: HttpDeps,
  reply: FastifyReply,
  status: number,
  page: string,
  locale: Locale,
  data: Record<string, unknown>,
) {
  const brand = await deps.brand();
  return reply
    .code(status)
    .header('cache-control', 'no-store')
    .header('referrer-policy', 'no-referrer')
    .type('text/html; charset=utf-8')
    .send(deps.pages(page, locale, { publication: brand.name, brand, ...data }));
}

export function sendMessage(
  deps: HttpDeps,
  reply: FastifyReply,
  status: number,
  locale: Locale,
  title: string,
  message: string,
) {
  return sendPage(deps, reply, status, 'message', locale, { title, message });
}

/** A tampered or expired link: 400 or 410 with a page that says nothing was changed. */
export function sendTokenError(
  deps: HttpDeps,
  request: FastifyRequest,
  reply: FastifyReply,
  err: TokenError,
) {
  const locale = pageLocale(deps, request);
  const t = strings(locale);
  request.log.info(
    { event: 'http.token.rejected', reason: err.reason, route: request.routeOptions.url },
    'bad link',
  );
  return err.reason === 'expired'
    ? sendMessage(deps, reply, 410, locale, t.expiredTitle, t.expiredBody)
    : sendMessage(deps, reply, 400, locale, t.tamperedTitle, t.tamperedBody);
}

export function sectionName(section: Section, locale: Locale): string {
  return section.names[locale] ?? section.names['zh-CN'] ?? section.names.en ?? section.key;
}

/** Form fields that may come once (string) or repeated (array). */
export function formList(value: unknown): string[] {
  if (Array.isArray(value)) return value.filter((v): v is string => typeof v === 'string');
  return typeof value === 'string' && value ? [value] : [];
}

export function formString(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

export { TokenError };
