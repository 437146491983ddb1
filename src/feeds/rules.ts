import type { SourceRule } from '../db/schema.js';

/**
 * A source's keyword rules, decided purely. Exclude rules drop an item that mentions any of their
 * keywords. Include rules without a section are a filter: when a source has any, an item must
 * match one of them to be kept. Include rules with a section route a matching item to that
 * section (the first match wins) and never drop anything; unmatched items keep the source's
 * default section.
 */

export interface RuleInput {
  title: string;
  summaryText: string;
  categories: string[];
}

export type RuleDecision = { keep: false; reason: string } | { keep: true; sectionKey: string | null };

function matches(rule: SourceRule, haystack: string): string | undefined {
  return rule.keywords.find((k) => k.trim() && haystack.includes(k.trim().toLowerCase()));
}

export function applyRules(rules: readonly SourceRule[], item: RuleInput): RuleDecision {
  const haystack = [item.title, item.summaryText, ...item.categories].join('\n').toLowerCase();
  for (const rule of rules) {
    if (rule.type !== 'exclude') continue;
    const hit = matches(rule, haystack);
    if (hit) return { keep: false, reason: `excluded by keyword "${hit}"` };
  }
  const filters = rules.filter((r) => r.type === 'include' && !r.sectionKey);
  if (filters.length > 0 && !filters.some((r) => matches(r, haystack))) {
    return { keep: false, reason: 'matches no include keyword' };
  }
  for (const rule of rules) {
    if (rule.type === 'include' && rule.sectionKey && matches(rule, haystack)) {
      return { keep: true, sectionKey: rule.sectionKey };
    }
  }
  return { keep: true, sectionKey: null };
}
