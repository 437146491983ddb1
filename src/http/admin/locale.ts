import type { FastifyRequest } from 'fastify';
import type { Locale } from '../../db/schema.js';
import { fromAcceptLanguage } from '../i18n.js';

export const LOCALE_COOKIE = 'gz_locale';

/**
 * The page language: the signed-in user's own choice, else the language cookie a signed-out
 * visitor picked, else the browser's Accept-Language, else the server default.
 */
export function adminLocale(
  req: FastifyRequest,
  userLocale: Locale | null | undefined,
  fallback: Locale,
): Locale {
  if (userLocale) return userLocale;
  const cookie = req.cookies[LOCALE_COOKIE];
  if (cookie === 'zh-CN' || cookie === 'en') return cookie;
  return fromAcceptLanguage(req.headers['accept-language']) ?? fallback;
}
