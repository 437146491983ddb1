import type { Locale } from '../db/schema.js';
import { localizePeriod } from './locale-format.js';
import { joinLines } from './text-join.js';
import type { RenderableIssue, RenderableSection } from './types.js';

/**
 * What an inbox list shows of a variant: its subject and the preheader snippet after it. Pure.
 */

/** The subject in the variant's locale (its period written that locale's way). */
export function variantSubject(issue: RenderableIssue, locale: Locale): string {
  return localizePeriod(issue.subject || issue.title, issue, locale);
}

const SENTENCE_END = /[。！？!?]|\.(?=\s|$)/u;

/** The first sentence of a text's first paragraph (lines joined), at most `max` characters. */
export function firstSentence(text: string, max = 120): string {
  const first = joinLines(
    text
      .trim()
      .split(/\n\s*\n/)[0]
      ?.trim() ?? '',
  );
  const end = first.search(SENTENCE_END);
  const sentence = end < 0 ? first : first.slice(0, end + 1);
  const chars = Array.from(sentence);
  return chars.length > max ? `${chars.slice(0, max - 1).join('')}…` : sentence;
}

/**
 * The preheader: the editor's, else the intro's first sentence, else the variant's first item
 * titles (content, never boilerplate such as "view in browser").
 */
export function variantPreheader(
  issue: RenderableIssue,
  sections: RenderableSection[],
  locale: Locale,
  listSeparator: string,
): string {
  const own = issue.preheader.trim() || firstSentence(issue.intro);
  if (own) return localizePeriod(own, issue, locale);
  const titles = sections.flatMap((s) => s.items.map((i) => i.title)).slice(0, 3);
  return firstSentence(titles.join(listSeparator), 100);
}

/**
 * Invisible characters after the preheader so the snippet ends there instead of running into
 * the message's first words. Zero-width non-joiner and combining grapheme joiner pairs with a
 * no-break space, as mail clients collapse plain spaces.
 */
export const PREHEADER_PADDING_HTML = '&#847;&zwnj;&nbsp;'.repeat(90);
