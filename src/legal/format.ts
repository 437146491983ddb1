import type { Locale } from '../db/schema.js';
import type { ItemLegal, LegalEdits, LegalField, LegalMetadata, LegalValues } from './types.js';
import { gazetteerEntry, JURISDICTIONS, LEGAL_KINDS } from './vocabulary.js';

/** Names of the codes and bodies in a locale (bodies the gazetteer does not know stay as written). */
export function jurisdictionName(code: string, locale: Locale): string {
  return (JURISDICTIONS as Record<string, Record<Locale, string>>)[code]?.[locale] ?? code;
}
export function kindName(code: string, locale: Locale): string {
  return (LEGAL_KINDS as Record<string, Record<Locale, string>>)[code]?.[locale] ?? code;
}
export function bodyName(name: string, locale: Locale): string {
  return locale === 'en' ? (gazetteerEntry(name)?.en ?? name) : name;
}

const WORDS = {
  'zh-CN': { sep: '、', published: (d: string) => `${d} 发布`, effective: (d: string) => `${d} 施行` },
  en: { sep: ', ', published: (d: string) => `published ${d}`, effective: (d: string) => `in force ${d}` },
} as const;

/**
 * The one compact line under an item's title, in the reader's locale:
 * "中国 · 最高人民法院、最高人民检察院、公安部 · 2025-07-28 发布". Null when nothing is known.
 */
export function legalLine(meta: LegalMetadata, locale: Locale): string | null {
  return legalLineOf(legalValues(meta), locale);
}

/** The same line from plain values (the search index keeps values without provenance). */
export function legalLineOf(v: Partial<LegalValues>, locale: Locale): string | null {
  const w = WORDS[locale];
  const parts: string[] = [];
  if (v.jurisdiction) parts.push(jurisdictionName(v.jurisdiction, locale));
  const bodies = v.bodies?.length ? v.bodies : v.court ? [v.court] : [];
  if (bodies.length) parts.push(bodies.map((b) => bodyName(b, locale)).join(w.sep));
  if (v.documentNumber) parts.push(v.documentNumber);
  if (v.caseNumber) parts.push(v.caseNumber);
  if (v.publishedOn) parts.push(w.published(v.publishedOn));
  if (v.effectiveOn) parts.push(w.effective(v.effectiveOn));
  return parts.length ? parts.join(' · ') : null;
}

/**
 * The metadata as shown: what the rules found (or, once confirmed, what the editor confirmed),
 * with the editor's own values on top. A field an editor cleared stays cleared.
 */
export function applyLegalEdits(extracted: LegalMetadata, edits: LegalEdits | null | undefined): ItemLegal {
  const metadata: LegalMetadata = { ...(edits?.confirmed ?? extracted) };
  const set = metadata as Record<LegalField, { value: unknown; from: string } | undefined>;
  for (const [field, value] of Object.entries(edits?.fields ?? {}) as [
    LegalField,
    LegalValues[LegalField] | null,
  ][]) {
    if (value === null || value === '' || (Array.isArray(value) && !value.length)) delete set[field];
    else set[field] = { value, from: 'editor' };
  }
  return {
    metadata,
    confirmed: !!edits?.confirmedAt,
    confirmedBy: edits?.confirmedBy ?? null,
  };
}

/** Plain values (no provenance), for JSON readers that want only the answer. */
export function legalValues(meta: LegalMetadata): Partial<LegalValues> {
  return Object.fromEntries(Object.entries(meta).map(([k, v]) => [k, v?.value])) as Partial<LegalValues>;
}
