import { decodeHTML } from 'entities';
import Parser from 'rss-parser';
import { parseFeedDate } from './dates.js';
import { plainTextLine, sanitizeFeedHtml } from './sanitize.js';

/**
 * One parser for every format Gazette reads: RSS 0.9x, RSS 1.0 (RDF), RSS 2.0 and Atom through
 * rss-parser, JSON Feed 1.0/1.1 directly (it is JSON). Every item comes out the same shape, with
 * links made absolute (xml:base, then the feed URL), HTML sanitised and dates in UTC.
 */

export type FeedFormat = 'rss0.9' | 'rss1' | 'rss2' | 'atom' | 'jsonfeed';

export interface NormalizedItem {
  /** The feed's own id for the item (guid, Atom id, rdf:about, JSON Feed id), if any. */
  guid: string | null;
  title: string;
  link: string | null;
  /** ISO 8601, UTC. */
  publishedAt: string | null;
  /** The offset the feed gave (or the default zone's), e.g. "+08:00". */
  publishedOffset: string | null;
  author: string | null;
  summaryText: string;
  /** Sanitised HTML. */
  contentHtml: string;
  categories: string[];
}

export interface ParsedFeed {
  format: FeedFormat;
  title: string;
  link: string | null;
  items: NormalizedItem[];
}

export class FeedParseError extends Error {
  override name = 'FeedParseError';
  readonly userFacing = true;
}

export interface ParseOptions {
  /** The URL the feed was fetched from (after redirects): the base for relative links. */
  feedUrl?: string;
  /** Zone for dates that carry none (Chinese sites often print local time). */
  defaultZone?: string;
}

const SUMMARY_MAX = 1200;

type Raw = Record<string, unknown>;

// A fresh parser per document: an xml2js parser that met an error is not safe to reuse.
const newParser = () =>
  new Parser<Raw, Raw>({
    defaultRSS: 2,
    xml2js: { strict: true },
    customFields: {
      feed: [['$', 'xmlAttrs', { keepArray: true }] as never],
      item: [
        ['$', 'xmlAttrs', { keepArray: true }] as never,
        ['published', 'rawPublished'],
        ['updated', 'rawUpdated'],
        ['category', 'rawCategories', { keepArray: true }] as never,
        ['dc:subject', 'dcSubjects', { keepArray: true }] as never,
      ],
    },
  });
type Parsed = Awaited<ReturnType<ReturnType<typeof newParser>['parseString']>>;

function detectFormat(text: string): FeedFormat | 'json' | 'html' | 'unknown' {
  const t = text.trimStart();
  if (t.startsWith('{')) return 'json';
  const root = /<(?!\?|!)([A-Za-z][\w:.-]*)([^>]*)>/.exec(t);
  if (!root) return 'unknown';
  const name = (root[1] as string).toLowerCase();
  if (name === 'feed') return 'atom';
  if (name === 'rdf:rdf') return 'rss1';
  if (name === 'rss') return /version\s*=\s*["']0\.9/.test(root[2] as string) ? 'rss0.9' : 'rss2';
  if (name === 'html') return 'html';
  return 'unknown';
}

function str(v: unknown): string | undefined {
  if (typeof v === 'string') return v;
  if (typeof v === 'number') return String(v);
  if (v && typeof v === 'object') {
    const o = v as Raw;
    if (typeof o._ === 'string') return o._;
    // Mixed content (e.g. an Atom xhtml title): keep the text.
    const texts: string[] = [];
    const collect = (x: unknown) => {
      if (typeof x === 'string') texts.push(x);
      else if (Array.isArray(x)) x.forEach(collect);
      else if (x && typeof x === 'object')
        for (const [k, val] of Object.entries(x as Raw)) if (k !== '$') collect(val);
    };
    collect(o);
    return texts.length ? texts.join(' ') : undefined;
  }
  return undefined;
}

function resolve(href: string | undefined | null, base: string | undefined): string | null {
  const value = href?.trim();
  if (!value) return null;
  try {
    return new URL(value, base).href;
  } catch {
    return base ? null : value;
  }
}

function declaredBase(raw: Raw | undefined): string | undefined {
  return (raw?.xmlAttrs as Record<string, string> | undefined)?.['xml:base'];
}

function xmlBase(raw: Raw | undefined, parentBase: string | undefined): string | undefined {
  const base = declaredBase(raw);
  return base ? (resolve(base, parentBase) ?? parentBase) : parentBase;
}

function truncate(text: string, max: number): string {
  if (text.length <= max) return text;
  return `${text.slice(0, max).trimEnd()}…`;
}

function dateFields(raw: string | undefined, zone: string | undefined) {
  const d = parseFeedDate(raw, zone);
  return { publishedAt: d ? d.utc.toISOString() : null, publishedOffset: d?.offset ?? null };
}

function finishItem(
  fields: {
    guid?: string;
    title?: string;
    link?: string | null;
    date?: string;
    author?: string;
    summaryHtml?: string;
    contentHtml?: string;
    categories?: string[];
  },
  base: string | undefined,
  zone: string | undefined,
): NormalizedItem {
  const summaryHtml = decodeBase64Html(fields.summaryHtml);
  const contentSource = decodeBase64Html(fields.contentHtml) ?? summaryHtml ?? '';
  const content = sanitizeFeedHtml(contentSource, base);
  // RSS often has only a description: it is both summary and content; sanitise it once.
  const summary =
    summaryHtml && summaryHtml !== contentSource ? sanitizeFeedHtml(summaryHtml, base).text : content.text;
  const summaryText = truncate(summary, SUMMARY_MAX);
  let title = plainTextLine(fields.title ?? '');
  if (!title) title = truncate(summaryText.split('\n')[0] ?? '', 80) || fields.link || '(untitled)';
  const categories = [
    ...new Set((fields.categories ?? []).map((c) => plainTextLine(c)).filter((c) => c.length > 0)),
  ];
  return {
    guid: fields.guid?.trim() || null,
    title,
    link: fields.link ?? null,
    ...dateFields(fields.date, zone),
    author: fields.author ? plainTextLine(fields.author) || null : null,
    summaryText,
    contentHtml: content.html,
    categories,
  };
}

/**
 * Atom 0.3 allowed content in base64 (mode="base64") and some generators still emit it without
 * saying so. Decode only when the whole value is base64 and decodes to UTF-8 markup, so ordinary
 * text is never touched.
 */
export function decodeBase64Html(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  const compact = value.replace(/\s+/g, '');
  if (compact.length < 16 || compact.length % 4 !== 0 || !/^[A-Za-z0-9+/]+={0,2}$/.test(compact))
    return value;
  try {
    const decoded = new TextDecoder('utf-8', { fatal: true }).decode(Buffer.from(compact, 'base64'));
    // biome-ignore lint/suspicious/noControlCharactersInRegex: binary data has control characters, text does not
    if (/[\u0000-\u0008\u000e-\u001f]/.test(decoded) || !/<[A-Za-z!/]/.test(decoded)) return value;
    return decoded;
  } catch {
    return value;
  }
}

function categoryTexts(raw: Raw): string[] {
  const out: string[] = [];
  for (const key of ['rawCategories', 'dcSubjects']) {
    const list = raw[key];
    if (!Array.isArray(list)) continue;
    for (const c of list) {
      if (c && typeof c === 'object' && (c as Raw).$) {
        const attrs = (c as Raw).$ as Record<string, string>;
        const text = attrs.label ?? attrs.term ?? str(c);
        if (text) out.push(text);
      } else {
        const text = str(c);
        if (text) out.push(text);
      }
    }
  }
  return out;
}

async function parseXml(text: string): Promise<Parsed> {
  try {
    return await newParser().parseString(text);
  } catch (first) {
    // Real feeds often carry bare ampersands, HTML entities and control characters; repair once.
    const repaired = repairXml(text);
    if (repaired === text) throw first;
    try {
      return await newParser().parseString(repaired);
    } catch {
      throw first;
    }
  }
}

const XML_ENTITIES = new Set(['amp', 'lt', 'gt', 'quot', 'apos']);

export function repairXml(text: string): string {
  return (
    text
      // biome-ignore lint/suspicious/noControlCharactersInRegex: removing exactly these is the point
      .replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f]/g, '')
      .replace(/&([A-Za-z][A-Za-z0-9]*);/g, (whole, name: string) => {
        if (XML_ENTITIES.has(name)) return whole;
        const decoded = decodeHTML(whole);
        return decoded !== whole ? `&#${decoded.codePointAt(0)};` : `&amp;${name};`;
      })
      .replace(/&(?!(?:[A-Za-z][A-Za-z0-9]*|#\d+|#x[0-9A-Fa-f]+);)/g, '&amp;')
  );
}

function fromXmlFeed(format: FeedFormat, feed: Raw, opts: ParseOptions): ParsedFeed {
  const feedBase = xmlBase(feed, opts.feedUrl);
  const items = ((feed.items as Raw[]) ?? []).map((raw) => {
    const base = xmlBase(raw, feedBase);
    const rawLink = str(raw.link) ?? (format === 'rss1' ? str(raw['rdf:about']) : undefined);
    const link = resolve(rawLink, base);
    const guid = str(raw.guid) ?? str(raw.id) ?? str(raw['rdf:about']);
    const isAtom = format === 'atom';
    const summaryHtml = isAtom ? str(raw.summary) : str(raw.content);
    const contentHtml = isAtom
      ? (str(raw.content) ?? str(raw.summary))
      : (str(raw['content:encoded']) ?? str(raw.content));
    const date = isAtom
      ? (str(raw.rawPublished) ?? str(raw.rawUpdated))
      : (str(raw.pubDate) ?? str(raw.date) ?? str(raw['dc:date']));
    return finishItem(
      {
        guid,
        title: str(raw.title),
        link,
        date,
        author: str(raw.creator) ?? str(raw.author) ?? str(raw['dc:creator']),
        summaryHtml,
        contentHtml,
        categories: categoryTexts(raw),
      },
      // Relative URLs in content were written for the article's page, unless xml:base says otherwise.
      declaredBase(raw) || declaredBase(feed) || !link ? base : link,
      opts.defaultZone,
    );
  });
  return {
    format,
    title: plainTextLine(str(feed.title) ?? ''),
    link: resolve(str(feed.link), feedBase),
    items,
  };
}

function fromJsonFeed(text: string, opts: ParseOptions): ParsedFeed {
  let doc: Raw;
  try {
    doc = JSON.parse(text) as Raw;
  } catch (err) {
    throw new FeedParseError(`not valid JSON: ${(err as Error).message}`);
  }
  const version = typeof doc.version === 'string' ? doc.version : '';
  if (!/^https?:\/\/jsonfeed\.org\/version\/1(\.\d+)?$/.test(version)) {
    throw new FeedParseError(
      'JSON document is not a JSON Feed (no "version": "https://jsonfeed.org/version/1.1")',
    );
  }
  if (!Array.isArray(doc.items)) throw new FeedParseError('JSON Feed has no "items" array');
  const base = resolve(str(doc.home_page_url), opts.feedUrl) ?? opts.feedUrl;
  const feedAuthors = (doc.authors as Raw[] | undefined) ?? (doc.author ? [doc.author as Raw] : []);
  const items = (doc.items as Raw[])
    .filter((i) => i && typeof i === 'object')
    .map((item) => {
      const authors =
        (item.authors as Raw[] | undefined) ?? (item.author ? [item.author as Raw] : feedAuthors);
      const link = resolve(str(item.url) ?? str(item.external_url), opts.feedUrl ?? base);
      const textAsHtml = (t: string | undefined) =>
        t === undefined ? undefined : t.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/\n/g, '<br>');
      return finishItem(
        {
          guid: str(item.id),
          title: str(item.title),
          link,
          date: str(item.date_published) ?? str(item.date_modified),
          author:
            authors
              .map((a) => str(a?.name))
              .filter(Boolean)
              .join(', ') || undefined,
          summaryHtml: textAsHtml(str(item.summary)),
          contentHtml: str(item.content_html) ?? textAsHtml(str(item.content_text)),
          categories: Array.isArray(item.tags) ? (item.tags as unknown[]).map((t) => String(t)) : [],
        },
        link ?? base,
        opts.defaultZone,
      );
    });
  return { format: 'jsonfeed', title: plainTextLine(str(doc.title) ?? ''), link: base ?? null, items };
}

/** Parses decoded feed text. Throws FeedParseError with a message an editor can act on. */
export async function parseFeed(text: string, opts: ParseOptions = {}): Promise<ParsedFeed> {
  const format = detectFormat(text);
  if (format === 'json') return fromJsonFeed(text, opts);
  if (format === 'html')
    throw new FeedParseError('got an HTML page, not a feed (is this the site, not its feed URL?)');
  if (format === 'unknown')
    throw new FeedParseError('not a feed: no <rss>, <rdf:RDF>, <feed> or JSON Feed found');
  let feed: Raw;
  try {
    feed = (await parseXml(text.trimStart())) as unknown as Raw;
  } catch (err) {
    const message = (err as Error).message.replace(/\s+/g, ' ').trim();
    throw new FeedParseError(`feed is not well-formed XML: ${message}`);
  }
  return fromXmlFeed(format, feed, opts);
}
