import { createHash, randomBytes } from 'node:crypto';
import * as qp from 'nodemailer/lib/qp/index.js';
import { escapeHtml } from '../rendering/escape.js';
import type { DkimSigner } from './dkim.js';

/**
 * A variant's MIME message built once, with the per-recipient parts left as holes (DESIGN.md
 * "Where the time goes"): headers, boundary and encoded bodies are made here; render() only
 * splices To, Date, Message-ID, List-Unsubscribe and the token values.
 */

export type TokenName = 'name' | 'unsubscribeUrl' | 'preferencesUrl' | 'webVersionUrl' | 'trackingToken';

export interface MimeVariantInput {
  variantKey: string;
  subject: string;
  html: string;
  text: string;
}

export interface MimeTemplateOptions {
  issueId: number;
  /** RFC 5322 From, e.g. `Gazette <news@example.org>`. */
  from: string;
  replyTo?: string | null | undefined;
  /** List-Id value, e.g. `Gazette <gazette.example.org>`. */
  listId?: string | null | undefined;
  feedbackId?: string | null | undefined;
  /** Domain for Message-IDs. */
  messageIdDomain: string;
  /** The relay offers 8BITMIME (see bodyEncoding for what that allows). */
  eightBit: boolean;
  /** Signs every rendered message (the publication's DKIM key). */
  dkim?: DkimSigner | undefined;
}

export interface RecipientValues {
  deliveryId: number;
  address: string;
  name: string | null;
  tokens: Record<TokenName, string>;
  /** RFC 8058 one-click URL for List-Unsubscribe; absent on mail outside a list (confirmations). */
  oneClickUnsubscribeUrl?: string | undefined;
  /** `mailto:` for List-Unsubscribe beside the https link (reaches the bounce receiver). */
  unsubscribeMailto?: string | undefined;
  /** A Message-ID for mail that is no delivery (confirmations, test sends); default names the delivery. */
  messageId?: string | undefined;
}

export interface RenderedMessage {
  raw: Buffer;
  messageId: string;
}

export class BadRecipientError extends Error {
  override name = 'BadRecipientError';
}

type Piece = Buffer | TokenName;

type TransferEncoding = '8bit' | 'base64' | 'quoted-printable';

interface BodyPart {
  contentType: string;
  encoding: TransferEncoding;
  /** 8bit: literal Buffers and token holes; fill: the template string encoded per recipient; constant: encoded once. */
  mode: '8bit' | 'fill' | 'constant';
  pieces: Piece[];
  template: string;
  html: boolean;
}

/**
 * 8bit only when the relay offers 8BITMIME and nothing is signed. A signature covers the body as
 * sent, and any later hop without 8BITMIME must re-encode an 8bit body (RFC 6152 §3), which breaks
 * it (RFC 6376 §5.3); we cannot see those hops, so signed mail is always 7-bit safe. Measured on
 * the model issue (all sections, zh-CN): HTML 75.6 KB as 8bit, 103.5 KB as base64 (+37 %), 165.8 KB
 * as QP (+119 %); text 49.5 / 67.8 / 136.7 KB. So each part takes the smaller of the two: base64
 * for Chinese, QP for mostly-ASCII parts.
 */
export function bodyEncoding(relayEightBit: boolean, signed: boolean): '8bit' | '7bit' {
  return relayEightBit && !signed ? '8bit' : '7bit';
}

const TOKEN_RE = /\{\{\s*(name|unsubscribeUrl|preferencesUrl|webVersionUrl|trackingToken)\s*\}\}/g;
/** Room kept for a token's value when checking 8bit line lengths (signed URLs are ~150-250 bytes). */
const TOKEN_ALLOWANCE = 400;
const MAX_LINE = 998;
const CRLF = Buffer.from('\r\n');

/** Splits text into literal strings and token names, in order. */
export function splitTokens(text: string): (string | { token: TokenName })[] {
  const out: (string | { token: TokenName })[] = [];
  let last = 0;
  for (const m of text.matchAll(TOKEN_RE)) {
    if (m.index > last) out.push(text.slice(last, m.index));
    out.push({ token: m[1] as TokenName });
    last = m.index + m[0].length;
  }
  if (last < text.length) out.push(text.slice(last));
  return out;
}

export interface MimeTemplate {
  variantKey: string;
  eightBit: boolean;
  /** Approximate size of one message (constant parts plus typical token values). */
  approxBytes: number;
  /**
   * The message for one recipient. With `into`, the bytes are written there when they fit (the
   * caller reuses the buffer once the relay has taken the message) instead of a new allocation.
   */
  render(r: RecipientValues, date?: Date, into?: Buffer): RenderedMessage;
}

export function buildMimeTemplate(variant: MimeVariantInput, opts: MimeTemplateOptions): MimeTemplate {
  const boundary = `----=_gz_${randomBytes(12).toString('hex')}`;
  const variantTag = createHash('sha1').update(variant.variantKey).digest('hex').slice(0, 8);
  const subjectParts = splitTokens(variant.subject);
  const subjectHasTokens = subjectParts.some((p) => typeof p !== 'string');
  const fixed: string[] = [
    `From: ${encodeAddressHeader(opts.from)}`,
    ...(opts.replyTo ? [`Reply-To: ${encodeAddressHeader(opts.replyTo)}`] : []),
    ...(subjectHasTokens ? [] : [`Subject: ${encodeHeaderText(variant.subject)}`]),
    'MIME-Version: 1.0',
    ...(opts.listId ? [`List-Id: ${encodeAddressHeader(opts.listId)}`] : []),
    ...(opts.feedbackId ? [`Feedback-ID: ${opts.feedbackId}`] : []),
    `Content-Type: multipart/alternative; boundary="${boundary}"`,
  ];
  const fixedHead = Buffer.from(`${fixed.join('\r\n')}\r\n\r\n`);
  const eightBit = bodyEncoding(opts.eightBit, opts.dkim !== undefined) === '8bit';
  const parts = [
    buildBody(variant.text, 'text/plain; charset=utf-8', false, eightBit),
    buildBody(variant.html, 'text/html; charset=utf-8', true, eightBit),
  ];
  const partHeads = parts.map((p) =>
    Buffer.from(
      `--${boundary}\r\nContent-Type: ${p.contentType}\r\nContent-Transfer-Encoding: ${p.encoding}\r\n\r\n`,
    ),
  );
  const closing = Buffer.from(`\r\n--${boundary}--\r\n`);
  const between = CRLF;

  const render = (r: RecipientValues, date = new Date(), into?: Buffer): RenderedMessage => {
    if (/[\r\n<>\s,;"]/.test(r.address) || !r.address.includes('@')) {
      throw new BadRecipientError(`delivery ${r.deliveryId}: address is not a plain mailbox`);
    }
    const messageId = `<${r.messageId ? headerSafe(r.messageId) : `g${opts.issueId}.${r.deliveryId}.${variantTag}@${opts.messageIdDomain}`}>`;
    const head: string[] = [
      `To: ${formatRecipient(r.name, r.address)}`,
      `Date: ${rfc2822Date(date)}`,
      `Message-ID: ${messageId}`,
    ];
    const unsubscribe = [r.unsubscribeMailto, r.oneClickUnsubscribeUrl].filter((u): u is string => !!u);
    if (unsubscribe.length)
      head.push(`List-Unsubscribe: ${unsubscribe.map((u) => `<${headerSafe(u)}>`).join(',\r\n ')}`);
    if (r.oneClickUnsubscribeUrl) head.push('List-Unsubscribe-Post: List-Unsubscribe=One-Click');
    if (subjectHasTokens) {
      head.push(`Subject: ${encodeHeaderText(fillString(subjectParts, r.tokens, false))}`);
    }
    const chunks: Buffer[] = [Buffer.from(`${head.join('\r\n')}\r\n`), fixedHead];
    parts.forEach((p, i) => {
      if (i > 0) chunks.push(between);
      chunks.push(partHeads[i] as Buffer);
      if (p.mode === 'constant') chunks.push(p.pieces[0] as Buffer);
      else if (p.mode === 'fill') {
        const filled = fillString(splitTokens(p.template), r.tokens, p.html);
        chunks.push(Buffer.from(encodeBody(filled, p.encoding)));
      } else {
        for (const piece of p.pieces) {
          chunks.push(typeof piece === 'string' ? Buffer.from(tokenValue(piece, r.tokens, p.html)) : piece);
        }
      }
    });
    chunks.push(closing);
    // A signed message is new bytes anyway (the signature goes in front), so `into` is not used.
    const raw = opts.dkim ? opts.dkim.sign(Buffer.concat(chunks), date) : join(chunks, into);
    return { raw, messageId: messageId.slice(1, -1) };
  };

  const sample = render(
    {
      deliveryId: 1,
      address: 'sample@example.org',
      name: 'Sample',
      oneClickUnsubscribeUrl: `https://example.org/${'u'.repeat(120)}`,
      tokens: {
        name: 'Sample',
        unsubscribeUrl: `https://example.org/${'u'.repeat(120)}`,
        preferencesUrl: `https://example.org/${'p'.repeat(120)}`,
        webVersionUrl: `https://example.org/${'w'.repeat(120)}`,
        trackingToken: 't'.repeat(60),
      },
    },
    new Date(0),
  );
  return {
    variantKey: variant.variantKey,
    eightBit: parts.every((p) => p.encoding === '8bit'),
    approxBytes: sample.raw.length,
    render,
  };
}

/** The chunks as one buffer: written into `into` when they fit, else newly allocated. */
function join(chunks: Buffer[], into: Buffer | undefined): Buffer {
  let size = 0;
  for (const c of chunks) size += c.length;
  if (!into || into.length < size) return Buffer.concat(chunks, size);
  let at = 0;
  for (const c of chunks) at += c.copy(into, at);
  return into.subarray(0, size);
}

function buildBody(body: string, contentType: string, html: boolean, eightBit: boolean): BodyPart {
  const normalized = body.replace(/\r?\n|\r/g, '\r\n');
  const segments = splitTokens(normalized);
  const hasTokens = segments.some((s) => typeof s !== 'string');
  if (eightBit) {
    const fitted = fitLines(normalized, html);
    if (fitted !== null) {
      const pieces: Piece[] = splitTokens(fitted).map((s) =>
        typeof s === 'string' ? Buffer.from(s, 'utf8') : s.token,
      );
      return { contentType, encoding: '8bit', mode: '8bit', pieces, template: fitted, html };
    }
  }
  // The smaller 7-bit form of this part (CJK: base64; mostly ASCII: quoted-printable).
  const asBase64 = encodeBody(normalized, 'base64');
  const asQp = encodeBody(normalized, 'quoted-printable');
  const encoding: TransferEncoding = asQp.length < asBase64.length ? 'quoted-printable' : 'base64';
  if (!hasTokens) {
    return {
      contentType,
      encoding,
      mode: 'constant',
      pieces: [Buffer.from(encoding === 'base64' ? asBase64 : asQp)],
      template: normalized,
      html,
    };
  }
  return { contentType, encoding, mode: 'fill', pieces: [], template: normalized, html };
}

function encodeBody(text: string, encoding: TransferEncoding): string {
  const bytes = Buffer.from(text, 'utf8');
  if (encoding === 'quoted-printable') return qp.wrap(qp.encode(bytes), 76);
  return wrapBase64(bytes.toString('base64'));
}

/**
 * Makes every line fit SMTP's 998-octet limit (counting each token at its allowance), or returns
 * null when that is impossible without changing the meaning (the part then goes out as base64).
 */
function fitLines(text: string, html: boolean): string | null {
  const lines = text.split('\r\n');
  const out: string[] = [];
  for (const line of lines) {
    if (lineBytes(line) <= MAX_LINE) {
      out.push(line);
      continue;
    }
    if (html && /<pre[\s>]/i.test(line)) return null;
    // HTML: break at a space (a line break is the same whitespace to a browser). Plain text:
    // break after a sentence's end (CJK has no spaces), which a reader sees as a line wrap.
    // A space where the line breaks is replaced by the break.
    // HTML may also break just before a tag's closing '>' after a name or quote (`<p\r\n>`),
    // which is whitespace inside the tag and invisible; never in `-->` or `]>`.
    const words = html
      ? line.split(/(?<= )|(?<=[A-Za-z0-9"'])(?=>)/)
      : line.split(/(?<=[。！？；!?;] ?)|(?<= )/u);
    let current = '';
    for (const word of words) {
      const candidate = `${current}${word}`;
      if (lineBytes(candidate) <= MAX_LINE - 100) current = candidate;
      else {
        if (current !== '') out.push(current.endsWith(' ') ? current.slice(0, -1) : current);
        if (lineBytes(word) > MAX_LINE - 100) {
          // A long run of CJK text has no space to break at. In HTML text an empty comment
          // holding the line break is invisible; anywhere else give up (base64).
          const m = html ? /^([^<>]*>)?([^<>{}]*)(<[^>]*)?$/s.exec(word) : null;
          if (!m || Buffer.byteLength(m[2] ?? '') < 600) return null;
          const pieces = chopText(m[2] as string, 250);
          pieces[0] = `${m[1] ?? ''}${pieces[0]}`;
          pieces[pieces.length - 1] = `${pieces[pieces.length - 1]}${m[3] ?? ''}`;
          out.push(...pieces.slice(0, -1).map((p, i) => `${i > 0 ? '-->' : ''}${p}<!--`));
          current = `-->${pieces[pieces.length - 1] as string}`;
          continue;
        }
        current = word;
      }
    }
    out.push(current);
  }
  return out.join('\r\n');
}

/** Splits text into pieces of at most `chars` code points. */
function chopText(text: string, chars: number): string[] {
  const cps = Array.from(text);
  const out: string[] = [];
  for (let i = 0; i < cps.length; i += chars) out.push(cps.slice(i, i + chars).join(''));
  return out;
}

function lineBytes(line: string): number {
  let tokens = 0;
  const bare = line.replace(TOKEN_RE, () => {
    tokens++;
    return '';
  });
  return Buffer.byteLength(bare, 'utf8') + tokens * TOKEN_ALLOWANCE;
}

function fillString(
  parts: (string | { token: TokenName })[],
  tokens: Record<TokenName, string>,
  html: boolean,
): string {
  let s = '';
  for (const p of parts) s += typeof p === 'string' ? p : tokenValue(p.token, tokens, html);
  return s;
}

function tokenValue(name: TokenName, tokens: Record<TokenName, string>, html: boolean): string {
  const v = (tokens[name] ?? '').replace(/[\r\n]+/g, ' ');
  return html ? escapeHtml(v) : v;
}

function wrapBase64(b64: string): string {
  const lines: string[] = [];
  for (let i = 0; i < b64.length; i += 76) lines.push(b64.slice(i, i + 76));
  return lines.join('\r\n');
}

const WORD_MAX = 75;
const WORD_OVERHEAD = '=?UTF-8?B??='.length;

/**
 * Header text: ASCII as is, anything else as RFC 2047 base64 encoded words, each at most 75
 * characters and whole characters only (§2, §5), one per folded line, the first one short enough
 * that `Subject: ` and it fit in 76.
 */
export function encodeHeaderText(value: string, fieldName = 'Subject'): string {
  const clean = value.replace(/[\r\n]+/g, ' ');
  if (/^[\x20-\x7e]*$/.test(clean)) return clean;
  return encodedWords(clean, WORD_MAX - fieldName.length - 2).join('\r\n ');
}

/** Encoded words for `text`; the first at most `firstMax` characters, the others WORD_MAX. */
export function encodedWords(text: string, firstMax = WORD_MAX): string[] {
  const words: string[] = [];
  let bytes: Buffer[] = [];
  let size = 0;
  const room = () => Math.floor(((words.length ? WORD_MAX : firstMax) - WORD_OVERHEAD) / 4) * 3;
  const flush = () => {
    words.push(`=?UTF-8?B?${Buffer.concat(bytes).toString('base64')}?=`);
    bytes = [];
    size = 0;
  };
  for (const ch of text) {
    const b = Buffer.from(ch, 'utf8');
    if (size + b.length > room() && size > 0) flush();
    bytes.push(b);
    size += b.length;
  }
  if (size > 0) flush();
  return words;
}

/** `Name <addr>` with a non-ASCII name encoded; a bare address as is. */
export function encodeAddressHeader(value: string): string {
  const m = /^\s*(.*?)\s*<([^<>]+)>\s*$/.exec(value);
  if (!m) return headerSafe(value.trim());
  const [, name, addr] = m;
  return name
    ? `${encodeDisplayName(name.replace(/^"|"$/g, ''))} <${headerSafe(addr as string)}>`
    : `<${headerSafe(addr as string)}>`;
}

function formatRecipient(name: string | null, address: string): string {
  return name?.trim() ? `${encodeDisplayName(name.trim())} <${address}>` : address;
}

function encodeDisplayName(name: string): string {
  const clean = name.replace(/[\r\n]+/g, ' ');
  if (/^[A-Za-z0-9 !#$%&'*+\-/=?^_`{|}~.]*$/.test(clean)) return `"${clean}"`;
  return encodedWords(clean).join('\r\n ');
}

function headerSafe(v: string): string {
  return v.replace(/[\r\n]/g, '');
}

const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
let dateCache = { second: -1, text: '' };

/** RFC 5322 date in UTC, cached per second (it is on every message). */
export function rfc2822Date(d: Date): string {
  const second = Math.floor(d.getTime() / 1000);
  if (dateCache.second === second) return dateCache.text;
  const p = (n: number) => String(n).padStart(2, '0');
  const text = `${DAYS[d.getUTCDay()]}, ${d.getUTCDate()} ${MONTHS[d.getUTCMonth()]} ${d.getUTCFullYear()} ${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())} +0000`;
  dateCache = { second, text };
  return text;
}
