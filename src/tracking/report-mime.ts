import PostalMime, { decodeWords } from 'postal-mime';
import { sanitizeFeedHtml } from '../feeds/sanitize.js';

/**
 * The MIME reading behind report-parse.ts, done by postal-mime (headers, RFC 2047 words, base64/QP,
 * charsets such as GB2312/GBK/GB18030 through TextDecoder). This adapter only shapes its output into
 * what reading a report needs: the message's headers and text, and its other parts with their
 * decoded content, enclosed messages (message/rfc822, returned headers) read again.
 */
export type Headers = Map<string, string>;

export interface ReportPart {
  /** Lower-case type/subtype, e.g. message/delivery-status. */
  type: string;
  /** The decoded content as UTF-8 (delivery-status and feedback fields are ASCII or UTF-8, RFC 6533). */
  text: string;
  /** For message/rfc822, message/global and returned headers (text/rfc822-headers): the message read again. */
  message?: ReportMessage;
}

export interface ReportMessage {
  /** Lower-case names, encoded words decoded; the first occurrence wins. */
  headers: Headers;
  /** The plain text written for people (HTML turned into text when there is no text part). */
  text: string;
  /** Every non-body part, in order: report parts, returned messages and headers, attachments. */
  parts: ReportPart[];
}

// Reports nest at most a forward of a report holding the returned message; deeper is left unread.
const MAX_DEPTH = 8;
const ENCLOSED = new Set([
  'message/rfc822',
  'message/global',
  'text/rfc822-headers',
  'message/global-headers',
]);
const utf8 = new TextDecoder('utf-8');

/**
 * Reads a message. Odd input reads as far as it goes; only a message past the parser's limits
 * (nesting, part count, header size) is refused, with postal-mime's error naming the limit.
 */
export async function readMessage(raw: Buffer | string | Uint8Array, depth = 0): Promise<ReportMessage> {
  const email = await PostalMime.parse(raw, {
    // Returned and forwarded messages stay parts, not text of the report.
    forceRfc822Attachments: true,
    attachmentEncoding: 'arraybuffer',
  });
  const headers: Headers = new Map();
  for (const h of email.headers) {
    if (!headers.has(h.key)) headers.set(h.key, decodeWords(h.value).trim());
  }
  const parts: ReportPart[] = [];
  for (const a of email.attachments) {
    const bytes = typeof a.content === 'string' ? Buffer.from(a.content, 'utf8') : new Uint8Array(a.content);
    const type = a.mimeType.split(';')[0]?.trim().toLowerCase() ?? '';
    const part: ReportPart = { type, text: utf8.decode(bytes) };
    if (ENCLOSED.has(type) && depth < MAX_DEPTH) {
      // An enclosed message past the limits is kept as text rather than losing the report.
      const message = await readMessage(bytes, depth + 1).catch(() => undefined);
      if (message) part.message = message;
    }
    parts.push(part);
  }
  // postal-mime leaves `text` unset for an HTML-only message (Coremail's notices): the project's one HTML-to-text.
  const text = email.text ?? (email.html ? sanitizeFeedHtml(email.html).text : '');
  return { headers, text, parts };
}
