import chardet from 'chardet';
import iconv from 'iconv-lite';

/**
 * Turns fetched bytes into text. Chinese sites often send GBK, GB18030 or Big5, sometimes without
 * saying so, sometimes saying the wrong thing. Order of trust: a byte-order mark, then the HTTP
 * Content-Type charset, then the document's own declaration (XML prolog or HTML meta), then
 * statistical detection. A declaration of UTF-8 on bytes that are not UTF-8 is not believed.
 */

export interface DecodedText {
  text: string;
  /** The charset used, as iconv-lite names it. */
  charset: string;
  /** Where the charset came from. */
  from: 'bom' | 'header' | 'document' | 'detected' | 'default';
}

const BOMS: [Buffer, string][] = [
  [Buffer.from([0xef, 0xbb, 0xbf]), 'utf-8'],
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

function detect(bytes: Buffer): string | null {
  if (isValidUtf8(bytes)) return 'utf-8';
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
  // The prolog and meta tags are ASCII in every charset Gazette reads.
  const head = bytes.subarray(0, 2048).toString('latin1');
  const declared: [string | null, DecodedText['from']][] = [
    [charsetFromContentType(contentType), 'header'],
    [charsetFromDocument(head), 'document'],
  ];
  // Servers often default to ISO-8859-1 in the header; a document that names its charset knows better.
  if (declared[0]?.[0] === 'windows-1252' && declared[1]?.[0]) declared.shift();
  for (const [charset, from] of declared) {
    if (!charset) continue;
    if (charset === 'utf-8' && !isValidUtf8(bytes)) continue; // a false claim: look further
    return { text: iconv.decode(bytes, charset), charset, from };
  }
  const detected = detect(bytes);
  if (detected) return { text: iconv.decode(bytes, detected), charset: detected, from: 'detected' };
  return { text: iconv.decode(bytes, 'utf-8'), charset: 'utf-8', from: 'default' };
}
