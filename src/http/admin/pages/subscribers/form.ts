import type { Locale, LocalizedText } from '../../../../db/schema.js';
import { type CommonStrings, stringsFor } from '../../strings.js';

/**
 * Reading urlencoded form bodies and path ids, shared by the subscribers, users, settings and
 * operations pages. Pure: a missing field is '' (or []), never undefined.
 */
export function field(body: unknown, name: string): string {
  const v = (body as Record<string, unknown> | undefined)?.[name];
  if (Array.isArray(v)) return typeof v[0] === 'string' ? v[0] : '';
  return typeof v === 'string' ? v : '';
}

/** A field that may repeat (checkboxes): every value given. */
export function fields(body: unknown, name: string): string[] {
  const v = (body as Record<string, unknown> | undefined)?.[name];
  if (Array.isArray(v)) return v.filter((x): x is string => typeof x === 'string');
  return typeof v === 'string' ? [v] : [];
}

/** A positive integer id from the path, or null (the page answers 404). */
export function parseId(value: unknown): number | null {
  if (typeof value !== 'string' || !/^\d{1,12}$/.test(value)) return null;
  const n = Number(value);
  return Number.isSafeInteger(n) && n > 0 ? n : null;
}

export function isLocale(value: unknown): value is Locale {
  return value === 'zh-CN' || value === 'en';
}

/** A section's name in the page's language, then the other one, then its key. */
export function localName(names: LocalizedText | null | undefined, locale: Locale, key: string): string {
  return names?.[locale] || names?.['zh-CN'] || names?.en || key;
}

/** A page's strings with the common ones, typed so each known key is a string. */
export type Texts<K extends string> = Record<K | keyof CommonStrings, string> &
  Record<string, string | undefined>;

export function textsFor<K extends string>(
  locale: Locale,
  page: { 'zh-CN': Record<K, string>; en: Record<K, string> },
): Texts<K> {
  return stringsFor(locale, page) as Texts<K>;
}
