import { describe, expect, it } from 'vitest';
import { canonicalUrl } from '../../src/feeds/canonical-url.js';
import { parseFeedDate } from '../../src/feeds/dates.js';
import { FeedParseError, parseFeed, repairXml } from '../../src/feeds/parse.js';
import { scanRoot } from '../../src/feeds/xml-root.js';
import { fixture } from './fixture-server.js';

const text = (name: string) => fixture(name).toString('utf8');

describe('parseFeed: formats', () => {
  it('reads RSS 0.91 and resolves relative links against the feed URL', async () => {
    const feed = await parseFeed(text('rss091.xml'), { feedUrl: 'https://court.example.org/rss.xml' });
    expect(feed.format).toBe('rss0.9');
    expect(feed.items).toHaveLength(2);
    expect(feed.items[0]).toMatchObject({
      title: 'Hearing schedule for July',
      link: 'https://court.example.org/notices/hearing-july.html',
      summaryText: 'The court publishes its July hearing schedule.',
      publishedAt: null,
    });
    expect(feed.items[0]?.contentHtml).toBe('The court publishes its <b>July</b> hearing schedule.');
  });

  it('reads RSS 1.0 (RDF) with dc:date, dc:creator and dc:subject', async () => {
    const feed = await parseFeed(text('rss1.rdf'), { feedUrl: 'https://regulator.example.net/rss' });
    expect(feed.format).toBe('rss1');
    expect(feed.items[0]).toMatchObject({
      guid: 'https://regulator.example.net/b/101',
      title: 'Guidance on generative AI labelling',
      link: 'https://regulator.example.net/b/101',
      publishedAt: '2025-07-08T02:00:00.000Z',
      publishedOffset: '+08:00',
      author: 'Policy Office',
      categories: ['AI'],
    });
  });

  it('reads RSS 2.0: guid, categories, content:encoded, HTML in titles, RFC 822 and zone-less dates', async () => {
    const feed = await parseFeed(text('rss2.xml'), { feedUrl: 'https://gov.example.cn/rss.xml' });
    expect(feed.format).toBe('rss2');
    const [first, second] = feed.items;
    expect(first).toMatchObject({
      guid: 'gov-cn-1',
      title: '关于《人工智能生成合成内容标识办法》的说明 & 解读',
      publishedAt: '2025-07-08T02:00:00.000Z',
      publishedOffset: '+08:00',
      author: '网信办',
      categories: ['人工智能', '标识'],
      summaryText: '办法自 2025 年 9 月 1 日起施行。',
    });
    expect(first?.contentHtml).toContain('<img src="https://gov.example.cn/img/logo.png" alt="标识" />');
    expect(first?.contentHtml).toContain('<a href="https://gov.example.cn/a/detail/2.html">全文</a>');
    // No zone in the feed: read in the publication's zone (Asia/Shanghai by default).
    expect(second).toMatchObject({ publishedAt: '2025-07-21T08:30:00.000Z', publishedOffset: '+08:00' });
  });

  it("reads Atom with xml:base on the feed and on an entry, keeping each date's zone", async () => {
    const feed = await parseFeed(text('atom.xml'), { feedUrl: 'https://eu.example.eu/feed.atom' });
    expect(feed.format).toBe('atom');
    const [gpai, uk] = feed.items;
    expect(gpai).toMatchObject({
      guid: 'tag:eu.example.eu,2025:gpai',
      title: 'Guidelines on general-purpose AI models',
      link: 'https://eu.example.eu/news/gpai-guidelines',
      publishedAt: '2025-07-18T16:00:00.000Z',
      publishedOffset: '+02:00',
      author: 'Commission',
      categories: ['AI Act'],
      summaryText: 'Obligations for providers.',
    });
    expect(gpai?.contentHtml).toBe(
      '<p>See the <a href="https://eu.example.eu/news/annex.pdf">annex</a>.</p>',
    );
    expect(uk).toMatchObject({
      link: 'https://uk.example.uk/compute/roadmap',
      publishedAt: '2025-07-17T10:00:00.000Z',
      publishedOffset: '+01:00',
      summaryText: 'AI growth zones.',
    });
  });

  it('reads JSON Feed 1.0 (author object, relative url, tags)', async () => {
    const feed = await parseFeed(text('jsonfeed-1.0.json'), {
      feedUrl: 'https://cases.example.com/feed.json',
    });
    expect(feed.format).toBe('jsonfeed');
    expect(feed.items[0]).toMatchObject({
      guid: 'case-1',
      link: 'https://cases.example.com/cases/ai-rumor',
      author: 'Digest team',
      summaryText: '公安机关处行政拘留七日。',
      contentHtml: '<p>行为人使用生成式模型编造图文。</p>',
      categories: ['案例', '治安'],
      publishedAt: '2025-07-12T12:00:00.000Z',
      publishedOffset: '+08:00',
    });
  });

  it('reads JSON Feed 1.1 (authors array, content_text kept as escaped text)', async () => {
    const feed = await parseFeed(text('jsonfeed-1.1.json'));
    expect(feed.items[0]).toMatchObject({
      guid: 'case-2',
      author: '王法官, 李编辑',
      contentHtml: '法院认为平台缺乏合理依据。<br />构成违约。',
    });
  });
});

describe('parseFeed: bad input', () => {
  it('rejects malformed XML with a message that says so', async () => {
    await expect(parseFeed(text('malformed.xml'))).rejects.toThrow(FeedParseError);
    await expect(parseFeed(text('malformed.xml'))).rejects.toThrow(/not well-formed XML/);
  });

  it('says when it was given an HTML page or a JSON document that is not a feed', async () => {
    await expect(parseFeed('<!doctype html><html><body>hi</body></html>')).rejects.toThrow(
      /HTML page, not a feed/,
    );
    await expect(parseFeed('{"hello": 1}')).rejects.toThrow(/not a JSON Feed/);
  });

  it('repairs bare ampersands and HTML entities that strict XML refuses', async () => {
    const feed = await parseFeed(
      '<rss version="2.0"><channel><title>A & B</title><item><title>R&D&nbsp;news &copy;</title><link>https://x.example/?a=1&b=2</link></item></channel></rss>',
    );
    expect(feed.items[0]?.title).toBe('R&D news ©');
    expect(feed.items[0]?.link).toBe('https://x.example/?a=1&b=2');
    expect(repairXml('a &amp; b & c &nbsp;')).toBe('a &amp; b &amp; c &#160;');
  });
});

describe('parseFeed: hostile HTML', () => {
  it('strips scripts, handlers, styles, frames, forms and dangerous URLs but keeps the text', async () => {
    const feed = await parseFeed(text('hostile.xml'), { feedUrl: 'https://hostile.example.com/rss' });
    const item = feed.items[0];
    expect(item?.title).toBe('Safe title');
    const html = item?.contentHtml ?? '';
    for (const bad of [
      '<script',
      '<style',
      '<iframe',
      '<form',
      '<input',
      '<object',
      'onclick',
      'onerror',
      'javascript:',
      'data:',
      'expression(',
      'style=',
    ]) {
      expect(html).not.toContain(bad);
    }
    expect(html).toContain('<p>Visible text</p>');
    expect(html).toContain('<img src="https://hostile.example.com/x.png" />');
    expect(item?.summaryText).toContain('Visible text');
    expect(item?.summaryText).toContain('styled');
    expect(item?.summaryText).not.toContain('document.cookie');
  });
});

describe('dates and canonical URLs', () => {
  it('normalises dates to UTC and keeps the zone the feed gave', () => {
    expect(parseFeedDate('Tue, 08 Jul 2025 10:00:00 GMT')).toEqual({
      utc: new Date('2025-07-08T10:00:00Z'),
      offset: '+00:00',
    });
    expect(parseFeedDate('2025-07-18T18:00:00-04:00')?.offset).toBe('-04:00');
    expect(parseFeedDate('2025年7月8日 10:00')?.utc.toISOString()).toBe('2025-07-08T02:00:00.000Z');
    expect(parseFeedDate('not a date')).toBeNull();
  });

  it('drops tracking parameters, fragments and default ports, and sorts the query', () => {
    expect(canonicalUrl('HTTPS://News.Example.com:443/a?utm_source=x&b=2&a=1&fbclid=z&spm=1.2#frag')).toBe(
      'https://news.example.com/a?a=1&b=2',
    );
    expect(canonicalUrl('https://news.example.com/a?utm_campaign=c')).toBe('https://news.example.com/a');
    expect(canonicalUrl('javascript:alert(1)')).toBeNull();
  });
});

describe('finding the root element', () => {
  it('skips a BOM, whitespace, comments, processing instructions and a doctype with an internal subset', () => {
    const root = scanRoot(
      '\uFEFF \n<?xml version="1.0"?><!-- <feed> in a comment --><?xml-stylesheet href="a.xsl"?>' +
        '<!DOCTYPE rss [<!ENTITY gt2 "a > b"><!-- ]> -->]><rss:rss xmlns:rss="x" version="0.91">',
    );
    expect(root).toMatchObject({ name: 'rss:rss', prefix: 'rss', local: 'rss', attrs: { version: '0.91' } });
    expect(scanRoot('<!-- never closed <rss>')).toBeNull();
    expect(scanRoot('plain text')).toBeNull();
  });

  it('names the root it found when it is not a feed', async () => {
    await expect(parseFeed('<?xml version="1.0"?><opml version="2.0"/>')).rejects.toThrow(
      'not a feed: the document is <opml>, not <rss>, <rdf:RDF>, <feed> or a JSON Feed',
    );
  });
});
