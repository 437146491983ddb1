import { interpolate } from '../http/admin/strings.js';

/**
 * What a poll read but had to bend to read: a feed recovered from ill-formed XML, dates that are not
 * dates, a declared charset that was not believed. None stops a poll; each is kept in the source's
 * health (sources.parse_notes) so an editor can see it and tell the site. English here (CLI, API,
 * logs); the editors' pages say the same by code (src/http/admin/pages/sources/strings.ts).
 */

export type FeedNoteCode = 'recovered' | 'date-unparseable' | 'charset-overruled';

export interface FeedNote {
  code: FeedNoteCode;
  /** Values for the message, e.g. the XML error, a sample date, the charsets. */
  params: Record<string, string | number>;
}

const EN: Record<FeedNoteCode, string> = {
  recovered: 'the feed is not well-formed XML ({error}); its items were recovered by a lenient parser',
  'date-unparseable': '{count} item date(s) could not be read (e.g. "{sample}") and were left empty',
  'charset-overruled':
    'the {from} declared {declared}, but the bytes are {reason}; decoded as {used} instead',
};

/** Labels for a charset-overruled note's `from` and `reason` codes. */
export const CHARSET_WORDS_EN: Record<string, string> = {
  header: 'HTTP header',
  document: 'document',
  'not-utf8': 'not valid UTF-8',
  'no-utf16-pattern': 'not UTF-16/32 (no byte-order mark or byte pattern)',
  'valid-utf8': 'valid UTF-8',
  undecodable: 'mostly undecodable in it',
  'gb2312-runs': 'runs of Chinese GB2312 characters',
};

/** The note's values with its codes replaced by words from `words`. */
export function noteParams(note: FeedNote, words: Record<string, string>): FeedNote['params'] {
  if (note.code !== 'charset-overruled') return note.params;
  const word = (v: string | number | undefined) => words[String(v)] ?? String(v);
  return { ...note.params, from: word(note.params.from), reason: word(note.params.reason) };
}

export function describeNote(note: FeedNote): string {
  return interpolate(EN[note.code], noteParams(note, CHARSET_WORDS_EN));
}
