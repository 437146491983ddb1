import { interpolate } from '../web/strings.js';

/**
 * What a poll read but had to bend to read: a feed recovered from ill-formed XML, dates that are not
 * dates, a declared charset that was not believed. None stops a poll; each is kept in the source's
 * health (sources.parse_notes) so an editor can see it and tell the site. English here (CLI, API,
 * logs); the editors' pages say the same by code (src/web/pages/sources/strings.ts).
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

export function describeNote(note: FeedNote): string {
  return interpolate(EN[note.code], note.params);
}
