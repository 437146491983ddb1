import render from 'dom-serializer';
import { type ChildNode, type Document, Element, Text } from 'domhandler';
import { parseDocument } from 'htmlparser2';

/**
 * A lenient pass over a feed before rss-parser (strict xml2js) reads it. It reads any document,
 * well-formed or not (htmlparser2 in XML mode closes what a truncated tail left open), and rewrites
 * what xml2js would mangle or miss into plain, well-formed RSS/Atom:
 * - inline markup inside text fields (`<title>History of the <blink>blink</blink> tag</title>`,
 *   `<xhtml:body>`, Atom `type="xhtml"`) becomes escaped HTML, so its text and order survive;
 * - Atom 0.3 `mode="base64"` content is decoded;
 * - a prefix bound to a feed namespace (`<rss:rss>`, `<atom:feed>`, `<rss:item>` under RDF) is dropped.
 * It serialises only the root element, so what preceded it (comments, doctype) cannot trouble xml2js.
 */

export interface NormalizedXml {
  /** Well-formed XML of the root element. */
  xml: string;
  /** Whether anything was rewritten (if not, and the input was well-formed, the input can be used). */
  changed: boolean;
  root: Element | null;
}

const FEED_NAMESPACES = new Set([
  'http://purl.org/rss/1.0/',
  'http://backend.userland.com/rss2',
  'http://blogs.law.harvard.edu/tech/rss',
  'http://www.w3.org/2005/Atom',
  'http://purl.org/atom/ns#',
  'http://my.netscape.com/rdf/simple/0.9/',
]);
const XHTML_NS = 'http://www.w3.org/1999/xhtml';

/** Elements whose value Gazette reads as text or HTML; child elements in them are markup, not structure. */
const TEXT_FIELDS = new Set([
  'title',
  'description',
  'summary',
  'content',
  'subtitle',
  'tagline',
  'info',
  'body',
  'content:encoded',
  'dc:description',
  'abstract',
]);

const isElement = (n: ChildNode): n is Element => n instanceof Element;

function prefixesBound(root: Element, namespaces: Set<string>): Set<string> {
  const out = new Set<string>();
  for (const [name, value] of Object.entries(root.attribs)) {
    if (name.startsWith('xmlns:') && namespaces.has(value.trim())) out.add(name.slice(6));
  }
  return out;
}

function renameAll(node: Element, rename: (name: string) => string): boolean {
  let changed = false;
  const next = rename(node.name);
  if (next !== node.name) {
    node.name = next;
    changed = true;
  }
  for (const child of node.children) if (isElement(child) && renameAll(child, rename)) changed = true;
  return changed;
}

function innerHtml(el: Element, xhtmlPrefixes: Set<string>): string {
  let nodes = el.children;
  // Atom type="xhtml" wraps its markup in one xhtml div, which is not part of the content.
  const elements = nodes.filter(isElement);
  const only = elements.length === 1 ? elements[0] : undefined;
  if (
    only &&
    only.name.replace(/^\w+:/, '') === 'div' &&
    nodes.every((n) => n === only || (n instanceof Text && !n.data.trim()))
  ) {
    nodes = only.children;
  }
  for (const n of nodes) {
    if (isElement(n))
      renameAll(n, (name) => {
        const colon = name.indexOf(':');
        return colon > 0 && xhtmlPrefixes.has(name.slice(0, colon)) ? name.slice(colon + 1) : name;
      });
  }
  return render(nodes, { xmlMode: false, encodeEntities: 'utf8', decodeEntities: true });
}

function decodeBase64(text: string): string | null {
  const compact = text.replace(/\s+/g, '');
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(compact)) return null;
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(Buffer.from(compact, 'base64'));
  } catch {
    return null;
  }
}

/** The text inside an element, CDATA included. */
export function textContent(el: Element): string {
  return el.children
    .map((c) =>
      c instanceof Text ? c.data : isElement(c) ? textContent(c) : c.type === 'cdata' ? cdataText(c) : '',
    )
    .join('');
}

function cdataText(node: ChildNode): string {
  return 'children' in node ? node.children.map((c) => (c instanceof Text ? c.data : '')).join('') : '';
}

function setText(el: Element, text: string) {
  const node = new Text(text);
  node.parent = el;
  el.children = [node];
}

/** Rewrites the text fields under `node`; returns whether anything changed. */
function flattenTextFields(node: Element, xhtmlPrefixes: Set<string>): boolean {
  let changed = false;
  for (const child of node.children) {
    if (!isElement(child)) continue;
    const name = child.name.toLowerCase();
    const field = TEXT_FIELDS.has(name) || TEXT_FIELDS.has(name.replace(/^\w+:/, ''));
    if (field && child.attribs.mode?.toLowerCase() === 'base64') {
      const decoded = decodeBase64(textContent(child));
      if (decoded !== null) {
        setText(child, decoded);
        delete child.attribs.mode;
        changed = true;
      }
    } else if (field && child.children.some(isElement)) {
      setText(child, innerHtml(child, xhtmlPrefixes));
      if (child.attribs.type?.toLowerCase() === 'xhtml') child.attribs.type = 'html';
      changed = true;
    } else if (flattenTextFields(child, xhtmlPrefixes)) {
      changed = true;
    }
  }
  return changed;
}

export function normalizeFeedXml(text: string): NormalizedXml {
  const doc: Document = parseDocument(text, {
    xmlMode: true,
    decodeEntities: true,
    recognizeCDATA: true,
  });
  const root = doc.children.find(isElement) ?? null;
  if (!root) return { xml: '', changed: false, root: null };
  const rootColon = root.name.indexOf(':');
  const feedPrefixes = prefixesBound(root, FEED_NAMESPACES);
  const rootLocal = root.name.slice(rootColon + 1).toLowerCase();
  if (rootColon > 0 && (rootLocal === 'rss' || rootLocal === 'feed'))
    feedPrefixes.add(root.name.slice(0, rootColon));
  let changed = false;
  if (feedPrefixes.size) {
    changed = renameAll(root, (name) => {
      const colon = name.indexOf(':');
      return colon > 0 && feedPrefixes.has(name.slice(0, colon)) ? name.slice(colon + 1) : name;
    });
  }
  const xhtmlPrefixes = prefixesBound(root, new Set([XHTML_NS]));
  xhtmlPrefixes.add('xhtml');
  if (flattenTextFields(root, xhtmlPrefixes)) changed = true;
  return {
    xml: render(root, { xmlMode: true, encodeEntities: 'utf8', selfClosingTags: true }),
    changed,
    root,
  };
}
