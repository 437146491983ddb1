import type { IssueState, ItemSourceLink, Locale, LocalizedText, Masthead } from '../../../../db/schema.js';
import { type IssueFieldsPatch, stableJson } from '../../../../issues/edit.js';
import { mastheadAsText, mastheadFromText } from '../../../../issues/masthead.js';

/**
 * Pure decisions for the issue pages: what a form means, what the import's notes say in the
 * editor's language. No I/O here, so each rule is tested without a server.
 */

/** Only drafts are edited in the browser; an approved issue is returned to draft on the send page. */
export function isEditable(state: IssueState): boolean {
  return state === 'draft';
}

export function sectionName(names: LocalizedText, locale: Locale, fallback: string): string {
  return names[locale] ?? names['zh-CN'] ?? names.en ?? fallback;
}

type FormValue = string | string[] | undefined;
export type FormBody = Record<string, FormValue>;

export function formString(body: FormBody | undefined, name: string): string {
  const v = body?.[name];
  return typeof v === 'string' ? v : Array.isArray(v) ? (v[0] ?? '') : '';
}

/** Repeated fields (sourceUrl, sourceLabel) arrive as an array, or a string when there is one. */
export function formList(body: FormBody | undefined, name: string): string[] {
  const v = body?.[name];
  return typeof v === 'string' ? [v] : Array.isArray(v) ? v : [];
}

/** Source rows from a form: a row whose link is empty is dropped (that is how a source is removed). */
export function sourcesFromForm(body: FormBody | undefined): ItemSourceLink[] {
  const urls = formList(body, 'sourceUrl');
  const labels = formList(body, 'sourceLabel');
  const out: ItemSourceLink[] = [];
  for (const [i, raw] of urls.entries()) {
    const url = raw.trim();
    if (!url) continue;
    const label = (labels[i] ?? '').trim();
    out.push(label ? { url, label } : { url });
  }
  return out;
}

/** The masthead form: every field is on it, so what it shows is the whole masthead. */
export function mastheadFromForm(body: FormBody | undefined): Masthead {
  return mastheadFromText({
    subtitle: formString(body, 'mastheadSubtitle'),
    committee: formString(body, 'mastheadCommittee'),
    editor: formString(body, 'mastheadEditor'),
    director: formString(body, 'mastheadDirector'),
    deputyDirectors: formString(body, 'mastheadDeputies'),
    editorialBoard: formString(body, 'mastheadBoard'),
    lines: formString(body, 'mastheadLines'),
  });
}

/** The masthead as the form shows it (lists one name per line). */
export const mastheadForForm = mastheadAsText;

export interface IssueFieldValues {
  title: string;
  subject: string | null;
  preheader: string | null;
  intro: string | null;
  masthead: Masthead;
}

/**
 * What the editor changed: the fields whose submitted value differs from the value the page was
 * drawn with (`base`), with those base values for the concurrency check. Empty optional text
 * is stored as null (the renderer then uses its default).
 */
export function fieldsChange(
  submitted: IssueFieldValues,
  base: IssueFieldValues,
): { patch: IssueFieldsPatch; base: Partial<IssueFieldValues> } {
  const normalised: IssueFieldValues = {
    title: submitted.title.trim(),
    subject: submitted.subject?.trim() || null,
    preheader: submitted.preheader?.trim() || null,
    intro: submitted.intro?.trim() || null,
    masthead: submitted.masthead,
  };
  const patch: IssueFieldsPatch = {};
  const before: Partial<IssueFieldValues> = {};
  for (const key of ['title', 'subject', 'preheader', 'intro', 'masthead'] as const) {
    if (stableJson(normalised[key]) === stableJson(base[key])) continue;
    (patch as Record<string, unknown>)[key] = normalised[key];
    (before as Record<string, unknown>)[key] = base[key];
  }
  return { patch, base: before };
}

/** Where a keyboard move puts an item: one place up or down, clamped to the section. */
export function stepPosition(index: number, count: number, direction: 'up' | 'down'): number {
  const to = direction === 'up' ? index - 1 : index + 1;
  return Math.max(0, Math.min(count - 1, to));
}

/**
 * The Markdown parser's problems in the editor's language. The parser speaks English (the CLI's
 * language); the quoted text from the document is kept as it is. Unknown messages pass through.
 */
const PROBLEMS_ZH: [RegExp, (m: RegExpMatchArray) => string][] = [
  [
    /^heading "(.*)" is not a known section; add a section with this name or rename the heading$/s,
    (m) => `标题“${m[1]}”不是已知的栏目：请新增同名栏目，或改为已有栏目的名称。`,
  ],
  [
    /^item "(.*)" comes before any section heading$/s,
    (m) => `条目“${m[1]}”出现在所有栏目标题之前，无法归入栏目。`,
  ],
  [
    /^no period found on the cover; pass one \(e\.g\. --period 2025-07\)$/s,
    () => '封面上没有找到期次：请在“期次”中填写，例如 2025-07。',
  ],
  [/^cover text not recognised: "(.*)"$/s, (m) => `封面文字未能识别：“${m[1]}”`],
  [/^source is not a web address: "(.*)"$/s, (m) => `来源不是网址：“${m[1]}”`],
  [/^text in the source line not understood: "(.*)"$/s, (m) => `来源行中有未能识别的文字：“${m[1]}”`],
  [/^source label without a URL: "(.*)"$/s, (m) => `来源说明缺少网址：“${m[1]}”`],
  [/^text outside any item: "(.*)"$/s, (m) => `不属于任何条目的文字：“${m[1]}”`],
  [/^text after the sources of "(.*)" was not placed$/s, (m) => `“${m[1]}”的来源之后还有文字，未能放入。`],
];

export function problemText(message: string, locale: Locale): string {
  if (locale !== 'zh-CN') return message;
  for (const [pattern, say] of PROBLEMS_ZH) {
    const m = message.match(pattern);
    if (m) return say(m);
  }
  return message;
}
