import { Element } from 'domhandler';
import { decodeHTML } from 'entities';
import Parser from 'rss-parser';
import { escapeHtml } from '../rendering/escape.js';
import { fromCdf } from './cdf.js';
import { type DateContext, isChinaZone, parseFeedDate } from './dates.js';
import type { FeedNote } from './feed-notes.js';
import { plainTextLine, sanitizeFeedHtml } from './sanitize.js';
import { wellFormednessError } from './xml-check.js';
import { normalizeFeedXml, textContent } from './xml-normalize.js';
import { scanRoot, type XmlRoot } from './xml-root.js';

/**
 * One parser for every format Gazette reads: RSS 0.9x, RSS 1.0 (RDF), RSS 2.0 and Atom through
 * rss-parser, CDF from the lenient pass's tree, JSON Feed 1.0/1.1 directly (it is JSON). Every
 * item comes out the same shape, with links made absolute (xml:base, then the feed URL), HTML
 * sanitised and dates in UTC. The root is found by an XML-aware scan; a document that is not
 * well-formed is read by the lenient pass and the result says so (notes), as feedparser's "bozo".
 */

export type FeedFormat = 'rss0.9' | 'rss1' | 'rss2' | 'atom' | 'cdf' | 'jsonfeed';

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
  /** The feed's language (RSS <language>, dc:language, xml:lang), lower-cased, if it says. */
  language: string | null;
  /** What had to be bent to read it (recovered XML, unreadable dates); empty for a clean feed. */
  notes: FeedNote[];
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
  /**
   * The source's own time zone, if an editor set one: it wins over the default zone, and decides
   * what "CST" means. Without it, CST is China's for a zh feed or a .cn host, else US Central.
   */
  timeZone?: string | null;
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
        ['guid', 'rawGuid', { keepArray: true }] as never,
        ['body', 'rawBody'],
        ['xhtml:body', 'xhtmlBody'],
        ['dc:date', 'dcDate'],
        ['issued', 'rawIssued'],
        ['modified', 'rawModified'],
        ['created', 'rawCreated'],
      ],
    },
  });
type Parsed = Awaited<ReturnType<ReturnType<typeof newParser>['parseString']>>;

/** The format a root element names; the prefix does not matter (`<rss:rss>`, `<atom:feed>`). */
function formatOf(root: XmlRoot): Exclude<FeedFormat, 'jsonfeed'> | 'html' | 'unknown' {
  switch (root.local) {
    case 'feed':
      return 'atom';
    case 'rdf':
      return 'rss1';
    case 'rss':
      return /^0\.9/.test(root.attrs.version ?? '') ? 'rss0.9' : 'rss2';
    case 'channel':
      // Microsoft's Channel Definition Format: <CHANNEL HREF="…"><ITEM HREF="…">.
      return 'cdf';
    case 'html':
      return 'html';
    default:
      return 'unknown';
  }
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

export interface DateRules {
  zone: string | undefined;
  context: DateContext;
  /** Values that were given but are not dates (left empty; the source's health says so). */
  unreadable: string[];
}

/**
 * How to read this feed's dates. The source's own zone wins; otherwise "CST" is China's when the
 * feed is in Chinese or served from a .cn host, since that is what those sites mean.
 */
export function dateRulesFor(opts: ParseOptions, language: string | null): DateRules {
  let host = '';
  try {
    host = opts.feedUrl ? new URL(opts.feedUrl).hostname.toLowerCase() : '';
  } catch {}
  const chinese = /^zh\b/i.test(language ?? '') || /\.(cn|中国)\.?$/.test(host);
  return {
    zone: opts.timeZone || opts.defaultZone,
    context: { chinaTime: opts.timeZone ? isChinaZone(opts.timeZone) : chinese },
    unreadable: [],
  };
}

function dateFields(raw: string | undefined, dates: DateRules) {
  const d = parseFeedDate(raw, dates.zone, dates.context);
  if (!d && raw?.trim()) dates.unreadable.push(raw.trim());
  return { publishedAt: d ? d.utc.toISOString() : null, publishedOffset: d?.offset ?? null };
}

/** A title made only of markup ("<img alt='Logo'>", "<title>") still names something. */
function titleFromMarkup(raw: string): string {
  const alt = /\b(?:alt|title)\s*=\s*(?:"([^"]+)"|'([^']+)')/i.exec(raw);
  if (alt) return plainTextLine(alt[1] ?? alt[2] ?? '');
  const decoded = decodeHTML(raw).replace(/\s+/g, ' ').trim();
  // Bare tags written as text, such as a post about "<blink>": show them as they are.
  return /^(?:<\/?[A-Za-z][\w-]*\s*\/?>\s*)+$/.test(decoded) ? decoded : '';
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
  dates: DateRules,
): NormalizedItem {
  const summaryHtml = decodeBase64Html(fields.summaryHtml);
  const contentSource = decodeBase64Html(fields.contentHtml) ?? summaryHtml ?? '';
  const content = sanitizeFeedHtml(contentSource, base);
  // RSS often has only a description: it is both summary and content; sanitise it once.
  const summary =
    summaryHtml && summaryHtml !== contentSource ? sanitizeFeedHtml(summaryHtml, base).text : content.text;
  const summaryText = truncate(summary, SUMMARY_MAX);
  let title = plainTextLine(fields.title ?? '') || titleFromMarkup(fields.title ?? '');
  if (!title) title = truncate(summaryText.split('\n')[0] ?? '', 80) || fields.link || '(untitled)';
  const categories = [
    ...new Set((fields.categories ?? []).map((c) => plainTextLine(c)).filter((c) => c.length > 0)),
  ];
  return {
    guid: fields.guid?.trim() || null,
    title,
    link: fields.link ?? null,
    ...dateFields(fields.date, dates),
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
  return await newParser().parseString(text);
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

/** RSS 2.0: a guid is the item's permalink unless isPermaLink="false"; only a URL can be one. */
function permalinkOf(raw: Raw): string | undefined {
  const first = (raw.rawGuid as unknown[] | undefined)?.[0];
  if (first === undefined) return undefined;
  const attrs = (first as Raw)?.$ as Record<string, string> | undefined;
  const flag = attrs?.isPermaLink?.trim().toLowerCase();
  if (flag === 'false') return undefined;
  const value = str(first)?.trim();
  if (!value) return undefined;
  // Said outright, a relative guid is resolved against xml:base; by default only a full URL counts.
  return flag === 'true' || /^[a-z][a-z0-9+.-]*:\/\//i.test(value) ? value : undefined;
}

function fromXmlFeed(format: FeedFormat, feed: Raw, root: XmlRoot, opts: ParseOptions, dates: DateRules) {
  // xml:base on the root (<rss>) is not on the channel rss-parser hands over: chain it first.
  const rootBase = root.attrs['xml:base'];
  const documentBase = rootBase ? (resolve(rootBase, opts.feedUrl) ?? opts.feedUrl) : opts.feedUrl;
  const feedBase = xmlBase(feed, documentBase);
  const items = ((feed.items as Raw[]) ?? []).map((raw) => {
    const base = xmlBase(raw, feedBase);
    const rawLink =
      str(raw.link) ?? permalinkOf(raw) ?? (format === 'rss1' ? str(raw['rdf:about']) : undefined);
    const link = resolve(rawLink, base);
    const guid = str(raw.guid) ?? str(raw.id) ?? str(raw['rdf:about']);
    const isAtom = format === 'atom';
    const summaryHtml = isAtom ? str(raw.summary) : str(raw.content);
    const contentHtml = isAtom
      ? (str(raw.content) ?? str(raw.summary))
      : (str(raw['content:encoded']) ?? str(raw.rawBody) ?? str(raw.xhtmlBody) ?? str(raw.content));
    const date = isAtom
      ? (str(raw.rawPublished) ??
        str(raw.rawIssued) ??
        str(raw.rawUpdated) ??
        str(raw.rawModified) ??
        str(raw.rawCreated))
      : (str(raw.pubDate) ?? str(raw.dcDate) ?? str(raw.date));
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
      declaredBase(raw) || declaredBase(feed) || rootBase || !link ? base : link,
      dates,
    );
  });
  return {
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
  const language = str(doc.language)?.trim().toLowerCase() || null;
  const dates = dateRulesFor(opts, language);
  const feedAuthors = (doc.authors as Raw[] | undefined) ?? (doc.author ? [doc.author as Raw] : []);
  const items = (doc.items as Raw[])
    .filter((i) => i && typeof i === 'object')
    .map((item) => {
      const authors =
        (item.authors as Raw[] | undefined) ?? (item.author ? [item.author as Raw] : feedAuthors);
      const link = resolve(str(item.url) ?? str(item.external_url), opts.feedUrl ?? base);
      const textAsHtml = (t: string | undefined) =>
        t === undefined ? undefined : escapeHtml(t).replace(/\n/g, '<br>');
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
        dates,
      );
    });
  return {
    format: 'jsonfeed',
    title: plainTextLine(str(doc.title) ?? ''),
    link: base ?? null,
    items,
    language,
    notes: dateNotes(dates),
  };
}

function dateNotes(dates: DateRules): FeedNote[] {
  const [sample] = dates.unreadable;
  return sample === undefined
    ? []
    : [{ code: 'date-unparseable', params: { count: dates.unreadable.length, sample: sample.slice(0, 80) } }];
}

const childElements = (el: Element) => el.children.filter((c): c is Element => c instanceof Element);

/** What a feed's root must hold, named when it is missing (a feed with no items is still a feed). */
function checkStructure(format: FeedFormat, root: Element): void {
  const names = childElements(root).map((c) => c.name.toLowerCase());
  if ((format === 'rss2' || format === 'rss0.9') && !names.includes('channel'))
    throw new FeedParseError(
      'RSS feed has no <channel> element (an RSS feed is <rss><channel>…</channel></rss>)',
    );
  if (format === 'rss1' && !names.includes('channel') && !names.includes('item'))
    throw new FeedParseError('RSS 1.0 (RDF) feed has no <channel> and no <item> elements');
}

function languageOf(root: Element): string | null {
  const fromAttr = root.attribs['xml:lang'];
  const channel = childElements(root).find((c) => c.name.toLowerCase() === 'channel');
  const holder = channel ?? root;
  const el = childElements(holder).find((c) => ['language', 'dc:language'].includes(c.name.toLowerCase()));
  const text = el ? textContent(el) : (fromAttr ?? channel?.attribs['xml:lang'] ?? '');
  return text.trim().toLowerCase() || null;
}

function readXml(xml: string, format: FeedFormat) {
  return parseXml(xml).catch((err: Error) => {
    const message = err.message.replace(/\s+/g, ' ').trim();
    throw new FeedParseError(`${format} feed could not be read: ${message}`);
  });
}

/** Parses decoded feed text. Throws FeedParseError with a message an editor can act on. */
export async function parseFeed(text: string, opts: ParseOptions = {}): Promise<ParsedFeed> {
  const body = text.replace(/^\uFEFF/, '');
  if (body.trimStart().startsWith('{')) return fromJsonFeed(body.trimStart(), opts);
  if (!body.trim()) throw new FeedParseError('not a feed: the document is empty');
  const root = scanRoot(body);
  if (!root) throw new FeedParseError('not a feed: no <rss>, <rdf:RDF>, <feed> or JSON Feed found');
  const format = formatOf(root);
  if (format === 'html')
    throw new FeedParseError('got an HTML page, not a feed (is this the site, not its feed URL?)');
  if (format === 'unknown')
    throw new FeedParseError(
      `not a feed: the document is <${root.name}>, not <rss>, <rdf:RDF>, <feed> or a JSON Feed`,
    );
  const notes: FeedNote[] = [];
  const error = wellFormednessError(body);
  let source = body;
  if (error) {
    // Bare "&", HTML entities and control characters are repaired; a truncated tail is closed by
    // the lenient pass; tags that do not match in the middle are refused rather than guessed at.
    source = repairXml(body);
    const remaining = source === body ? error : wellFormednessError(source);
    if (remaining && !remaining.atEnd)
      throw new FeedParseError(`feed is not well-formed XML: ${remaining.message}`);
    notes.push({ code: 'recovered', params: { error: error.message } });
  }
  const normalized = normalizeFeedXml(source);
  const tree = normalized.root;
  if (!tree) throw new FeedParseError(`feed is not well-formed XML: ${error?.message ?? 'no root element'}`);
  checkStructure(format, tree);
  const language = languageOf(tree);
  const dates = dateRulesFor(opts, language);
  let read: Pick<ParsedFeed, 'title' | 'link' | 'items'>;
  if (format === 'cdf') {
    const cdf = fromCdf(tree, opts.feedUrl, (fields, base) => finishItem(fields, base, dates), resolve);
    read = { ...cdf, title: plainTextLine(cdf.title) };
  } else if (!childElements(tree).length) {
    // <feed/>, or what was left of a truncated one: a feed with nothing in it yet.
    read = { title: '', link: null, items: [] };
  } else {
    // A clean feed that needed no rewriting goes to rss-parser as it came.
    const xml = error || normalized.changed ? normalized.xml : body.slice(root.offset);
    const feed = (await readXml(xml, format)) as unknown as Raw;
    read = fromXmlFeed(format, feed, root, opts, dates);
  }
  return { format, ...read, language, notes: [...notes, ...dateNotes(dates)] };
}
