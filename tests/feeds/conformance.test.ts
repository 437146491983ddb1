import { load } from 'cheerio';
import { beforeAll, describe, expect, it } from 'vitest';
import { type ParsedFeed, parseFeed } from '../../src/feeds/parse.js';
import { FEEDPARSER_SANITIZE, sharedFixture } from '../support/shared.js';

/**
 * feedparser's two decades of hostile-HTML cases (shared/conformance/feedparser-sanitize), run
 * through Gazette's own parser and sanitiser: nothing dangerous survives, and the visible text
 * feedparser keeps is still there.
 */
const cases = sharedFixture(FEEDPARSER_SANITIZE);

const FORBIDDEN_ELEMENT = /<\s*(script|iframe|object|embed|meta|link|base|form|style)\b/i;
const EVENT_HANDLER = /<[^>]*\son[a-z]+\s*=/i;
const BAD_URL = /(javascript|vbscript)\s*:|data\s*:\s*text\/html/i;
const CSS_EXPRESSION = /expression\s*\(/i;

const visibleText = (html: string) => load(html, null, false).text().replace(/\s+/g, ' ').trim();
const squash = (text: string) => text.replace(/\s+/g, ' ').trim();

describe.skipIf(!cases.present)('feedparser sanitizer conformance', () => {
  let feed: ParsedFeed;
  let expected: Record<string, string>;

  beforeAll(async () => {
    feed = await parseFeed(cases.read('sanitize-cases.xml'), {
      feedUrl: 'https://sanitize.example.com/feed.xml',
    });
    expected = JSON.parse(cases.read('sanitize-expected.json'));
  });

  it('parses all 482 cases as items of one RSS 2.0 feed', () => {
    expect(feed.format).toBe('rss2');
    expect(feed.items).toHaveLength(482);
    expect(Object.keys(expected)).toHaveLength(482);
  });

  it('leaves no script, iframe, object, embed, meta, link, base, form or style element in any case', () => {
    const offenders = feed.items.filter((i) => FORBIDDEN_ELEMENT.test(i.contentHtml)).map((i) => i.title);
    expect(offenders).toEqual([]);
  });

  it('leaves no event-handler attribute, javascript:/vbscript:/data:text/html URL or CSS expression()', () => {
    const offenders = feed.items
      .filter(
        (i) =>
          EVENT_HANDLER.test(i.contentHtml) ||
          BAD_URL.test(i.contentHtml) ||
          CSS_EXPRESSION.test(i.contentHtml),
      )
      .map((i) => i.title);
    expect(offenders).toEqual([]);
  });

  it('keeps the visible text feedparser keeps, in every case', () => {
    const missing: string[] = [];
    for (const item of feed.items) {
      const want = visibleText(expected[item.title] ?? '');
      const got = squash(visibleText(item.contentHtml));
      if (!got.includes(want) || !squash(item.summaryText).includes(want))
        missing.push(`${item.title}: "${want}" in "${got}"`);
    }
    expect(missing).toEqual([]);
  });
});
