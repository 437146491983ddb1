import type { Locale } from '../db/schema.js';
import { getTemplates } from './template-store.js';

/**
 * The value for the `{{name}}` token: the subscriber's name, or the locale's word for "reader"
 * when there is none, so the greeting never reads "，您好：".
 */
export function recipientName(
  name: string | null | undefined,
  locale: Locale,
  templatesDir?: string,
): string {
  const trimmed = name?.replace(/[\r\n]+/g, ' ').trim();
  if (trimmed) return trimmed;
  return getTemplates(templatesDir).strings[locale]?.readerFallback ?? 'reader';
}
