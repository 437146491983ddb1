/**
 * Finds a document's root element the way an XML parser would: past a byte-order mark, whitespace,
 * the XML declaration, processing instructions, comments and a doctype (with its internal subset).
 * A regex for the first "<name" is fooled by a leading comment that mentions a tag, so format
 * detection uses this instead.
 */

export interface XmlRoot {
  /** The qualified name as written, e.g. "rss", "rdf:RDF", "atom:feed". */
  name: string;
  prefix: string | null;
  /** The local name, lower-cased: "rss", "rdf", "feed", "channel", "html". */
  local: string;
  attrs: Record<string, string>;
  /** Offset of the root's "<" in the text. */
  offset: number;
}

const ATTR = /([^\s=/>]+)\s*=\s*(?:"([^"]*)"|'([^']*)')/g;

/** Skips a doctype, whose internal subset may hold quoted ">", comments and nested declarations. */
function skipDoctype(text: string, from: number): number {
  let depth = 0;
  let quote: string | null = null;
  for (let i = from; i < text.length; i++) {
    const c = text[i];
    if (quote) {
      if (c === quote) quote = null;
    } else if (c === '<' && text.startsWith('<!--', i)) {
      const end = text.indexOf('-->', i + 4);
      if (end < 0) return -1;
      i = end + 2;
    } else if (c === '"' || c === "'") quote = c;
    else if (c === '[') depth++;
    else if (c === ']') depth--;
    else if (c === '>' && depth <= 0) return i + 1;
  }
  return -1;
}

export function scanRoot(text: string): XmlRoot | null {
  let i = 0;
  if (text.charCodeAt(0) === 0xfeff) i = 1;
  for (;;) {
    while (i < text.length && /\s/.test(text[i] as string)) i++;
    if (text[i] !== '<') return null;
    if (text.startsWith('<?', i)) {
      const end = text.indexOf('?>', i + 2);
      if (end < 0) return null;
      i = end + 2;
    } else if (text.startsWith('<!--', i)) {
      const end = text.indexOf('-->', i + 4);
      if (end < 0) return null;
      i = end + 3;
    } else if (/^<!doctype/i.test(text.slice(i, i + 9))) {
      i = skipDoctype(text, i + 9);
      if (i < 0) return null;
    } else {
      const m = /^<([A-Za-z_][\w.-]*(?::[A-Za-z_][\w.-]*)?)((?:[^>"']|"[^"]*"|'[^']*')*)>/.exec(
        text.slice(i, i + 8192),
      );
      if (!m) return null;
      const name = m[1] as string;
      const colon = name.indexOf(':');
      const attrs: Record<string, string> = {};
      for (const a of (m[2] as string).matchAll(ATTR)) attrs[a[1] as string] = a[2] ?? a[3] ?? '';
      return {
        name,
        prefix: colon < 0 ? null : name.slice(0, colon),
        local: name.slice(colon + 1).toLowerCase(),
        attrs,
        offset: i,
      };
    }
  }
}
