import type { SourceRule } from '../../../../db/schema.js';

/**
 * The source form, read purely. Rules arrive as parallel lists (rule_type, rule_keywords,
 * rule_section: one entry per row of the rules table); a row without keywords is an empty row
 * the page offers for adding a rule, not a rule.
 */

export interface RuleRow {
  type: 'include' | 'exclude';
  keywords: string;
  sectionKey: string;
}

export interface SourceForm {
  name: string;
  url: string;
  sectionKey: string;
  interval: string;
  /** IANA zone for the source's dates; "" for the publication's. */
  timeZone: string;
  enabled: boolean;
  rows: RuleRow[];
}

const list = (v: unknown): string[] =>
  Array.isArray(v) ? v.map((x) => String(x ?? '')) : v === undefined || v === null ? [] : [String(v)];
const text = (v: unknown): string => (list(v)[0] ?? '').trim();

/** Commas, the Chinese comma and enumeration comma, semicolons and new lines separate keywords. */
export function splitKeywords(value: string): string[] {
  return [
    ...new Set(
      value
        .split(/[,，、;；\n]+/)
        .map((k) => k.trim())
        .filter(Boolean),
    ),
  ];
}

export function readSourceForm(body: unknown): SourceForm {
  const b = (body ?? {}) as Record<string, unknown>;
  const types = list(b.rule_type);
  const keywords = list(b.rule_keywords);
  const sections = list(b.rule_section);
  const rows: RuleRow[] = [];
  for (let i = 0; i < Math.max(types.length, keywords.length); i++) {
    rows.push({
      type: types[i] === 'exclude' ? 'exclude' : 'include',
      keywords: (keywords[i] ?? '').trim(),
      sectionKey: (sections[i] ?? '').trim(),
    });
  }
  return {
    name: text(b.name),
    url: text(b.url),
    sectionKey: text(b.section),
    interval: text(b.interval) || '60',
    timeZone: text(b.time_zone),
    // A checkbox sends nothing when unchecked; the hidden "enabled_present" says the form had it.
    enabled: b.enabled !== undefined ? text(b.enabled) !== '0' : b.enabled_present === undefined,
    rows: rows.filter((r) => r.keywords),
  };
}

/** An exclude rule never assigns a section, so its section choice is dropped. */
export function rulesOf(rows: RuleRow[]): SourceRule[] {
  return rows.map((r) => ({
    type: r.type,
    keywords: splitKeywords(r.keywords),
    ...(r.type === 'include' && r.sectionKey ? { sectionKey: r.sectionKey } : {}),
  }));
}

export function rowsOf(rules: readonly SourceRule[]): RuleRow[] {
  return rules.map((r) => ({
    type: r.type,
    keywords: r.keywords.join(', '),
    sectionKey: r.sectionKey ?? '',
  }));
}

/** Whole minutes, or NaN (the stage refuses it with a message naming the range). */
export function intervalOf(form: SourceForm): number {
  return /^\d{1,6}$/.test(form.interval) ? Number(form.interval) : Number.NaN;
}
