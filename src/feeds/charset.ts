import chardet from 'chardet';
import iconv from 'iconv-lite';
import type { FeedNote } from './feed-notes.js';

/**
 * Turns fetched bytes into text. Chinese sites often send GBK, GB18030 or Big5, sometimes without
 * saying so, sometimes saying the wrong thing. Order of trust: a byte-order mark or the UTF-16/32
 * byte pattern of "<?xml" (XML 1.0 appendix F), then the HTTP Content-Type charset, then the
 * document's own declaration (XML prolog or HTML meta), then detection. A declaration is not
 * believed when its decoding is not clean (replacement characters) or not plausible: non-ASCII
 * bytes that are valid UTF-8 are UTF-8 whatever the label says, and a Western single-byte label on
 * runs of GB2312 byte pairs is a server default, not the document's charset. What was overruled is
 * kept beside the result, so a source's health can say which one won.
 */

export interface DecodedText {
  text: string;
  /** The charset used, as iconv-lite names it. */
  charset: string;
  /** Where the charset came from. */
  from: 'bom' | 'pattern' | 'header' | 'document' | 'detected' | 'default';
  /** A declared charset that was not believed, and where it was declared. */
  overruled?: { charset: string; from: 'header' | 'document'; reason: OverruleReason };
}

const BOMS: [Buffer, string][] = [
  [Buffer.from([0xef, 0xbb, 0xbf]), 'utf-8'],
  [Buffer.from([0x00, 0x00, 0xfe, 0xff]), 'utf-32be'],
  [Buffer.from([0xff, 0xfe, 0x00, 0x00]), 'utf-32le'],
  [Buffer.from([0xff, 0xfe]), 'utf-16le'],
  [Buffer.from([0xfe, 0xff]), 'utf-16be'],
];

/** WHATWG maps these labels to a superset; GB18030 decodes all of GBK and GB2312. */
function normalizeLabel(label: string): string | null {
  const l = label
    .trim()
    .replace(/^["']|["']$/g, '')
    .toLowerCase();
  if (!l) return null;
  if (
    ['gb2312', 'gbk', 'x-gbk', 'gb_2312-80', 'csgb2312', 'chinese', 'euc-cn', 'cp936', 'gb18030'].includes(l)
  ) {
    return 'gb18030';
  }
  if (['big5', 'big5-hkscs', 'cn-big5', 'x-x-big5', 'csbig5'].includes(l)) return 'big5';
  if (l === 'utf8') return 'utf-8';
  if (l === 'iso-8859-1' || l === 'latin1' || l === 'us-ascii' || l === 'ascii') return 'windows-1252';
  return iconv.encodingExists(l) ? l : null;
}

export function charsetFromContentType(contentType: string | undefined): string | null {
  const m = /charset\s*=\s*("?)([^";,\s]+)\1/i.exec(contentType ?? '');
  return m ? normalizeLabel(m[2] as string) : null;
}

/** The charset a document declares in its first bytes (XML prolog, HTML meta). */
export function charsetFromDocument(head: string): string | null {
  const xml = /^\s*<\?xml[^>]*\bencoding\s*=\s*["']([^"']+)["']/i.exec(head);
  if (xml) return normalizeLabel(xml[1] as string);
  const meta =
    /<meta[^>]+charset\s*=\s*["']?([\w-]+)/i.exec(head) ??
    /<meta[^>]+content\s*=\s*["'][^"']*charset=([\w-]+)/i.exec(head);
  return meta ? normalizeLabel(meta[1] as string) : null;
}

function isValidUtf8(bytes: Buffer): boolean {
  try {
    new TextDecoder('utf-8', { fatal: true }).decode(bytes);
    return true;
  } catch {
    return false;
  }
}

/**
 * UTF-16 and UTF-32 without a byte-order mark, from how "<" (and "<?") look in the first bytes,
 * as XML 1.0 appendix F describes. No ASCII-compatible charset starts a document with a NUL.
 */
export function charsetFromBytePattern(b: Buffer): string | null {
  if (b.length < 4) return null;
  const [b0, b1, b2, b3] = [b[0], b[1], b[2], b[3]];
  if (b0 === 0 && b1 === 0 && b2 === 0 && b3 === 0x3c) return 'utf-32be';
  if (b0 === 0x3c && b1 === 0 && b2 === 0 && b3 === 0) return 'utf-32le';
  if (b0 === 0 && b1 === 0x3c && b2 === 0) return 'utf-16be';
  if (b0 === 0x3c && b1 === 0 && b2 !== 0 && b3 === 0) return 'utf-16le';
  // Leading whitespace before the first "<" (also seen in the wild).
  if (b0 === 0 && (b1 === 0x20 || b1 === 0x0a || b1 === 0x0d || b1 === 0x09) && b2 === 0) return 'utf-16be';
  if ((b0 === 0x20 || b0 === 0x0a || b0 === 0x0d || b0 === 0x09) && b1 === 0 && b3 === 0 && b2 !== 0)
    return 'utf-16le';
  return null;
}

const hasHighBytes = (bytes: Buffer) => bytes.some((b) => b >= 0x80);

/**
 * Whether the non-ASCII bytes are all GB2312 double-byte characters (lead 0xB0–0xF7, trail
 * 0xA1–0xFE) and mostly in runs of two characters or more, as Chinese text is. Western text in
 * a single-byte charset has its accented letters alone or in pairs ("café", "Größe").
 */
export function looksLikeGb2312(bytes: Buffer): boolean {
  let highBytes = 0;
  let inLongRuns = 0;
  let run = 0;
  const endRun = () => {
    if (run >= 4) inLongRuns += run;
    run = 0;
  };
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i] as number;
    if (b < 0x80) {
      endRun();
      continue;
    }
    const trail = bytes[i + 1];
    if (b < 0xb0 || b > 0xf7 || trail === undefined || trail < 0xa1 || trail > 0xfe) {
      // A1–A9 leads are GB2312 punctuation (“”、。《》): allowed, but they do not prove anything.
      if (b >= 0xa1 && b <= 0xa9 && trail !== undefined && trail >= 0xa1 && trail <= 0xfe) {
        highBytes += 2;
        run += 2;
        i++;
        continue;
      }
      return false;
    }
    highBytes += 2;
    run += 2;
    i++;
  }
  endRun();
  return highBytes >= 4 && inLongRuns * 10 >= highBytes * 6;
}

const SINGLE_BYTE_WESTERN = new Set(['windows-1252', 'iso-8859-15', 'iso-8859-2']);

/** Why a declared charset was not believed (described in src/feeds/feed-notes.ts). */
export type OverruleReason = 'not-utf8' | 'no-utf16-pattern' | 'valid-utf8' | 'undecodable' | 'gb2312-runs';

/** Why a declared charset's reading is not believed, or null if it is. */
function implausible(bytes: Buffer, charset: string, text: string): OverruleReason | null {
  if (charset === 'utf-8') return isValidUtf8(bytes) ? null : 'not-utf8';
  // Real UTF-16/32 has a byte-order mark or the "<" pattern, both checked before any label.
  if (/^utf-(16|32)/.test(charset)) return 'no-utf16-pattern';
  if (hasHighBytes(bytes) && isValidUtf8(bytes)) return 'valid-utf8';
  // A stray bad byte is tolerated; a text full of replacement characters is the wrong charset.
  const replaced = text.split('\ufffd').length - 1;
  if (replaced > 0 && replaced * 50 > text.replace(/[ -~\s]/g, '').length) return 'undecodable';
  if (SINGLE_BYTE_WESTERN.has(charset) && looksLikeGb2312(bytes)) return 'gb2312-runs';
  return null;
}

function detect(bytes: Buffer): string | null {
  if (isValidUtf8(bytes)) return 'utf-8';
  // Statistical detection needs more text than a short Chinese title gives; the byte structure does not.
  if (looksLikeGb2312(bytes)) return 'gb18030';
  // Detection on the text-bearing part is enough and keeps large bodies cheap.
  const best = chardet.analyse(bytes.subarray(0, 64 * 1024))[0];
  return best && best.confidence >= 10 ? normalizeLabel(best.name) : null;
}

export function decodeBody(bytes: Buffer, contentType?: string): DecodedText {
  for (const [bom, charset] of BOMS) {
    if (bytes.subarray(0, bom.length).equals(bom)) {
      return { text: iconv.decode(bytes.subarray(bom.length), charset), charset, from: 'bom' };
    }
  }
  const pattern = charsetFromBytePattern(bytes);
  if (pattern) return { text: iconv.decode(bytes, pattern), charset: pattern, from: 'pattern' };
  // The prolog and meta tags are ASCII in every charset Gazette reads.
  const head = bytes.subarray(0, 2048).toString('latin1');
  const declared: [string | null, DecodedText['from']][] = [
    [charsetFromContentType(contentType), 'header'],
    [charsetFromDocument(head), 'document'],
  ];
  // Servers often default to ISO-8859-1 in the header; a document that names its charset knows better.
  if (declared[0]?.[0] === 'windows-1252' && declared[1]?.[0]) declared.shift();
  let overruled: DecodedText['overruled'];
  for (const [charset, from] of declared) {
    if (!charset) continue;
    const text = iconv.decode(bytes, charset);
    // A false claim: look further, and remember the first one.
    const reason = implausible(bytes, charset, text);
    if (reason) {
      overruled ??= { charset, from: from as 'header' | 'document', reason };
      continue;
    }
    return { text, charset, from };
  }
  const withOverruled = overruled ? { overruled } : {};
  const detected = detect(bytes);
  if (detected)
    return { text: iconv.decode(bytes, detected), charset: detected, from: 'detected', ...withOverruled };
  return { text: iconv.decode(bytes, 'utf-8'), charset: 'utf-8', from: 'default', ...withOverruled };
}

/** A declared charset that lost to the bytes, as a note for the source's health. */
export function charsetNotes(decoded: DecodedText): FeedNote[] {
  const o = decoded.overruled;
  if (!o) return [];
  return [
    {
      code: 'charset-overruled',
      params: {
        declared: o.charset,
        from: o.from,
        reason: o.reason,
        used: decoded.charset,
      },
    },
  ];
}
