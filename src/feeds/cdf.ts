import { Element } from 'domhandler';
import { textContent } from './xml-normalize.js';

/**
 * Microsoft's Channel Definition Format (1997), which feedparser still reads and some old sites
 * still serve: `<CHANNEL HREF BASE LASTMOD><TITLE/><ABSTRACT/><ITEM HREF LASTMOD>…</ITEM></CHANNEL>`,
 * names in any case, channels nested in channels. rss-parser does not know it, so it is read from
 * the lenient pass's tree.
 */

export interface CdfItemFields {
  guid?: string;
  title?: string;
  link?: string | null;
  date?: string;
  summaryHtml?: string;
}

type Finish<T> = (fields: CdfItemFields, base: string | undefined) => T;
type Resolve = (href: string | undefined, base: string | undefined) => string | null;

const children = (el: Element, name: string) =>
  el.children.filter((c): c is Element => c instanceof Element && c.name.toLowerCase() === name);
const attr = (el: Element, name: string) =>
  Object.entries(el.attribs).find(([k]) => k.toLowerCase() === name)?.[1];
const text = (el: Element, name: string) => {
  const [first] = children(el, name);
  return first ? textContent(first).trim() : undefined;
};

export function fromCdf<T>(root: Element, feedUrl: string | undefined, finish: Finish<T>, resolve: Resolve) {
  const rootBase = resolve(attr(root, 'base'), feedUrl) ?? feedUrl;
  const items: T[] = [];
  const walk = (channel: Element, base: string | undefined) => {
    for (const item of children(channel, 'item')) {
      const link = resolve(attr(item, 'href'), base);
      items.push(
        finish(
          {
            ...(link ? { guid: link } : {}),
            title: text(item, 'title') ?? '',
            link,
            date: attr(item, 'lastmod'),
            summaryHtml: text(item, 'abstract') ?? '',
          },
          link ?? base,
        ),
      );
    }
    for (const sub of children(channel, 'channel')) walk(sub, resolve(attr(sub, 'base'), base) ?? base);
  };
  walk(root, rootBase);
  return {
    title: text(root, 'title') ?? '',
    link: resolve(attr(root, 'href'), rootBase),
    items,
  };
}
