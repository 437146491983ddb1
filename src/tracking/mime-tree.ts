/**
 * Just enough MIME to read bounce and feedback reports: headers (folded lines, RFC 2047 words),
 * bodies decoded from base64 / quoted-printable in their charset (GB2312/GBK/GB18030 from Chinese
 * servers included), multipart children and messages nested in message/rfc822 parts. Reports are
 * read by the thousand (the receiver, `gazette bounces parse`, the benchmark), so this stays small
 * and synchronous instead of building mailparser's full model of each message.
 */
export type Headers = Map<string, string>;

export interface MimeNode {
  headers: Headers;
  /** Lower-case type/subtype; text/plain when absent (RFC 2045). */
  type: string;
  params: Record<string, string>;
  /** The decoded body text (for multiparts: the preamble only). */
  text: string;
  children: MimeNode[];
  /** For message/rfc822 (and message/global): the enclosed message. */
  message?: MimeNode;
}

const MAX_DEPTH = 8;

/** Header-style fields, lower-case names, folded lines joined; the first occurrence wins. */
export function parseHeaderBlock(block: string): Headers {
  const fields: Headers = new Map();
  let last: string | undefined;
  for (const line of block.split('\n')) {
    if (/^[ \t]/.test(line) && last) {
      fields.set(last, `${fields.get(last)} ${line.trim()}`);
      continue;
    }
    const m = /^([A-Za-z0-9][A-Za-z0-9-]*)\s*:\s*(.*)$/.exec(line);
    if (!m) {
      last = undefined;
      continue;
    }
    const name = (m[1] as string).toLowerCase();
    if (fields.has(name)) {
      last = undefined;
      continue;
    }
    last = name;
    fields.set(name, (m[2] as string).trim());
  }
  return fields;
}

export function decodeBytes(bytes: Buffer, charset: string | undefined): string {
  const cs = (charset ?? 'utf-8').trim().toLowerCase().replace(/^"|"$/g, '');
  const label = cs === 'gb2312' || cs === 'gbk' || cs === 'x-gbk' || cs === 'cp936' ? 'gb18030' : cs;
  try {
    return new TextDecoder(label).decode(bytes);
  } catch {
    return bytes.toString('utf8');
  }
}

function transferDecode(body: string, encoding: string | undefined): Buffer {
  const enc = (encoding ?? '').trim().toLowerCase();
  if (enc === 'base64') return Buffer.from(body.replace(/[^A-Za-z0-9+/=]/g, ''), 'base64');
  if (enc === 'quoted-printable') {
    const soft = body.replace(/=[ \t]*\n/g, '');
    return Buffer.from(
      soft.replace(/=([0-9A-Fa-f]{2})/g, (_m, h: string) => String.fromCharCode(Number.parseInt(h, 16))),
      'latin1',
    );
  }
  return Buffer.from(body, 'latin1');
}

/** RFC 2047 encoded words (`=?GB2312?B?...?=`) in a header value. */
export function decodeWords(value: string): string {
  if (!value.includes('=?')) return value;
  return value
    .replace(/\?=\s+=\?/g, '?==?')
    .replace(/=\?([^?]+)\?([BbQq])\?([^?]*)\?=/g, (_m, charset: string, enc: string, data: string) => {
      const bytes =
        enc.toUpperCase() === 'B'
          ? Buffer.from(data, 'base64')
          : transferDecode(data.replace(/_/g, ' '), 'quoted-printable');
      return decodeBytes(bytes, charset.split('*')[0]);
    });
}

/** `text/plain; charset="gbk"; boundary=x` → type and parameters. */
export function parseContentType(value: string | undefined): {
  type: string;
  params: Record<string, string>;
} {
  const [head, ...rest] = (value ?? 'text/plain').split(';');
  const params: Record<string, string> = {};
  for (const p of rest) {
    const i = p.indexOf('=');
    if (i < 0) continue;
    params[p.slice(0, i).trim().toLowerCase()] = p
      .slice(i + 1)
      .trim()
      .replace(/^"(.*)"$/, '$1');
  }
  const type = (head ?? '').trim().toLowerCase();
  return { type: type.includes('/') ? type : 'text/plain', params };
}

/**
 * Reads a message. The text is taken as latin1 so that undeclared 8-bit bytes survive until the
 * part's charset is known; `raw` may be a Buffer straight from SMTP.
 */
export function parseMime(raw: Buffer | string): MimeNode {
  const text = (typeof raw === 'string' ? Buffer.from(raw, 'utf8') : raw).toString('latin1');
  return parseEntity(text.replace(/\r\n?/g, '\n'), 0);
}

function parseEntity(text: string, depth: number): MimeNode {
  const split = /\n\n/.exec(text);
  // A part with no blank line is all headers only when its first line looks like a header.
  const headerEnd = split ? split.index : /^[A-Za-z0-9-]+:/.test(text) ? text.length : 0;
  const headers = parseHeaderBlock(text.slice(0, headerEnd));
  for (const [k, v] of headers) {
    // Raw 8-bit header bytes (RFC 6532) are UTF-8; the text was read as latin1.
    const utf8 = /[\x80-\xff]/.test(v) ? Buffer.from(v, 'latin1').toString('utf8') : v;
    headers.set(k, decodeWords(utf8));
  }
  const body = split ? text.slice(split.index + 2) : headerEnd ? '' : text;
  const { type, params } = parseContentType(headers.get('content-type'));
  const node: MimeNode = { headers, type, params, text: '', children: [] };
  if (type.startsWith('multipart/') && params.boundary && depth < MAX_DEPTH) {
    const { preamble, parts } = splitParts(body, params.boundary);
    node.text = preamble;
    node.children = parts.map((p) => parseEntity(p, depth + 1));
    return node;
  }
  const bytes = transferDecode(body, headers.get('content-transfer-encoding'));
  if ((type === 'message/rfc822' || type === 'message/global') && depth < MAX_DEPTH) {
    node.message = parseEntity(bytes.toString('latin1').replace(/\r\n?/g, '\n'), depth + 1);
    return node;
  }
  // Returned headers and delivery-status fields are ASCII or UTF-8 (RFC 6533); text has a charset.
  node.text = decodeBytes(bytes, params.charset ?? (type.startsWith('text/') ? undefined : 'utf-8'));
  return node;
}

function splitParts(body: string, boundary: string): { preamble: string; parts: string[] } {
  const delimiter = `--${boundary}`;
  const lines = body.split('\n');
  const parts: string[] = [];
  let current: string[] | null = null;
  const preamble: string[] = [];
  for (const line of lines) {
    if (line.startsWith(delimiter)) {
      const tail = line.slice(delimiter.length).trimEnd();
      if (tail === '' || tail === '--') {
        if (current) parts.push(current.join('\n'));
        current = tail === '--' ? null : [];
        if (tail === '--') break;
        continue;
      }
    }
    if (current) current.push(line);
    else if (!parts.length) preamble.push(line);
  }
  if (current) parts.push(current.join('\n'));
  return { preamble: preamble.join('\n'), parts: parts.filter((p) => p.trim() !== '') };
}

/** Every node of the tree, depth first, entering enclosed messages. */
export function* walk(node: MimeNode): Generator<MimeNode> {
  yield node;
  for (const c of node.children) yield* walk(c);
  if (node.message) yield* walk(node.message);
}

/** The decoded plain text of a message, for reading bounces that have no machine-readable part. */
export function plainText(node: MimeNode, opts: { enterMessages?: boolean } = {}): string {
  if (node.type.startsWith('multipart/')) {
    const texts = node.children
      .filter((c) => !c.type.startsWith('message/') || opts.enterMessages)
      .map((c) => plainText(c, opts));
    if (node.type === 'multipart/alternative') return texts.find((t) => t.trim()) ?? '';
    return [node.text, ...texts].filter((t) => t.trim()).join('\n');
  }
  if (node.message) return opts.enterMessages ? plainText(node.message, opts) : '';
  if (node.type === 'text/html') return htmlToText(node.text);
  if (node.type.startsWith('text/') || node.type === 'message/delivery-status') return node.text;
  return '';
}

function htmlToText(html: string): string {
  return html
    .replace(/<(script|style)[\s\S]*?<\/\1>/gi, '')
    .replace(/<br\s*\/?>|<\/(p|div|tr|li|h\d)>/gi, '\n')
    .replace(/<[^>]+>/g, '')
    .replace(/&nbsp;/g, ' ')
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&amp;/g, '&');
}
