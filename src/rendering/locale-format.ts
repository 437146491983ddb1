import { DateTime } from 'luxon';
import type { Locale } from '../db/schema.js';

const CJK_NUMERALS = ['零', '一', '二', '三', '四', '五', '六', '七', '八', '九', '十'];

/** "2025年7月" / "July 2025"; weeks "2025年第27周" / "Week 27, 2025". Falls back to the raw period. */
export function formatPeriod(period: string, kind: 'month' | 'week', locale: Locale): string {
  if (kind === 'week') {
    const week = DateTime.fromISO(period);
    if (!week.isValid) return period;
    return locale === 'zh-CN'
      ? `${week.weekYear}年第${week.weekNumber}周`
      : `Week ${week.weekNumber}, ${week.weekYear}`;
  }
  const m = /^(\d{4})-(\d{2})$/.exec(period);
  if (!m) return period;
  const date = new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, 1));
  return new Intl.DateTimeFormat(locale, { year: 'numeric', month: 'long', timeZone: 'UTC' }).format(date);
}

/** Section numbering: "一、" in Chinese (as the model newsletter), "1. " in English. */
export function sectionNumber(index: number, locale: Locale): string {
  const n = index + 1;
  if (locale !== 'zh-CN') return `${n}. `;
  if (n <= 10) return `${CJK_NUMERALS[n]}、`;
  if (n < 20) return `十${CJK_NUMERALS[n - 10]}、`;
  return `${n}、`;
}

export function itemNumber(index: number): string {
  return `${index + 1}. `;
}

/** The subject when the editor set none: the title and the period, written the locale's way. */
export function defaultSubject(
  title: string,
  period: string,
  kind: 'month' | 'week' = 'month',
  locale: Locale = 'zh-CN',
): string {
  const label = formatPeriod(period, kind, locale);
  return locale === 'zh-CN' ? `${title}（${label}）` : `${title} (${label})`;
}

/**
 * Issue text (subject, preheader) for a variant in another locale: the issue's period written as
 * that locale writes it ("（2025年7月）" → " (July 2025)"). Other words stay as the editor wrote them.
 */
export function localizePeriod(
  text: string,
  issue: { period: string; periodKind: 'month' | 'week'; locale: Locale },
  locale: Locale,
): string {
  if (locale === issue.locale) return text;
  const from = formatPeriod(issue.period, issue.periodKind, issue.locale);
  const to = formatPeriod(issue.period, issue.periodKind, locale);
  if (from === to || !text.includes(from)) return text;
  const bracketed = locale === 'zh-CN' ? `（${to}）` : ` (${to})`;
  return text
    .split(new RegExp(`\\s*[（(]${from.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}[）)]`))
    .join(bracketed)
    .split(from)
    .join(to)
    .trim();
}
