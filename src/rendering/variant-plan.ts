import type { Locale } from '../db/schema.js';
import type { RenderableIssue, RenderableSection } from './types.js';

/** Stable key of a variant: the sorted section keys plus the locale, e.g. "zh-CN:cases+domestic". */
export function variantKey(sectionKeys: readonly string[], locale: Locale): string {
  return `${locale}:${[...new Set(sectionKeys)].sort().join('+')}`;
}

/** The issue's sections that have at least one item, in issue order. */
export function sectionsWithItems(issue: RenderableIssue): RenderableSection[] {
  return issue.sections.filter((s) => s.items.length > 0);
}

export type SkipReason = 'no_sections_chosen' | 'chosen_sections_empty';

export type VariantPlan =
  | { ok: true; sectionKeys: string[]; variantKey: string; unknownKeys: string[] }
  | { ok: false; reason: SkipReason; unknownKeys: string[] };

/**
 * What a subscriber's chosen sections come to for this issue: the non-empty ones in issue order
 * and their variant key, or the reason to skip the subscriber (delivery records it).
 * Two choices that differ only by empty sections share one variant.
 */
export function planVariant(
  issue: RenderableIssue,
  chosenKeys: readonly string[],
  locale: Locale,
): VariantPlan {
  const known = new Set(issue.sections.map((s) => s.key));
  const unknownKeys = chosenKeys.filter((k) => !known.has(k));
  if (chosenKeys.length === 0) return { ok: false, reason: 'no_sections_chosen', unknownKeys };
  const chosen = new Set(chosenKeys);
  const keys = sectionsWithItems(issue)
    .filter((s) => chosen.has(s.key))
    .map((s) => s.key);
  if (keys.length === 0) return { ok: false, reason: 'chosen_sections_empty', unknownKeys };
  return { ok: true, sectionKeys: keys, variantKey: variantKey(keys, locale), unknownKeys };
}

/** Every non-empty combination of the issue's non-empty sections (2^n - 1), for warming a cache. */
export function allSectionCombinations(issue: RenderableIssue): string[][] {
  const keys = sectionsWithItems(issue).map((s) => s.key);
  const out: string[][] = [];
  for (let mask = 1; mask < 1 << keys.length; mask++) out.push(keys.filter((_, i) => mask & (1 << i)));
  return out;
}
