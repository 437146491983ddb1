import { load } from 'cheerio';
import sanitizeHtml from 'sanitize-html';

/**
 * Feed HTML is untrusted and ends up in email (DESIGN.md invariant 7). It is cut down to a small
 * allow-list of formatting elements before it is stored: no script, style, iframe, object, form,
 * event handlers, style attributes, or URLs other than http(s) (and mailto for links). Relative
 * URLs are resolved against the item's base so they still work inside an email.
 */

const ALLOWED_TAGS = [
  'p', 'br', 'a', 'b', 'strong', 'i', 'em', 'u', 's', 'strike', 'del', 'ins', 'sub', 'sup', 'small',
  'mark', 'blockquote', 'q', 'cite', 'code', 'pre', 'kbd', 'abbr', 'ul', 'ol', 'li', 'dl', 'dt', 'dd',
  'h1', 'h2', 'h3', 'h4', 'h5', 'h6', 'hr', 'img', 'figure', 'figcaption', 'table', 'thead', 'tbody',
  'tfoot', 'tr', 'th', 'td', 'caption', 'span', 'div',
]; // biome-ignore format: a list reads better packed

/** Elements whose content is code or chrome, never visible text: dropped with what they hold. */
const NON_TEXT_TAGS = [
  'script',
  'style',
  'textarea',
  'option',
  'noscript',
  'template',
  'title',
  'head',
  'xmp',
];

function resolveUrl(value: string | undefined, baseUrl: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  const trimmed = value.trim();
  if (!baseUrl) return trimmed;
  try {
    return new URL(trimmed, baseUrl).href;
  } catch {
    return trimmed;
  }
}

function options(baseUrl: string | undefined): sanitizeHtml.IOptions {
  return {
    allowedTags: ALLOWED_TAGS,
    allowedAttributes: {
      a: ['href', 'title'],
      img: ['src', 'alt', 'title', 'width', 'height'],
      abbr: ['title'],
      ol: ['start'],
      td: ['colspan', 'rowspan'],
      th: ['colspan', 'rowspan'],
    },
    allowedSchemes: ['http', 'https', 'mailto'],
    allowedSchemesByTag: { img: ['http', 'https'] },
    allowedSchemesAppliedToAttributes: ['href', 'src', 'cite'],
    allowProtocolRelative: false,
    disallowedTagsMode: 'discard',
    nonTextTags: NON_TEXT_TAGS,
    // Resolve first, so a relative or obfuscated URL is judged by the scheme it really has.
    transformTags: {
      a: (tagName, attribs) => ({
        tagName,
        attribs: {
          ...attribs,
          ...(attribs.href !== undefined ? { href: resolveUrl(attribs.href, baseUrl) ?? '' } : {}),
        },
      }),
      img: (tagName, attribs) => ({
        tagName,
        attribs: {
          ...attribs,
          ...(attribs.src !== undefined ? { src: resolveUrl(attribs.src, baseUrl) ?? '' } : {}),
        },
      }),
    },
    exclusiveFilter: (frame) => frame.tag === 'img' && !frame.attribs.src,
  };
}

const BLOCK = new Set([
  'p', 'div', 'br', 'li', 'ul', 'ol', 'dl', 'dt', 'dd', 'h1', 'h2', 'h3', 'h4', 'h5', 'h6', 'hr', 'blockquote',
  'pre', 'table', 'tr', 'figure', 'figcaption', 'caption',
]); // biome-ignore format: a list reads better packed

/** Plain text of (already sanitised) HTML: blocks become line breaks, runs of spaces collapse. */
export function htmlToText(html: string): string {
  // htmlparser2 (via the xml option, in HTML mode) is much faster than parse5 for this.
  const $ = load(html, { xml: { xmlMode: false, decodeEntities: true } }, false);
  const parts: string[] = [];
  const walk = (nodes: ReturnType<typeof $.root>['0']['children']) => {
    for (const node of nodes) {
      if (node.type === 'text') parts.push(node.data);
      else if (node.type === 'tag') {
        const block = BLOCK.has(node.name);
        if (block) parts.push('\n');
        if (node.name === 'td' || node.name === 'th') parts.push(' ');
        walk(node.children);
        if (block) parts.push('\n');
      }
    }
  };
  const root = $.root()[0];
  if (root) walk(root.children);
  return parts
    .join('')
    .replace(/[ \t\f\v\u00a0\r]+/g, ' ')
    .replace(/ *\n */g, '\n')
    .replace(/\n{3,}/g, '\n\n')
    .trim();
}

export function sanitizeFeedHtml(html: string, baseUrl?: string): { html: string; text: string } {
  // A CDATA section means nothing in HTML; parsers hide everything after it as a comment. Show it
  // as text instead, so no visible text is lost (a feed that double-wraps CDATA does this).
  const input = (html ?? '').replace(/<!\[CDATA\[/g, '&lt;![CDATA[');
  const clean = sanitizeHtml(input, options(baseUrl)).trim();
  return { html: clean, text: htmlToText(clean) };
}

/** Text only, for titles and other one-line fields that may carry markup or entities. */
export function plainTextLine(value: string): string {
  // Most titles are plain text: skip the HTML parser for them.
  if (!/[<&]/.test(value ?? '')) return (value ?? '').replace(/\s+/g, ' ').trim();
  const clean = sanitizeHtml(value ?? '', {
    allowedTags: [],
    allowedAttributes: {},
    nonTextTags: NON_TEXT_TAGS,
  });
  return htmlToText(clean).replace(/\s+/g, ' ').trim();
}
