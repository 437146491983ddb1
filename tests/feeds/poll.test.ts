import iconv from 'iconv-lite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Env } from '../../src/config/env.js';
import type { Db } from '../../src/db/schema.js';
import { closeFetchAgents } from '../../src/feeds/fetch.js';
import { addItemFromUrl, listItems, updateItem } from '../../src/feeds/items.js';
import { pollDueSources, pollSource } from '../../src/feeds/poll.js';
import {
  addSource,
  getSource,
  removeSource,
  SourceInputError,
  updateSource,
} from '../../src/feeds/sources.js';
import { silentLogger } from '../../src/log.js';
import { createTestDatabase, type TestDatabase } from '../support/test-db.js';
import { testEnv } from '../support/test-env.js';
import { body, type FixtureServer, fixture, startFixtureServer } from './fixture-server.js';

let tdb: TestDatabase;
let db: Db;
let env: Env;
let server: FixtureServer;
const clock = new Date('2025-08-01T00:00:00Z');
const deps = () => ({ db, log: silentLogger, env, now: () => clock });

const rss = (items: { guid?: string; title: string; link: string; description?: string }[]) =>
  `<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>t</title>${items
    .map(
      (i) =>
        `<item>${i.guid ? `<guid>${i.guid}</guid>` : ''}<title>${i.title}</title><link>${i.link.replace(/&/g, '&amp;')}</link><description>${i.description ?? ''}</description></item>`,
    )
    .join('')}</channel></rss>`;

beforeAll(async () => {
  tdb = await createTestDatabase();
  db = tdb.db;
  env = testEnv({ FETCH_ALLOW_PRIVATE: '127.0.0.1', FEED_FAILING_AFTER: '2', FETCH_TIMEOUT_MS: '1000' });
  for (const [i, key] of ['domestic-regulation', 'case-studies', 'industry-news'].entries()) {
    await db
      .insertInto('sections')
      .values({ key, position: i, names: JSON.stringify({ en: key }) })
      .execute();
  }
  server = await startFixtureServer();
  server.route('/rss2.xml', body(fixture('rss2.xml'), 'application/rss+xml'));
  server.route('/atom.xml', body(fixture('atom.xml'), 'application/atom+xml'));
  server.route('/rss1.rdf', body(fixture('rss1.rdf'), 'application/rdf+xml'));
  server.route('/rss091.xml', body(fixture('rss091.xml'), 'text/xml'));
  server.route('/feed-10.json', body(fixture('jsonfeed-1.0.json'), 'application/json'));
  server.route('/feed-11.json', body(fixture('jsonfeed-1.1.json'), 'application/feed+json'));
  server.route('/malformed.xml', body(fixture('malformed.xml'), 'text/xml'));
  server.route('/hostile.xml', body(fixture('hostile.xml'), 'text/xml'));
  server.route('/dead.xml', (_req, res) => res.writeHead(503).end('down'));
  server.route('/slow.xml', (_req, res) => {
    res.writeHead(200, { 'content-type': 'text/xml' });
    res.write('<rss version="2.0">');
  });
  server.route('/to-metadata.xml', (_req, res) =>
    res.writeHead(302, { location: 'http://169.254.169.254/' }).end(),
  );
  server.route('/gbk.xml', (_req, res) => {
    const text = fixture('zh-gov.xml')
      .toString('utf8')
      .replace(' encoding="@ENCODING@"', '')
      .replace('@TITLE@', '某市人民政府')
      .replace('@ITEM@', '关于进一步规范人工智能生成内容标识工作的通知')
      .replace('@BODY@', '现将有关事项通知如下。');
    res.writeHead(200, { 'content-type': 'text/xml' }).end(iconv.encode(text, 'gbk'));
  });
  server.route('/etag.xml', (req, res) => {
    if (req.headers['if-none-match'] === '"e1"') return void res.writeHead(304, { etag: '"e1"' }).end();
    res.writeHead(200, { 'content-type': 'text/xml', etag: '"e1"' }).end(fixture('rss1.rdf'));
  });
  server.route(
    '/outlet-a.xml',
    body(
      rss([
        {
          guid: 'a-1',
          title: '同一篇文章',
          link: 'https://news.example.cn/2025/07/ai.html?utm_source=a&utm_medium=rss',
        },
        { guid: 'a-2', title: 'Only in A', link: 'https://news.example.cn/only-a' },
      ]),
      'text/xml',
    ),
  );
  server.route(
    '/outlet-b.xml',
    body(
      rss([
        {
          guid: 'b-77',
          title: '同一篇文章（转载）',
          link: 'https://news.example.cn/2025/07/ai.html#comments',
        },
      ]),
      'text/xml',
    ),
  );
  server.route(
    '/repeat.xml',
    body(
      rss([
        { title: 'no guid', link: 'https://r.example.com/x?fbclid=1' },
        { title: 'no guid', link: 'https://r.example.com/x' },
        { title: 'Bare text item', link: '' },
      ]),
      'text/xml',
    ),
  );
  server.route(
    '/ruled.xml',
    body(
      rss([
        { guid: 'r1', title: '法院判决：AI 生成图片著作权案', link: 'https://r.example.com/1' },
        { guid: 'r2', title: '招聘启事', link: 'https://r.example.com/2' },
        { guid: 'r3', title: '大模型发布', link: 'https://r.example.com/3', description: '行业动态' },
        { guid: 'r4', title: '天气预报', link: 'https://r.example.com/4' },
      ]),
      'text/xml',
    ),
  );
  server.route(
    '/article.html',
    body(iconv.encode(fixture('article.html').toString('utf8'), 'gbk'), 'text/html'),
  );
  server.route('/article-jsonld.html', body(fixture('article-jsonld.html'), 'text/html; charset=utf-8'));
});

afterAll(async () => {
  await server?.close();
  await closeFetchAgents();
  await tdb?.drop();
});

describe('sources', () => {
  it('adds a source with a default section, rules and interval, and refuses bad input by name', async () => {
    const s = await addSource(db, {
      name: 'Gov',
      url: `${server.baseUrl}/rss2.xml`,
      sectionKey: 'domestic-regulation',
      pollIntervalMinutes: 30,
    });
    expect(s).toMatchObject({
      name: 'Gov',
      kind: 'feed',
      enabled: true,
      poll_interval_minutes: 30,
      status: 'ok',
    });
    await expect(addSource(db, { name: 'x', url: 'ftp://example.com/feed' })).rejects.toThrow(
      /http:\/\/ or https:\/\//,
    );
    await expect(
      addSource(db, { name: 'x', url: 'https://x.example/f', sectionKey: 'nope' }),
    ).rejects.toThrow(/no section "nope"/);
    await expect(addSource(db, { name: 'dup', url: `${server.baseUrl}/rss2.xml` })).rejects.toThrow(
      /already exists/,
    );
    await expect(
      addSource(db, { name: 'x', url: 'https://x.example/f', rules: [{ type: 'include', keywords: [] }] }),
    ).rejects.toThrow(SourceInputError);
    const edited = await updateSource(db, s.id, { name: 'Gov CN', enabled: false });
    expect(edited).toMatchObject({ name: 'Gov CN', enabled: false });
    await updateSource(db, s.id, { enabled: true });
  });
});

describe('polling', () => {
  it("stores every format, sanitised, in the source's section, and records success", async () => {
    const names = [
      'rss2.xml',
      'atom.xml',
      'rss1.rdf',
      'rss091.xml',
      'feed-10.json',
      'feed-11.json',
      'hostile.xml',
      'gbk.xml',
    ];
    const ids: number[] = [];
    for (const n of names) {
      const existing = await db
        .selectFrom('sources')
        .select('id')
        .where('url', '=', `${server.baseUrl}/${n}`)
        .executeTakeFirst();
      ids.push(
        existing?.id ??
          (await addSource(db, { name: n, url: `${server.baseUrl}/${n}`, sectionKey: 'industry-news' })).id,
      );
    }
    for (const id of ids) {
      const outcome = await pollSource(deps(), id);
      expect(outcome.status, String(id)).toBe('ok');
      expect(outcome.newItems).toBeGreaterThan(0);
      const source = await getSource(db, id);
      expect(source).toMatchObject({
        status: 'ok',
        consecutive_failures: 0,
        last_error: null,
        last_http_status: 200,
      });
      expect(source?.last_success_at?.toISOString()).toBe(clock.toISOString());
    }
    const gbk = await db
      .selectFrom('items')
      .selectAll()
      .where('title', '=', '关于进一步规范人工智能生成内容标识工作的通知')
      .executeTakeFirstOrThrow();
    expect(gbk.summary_text).toBe('现将有关事项通知如下。');
    expect(gbk.published_offset).toBe('+08:00');
    const hostile = await db
      .selectFrom('items')
      .selectAll()
      .where('guid', '=', 'hostile-1')
      .executeTakeFirstOrThrow();
    expect(hostile.content_html).not.toMatch(/<script|onclick|javascript:|<iframe|style=/);
    expect(hostile.summary_text).toContain('Visible text');
    const sectionIds = await db
      .selectFrom('items')
      .select('section_id')
      .distinct()
      .where('source_id', 'in', ids)
      .execute();
    const industry = await db
      .selectFrom('sections')
      .select('id')
      .where('key', '=', 'industry-news')
      .executeTakeFirstOrThrow();
    // rss2.xml was added with domestic-regulation in the first test; the rest with industry-news.
    expect(sectionIds.map((s) => s.section_id)).toContain(industry.id);
  });

  it('polls an unchanged feed with If-None-Match and stores nothing on 304', async () => {
    const s = await addSource(db, { name: 'etag', url: `${server.baseUrl}/etag.xml` });
    expect((await pollSource(deps(), s.id)).status).toBe('ok');
    expect((await getSource(db, s.id))?.etag).toBe('"e1"');
    const again = await pollSource(deps(), s.id);
    expect(again).toEqual({ status: 'not-modified', newItems: 0, seenItems: 0, httpStatus: 304 });
    expect((await getSource(db, s.id))?.last_http_status).toBe(304);
  });

  it('dedupes by guid within a source and by canonical URL across sources, keeping every URL', async () => {
    const a = await addSource(db, { name: 'Outlet A', url: `${server.baseUrl}/outlet-a.xml` });
    const b = await addSource(db, { name: 'Outlet B', url: `${server.baseUrl}/outlet-b.xml` });
    expect(await pollSource(deps(), a.id)).toMatchObject({ status: 'ok', newItems: 2, seenItems: 0 });
    expect(await pollSource(deps(), a.id)).toMatchObject({ status: 'ok', newItems: 0, seenItems: 2 });
    expect(await pollSource(deps(), b.id)).toMatchObject({ status: 'ok', newItems: 0, seenItems: 1 });
    const item = await db
      .selectFrom('items')
      .selectAll()
      .where('canonical_url', '=', 'https://news.example.cn/2025/07/ai.html')
      .executeTakeFirstOrThrow();
    expect(item.title).toBe('同一篇文章');
    const sightings = await db
      .selectFrom('item_sightings')
      .selectAll()
      .where('item_id', '=', item.id)
      .orderBy('id')
      .execute();
    expect(sightings.map((s) => [s.source_id, s.guid])).toEqual([
      [a.id, 'a-1'],
      [b.id, 'b-77'],
    ]);
    expect(sightings.map((s) => s.url)).toEqual([
      'https://news.example.cn/2025/07/ai.html?utm_source=a&utm_medium=rss',
      'https://news.example.cn/2025/07/ai.html#comments',
    ]);
    const listed = (await listItems(db, { limit: 500 })).find((i) => i.id === item.id);
    expect(listed?.urls).toHaveLength(2);
  });

  it('without a guid, knows an item by its canonical link, else by a hash of its content', async () => {
    const s = await addSource(db, { name: 'repeat', url: `${server.baseUrl}/repeat.xml` });
    expect(await pollSource(deps(), s.id)).toMatchObject({ newItems: 2, seenItems: 0 });
    expect(await pollSource(deps(), s.id)).toMatchObject({ newItems: 0, seenItems: 2 });
  });

  it('applies keyword rules: exclude drops, include filters, include with a section routes', async () => {
    const s = await addSource(db, {
      name: 'ruled',
      url: `${server.baseUrl}/ruled.xml`,
      sectionKey: 'industry-news',
      rules: [
        { type: 'exclude', keywords: ['招聘'] },
        { type: 'include', keywords: ['判决', '模型', '招聘'] },
        { type: 'include', keywords: ['法院'], sectionKey: 'case-studies' },
      ],
    });
    expect(await pollSource(deps(), s.id)).toMatchObject({ newItems: 2, filteredItems: 2 });
    const rows = await db
      .selectFrom('items')
      .innerJoin('sections', 'sections.id', 'items.section_id')
      .select(['items.guid', 'sections.key'])
      .where('items.source_id', '=', s.id)
      .orderBy('items.guid')
      .execute();
    expect(rows).toEqual([
      { guid: 'r1', key: 'case-studies' },
      { guid: 'r3', key: 'industry-news' },
    ]);
  });

  it('records a failing source and leaves the others polling', async () => {
    await db.updateTable('sources').set({ enabled: false }).execute();
    const bad = [];
    for (const n of ['dead.xml', 'malformed.xml', 'slow.xml', 'to-metadata.xml']) {
      bad.push(await addSource(db, { name: n, url: `${server.baseUrl}/${n}` }));
    }
    const good = await addSource(db, { name: 'good', url: `${server.baseUrl}/rss091.xml?fresh=1` });
    const results = await pollDueSources(deps());
    expect(results).toHaveLength(5);
    const byName = Object.fromEntries(results.map((r) => [r.name, r.outcome]));
    expect(byName.good).toMatchObject({ status: 'ok' });
    expect(byName['dead.xml']).toMatchObject({
      status: 'failed',
      httpStatus: 503,
      error: expect.stringMatching(/HTTP 503/),
    });
    expect(byName['malformed.xml']).toMatchObject({
      status: 'failed',
      error: expect.stringMatching(/not well-formed XML/),
    });
    expect(byName['slow.xml']).toMatchObject({
      status: 'failed',
      error: expect.stringMatching(/within 1000 ms/),
    });
    expect(byName['to-metadata.xml']).toMatchObject({
      status: 'failed',
      error: expect.stringMatching(/169\.254\.169\.254/),
    });
    const dead = await getSource(db, bad[0]?.id ?? 0);
    expect(dead).toMatchObject({
      status: 'ok',
      consecutive_failures: 1,
      last_error: `HTTP 503 from ${server.baseUrl}/dead.xml`,
    });
    expect(dead?.last_error_at?.toISOString()).toBe(clock.toISOString());
    expect((await getSource(db, good.id))?.status).toBe('ok');
  });

  it('marks a source failing after N failures in a row and backs off; a success resets it', async () => {
    const s = await addSource(db, {
      name: 'flaky',
      url: `${server.baseUrl}/flaky.xml`,
      pollIntervalMinutes: 60,
    });
    server.route('/flaky.xml', (_req, res) => res.writeHead(500).end());
    await pollSource(deps(), s.id);
    let row = await getSource(db, s.id);
    expect(row).toMatchObject({ status: 'ok', consecutive_failures: 1 });
    expect(row?.next_poll_at?.getTime()).toBe(clock.getTime() + 60 * 60_000);
    await pollSource(deps(), s.id);
    row = await getSource(db, s.id);
    expect(row).toMatchObject({ status: 'failing', consecutive_failures: 2 });
    expect(row?.next_poll_at?.getTime()).toBe(clock.getTime() + 120 * 60_000);
    await pollSource(deps(), s.id);
    expect((await getSource(db, s.id))?.next_poll_at?.getTime()).toBe(clock.getTime() + 240 * 60_000);
    // Due-only polling skips it while it backs off.
    const due = await pollDueSources(deps(), { dueOnly: true, sourceIds: [s.id] });
    expect(due).toHaveLength(0);
    server.route('/flaky.xml', body(fixture('rss091.xml'), 'text/xml'));
    expect((await pollSource(deps(), s.id)).status).toBe('ok');
    expect(await getSource(db, s.id)).toMatchObject({
      status: 'ok',
      consecutive_failures: 0,
      last_error: null,
    });
  });

  it("keeps what it had to bend in the source's health: recovered XML, unreadable dates, an overruled charset", async () => {
    server.route('/bent.xml', (_req, res) => {
      const text =
        '<rss version="2.0"><channel><title>律师 & 法院</title>' +
        '<item><title>日期不对</title><link>https://bent.example.org/1</link><pubDate>Sun, Dec x 2012</pubDate></item>' +
        '<item><title>北京时间</title><link>https://bent.example.org/2</link><pubDate>Tue, 08 Jul 2025 10:00:00 CST</pubDate></item>' +
        '</channel></rss>';
      // UTF-8 bytes under a gbk label, as some servers send them.
      res.writeHead(200, { 'content-type': 'text/xml; charset=gbk' }).end(Buffer.from(text, 'utf8'));
    });
    const source = await addSource(db, {
      name: 'Bent',
      url: `${server.baseUrl}/bent.xml`,
      timeZone: 'Asia/Shanghai',
    });
    expect(await pollSource(deps(), source.id)).toMatchObject({ status: 'ok', newItems: 2 });
    const after = await getSource(db, source.id);
    expect(after?.last_charset).toBe('utf-8');
    expect(after?.parse_notes.map((n) => n.code)).toEqual([
      'charset-overruled',
      'recovered',
      'date-unparseable',
    ]);
    expect(after?.parse_notes[2]?.params).toEqual({ count: 1, sample: 'Sun, Dec x 2012' });
    const items = await listItems(db, { sourceId: source.id });
    const byTitle = Object.fromEntries(items.map((i) => [i.title, i.published_at?.toISOString() ?? null]));
    // The source's zone (Asia/Shanghai) says what CST means, though the host is not .cn.
    expect(byTitle).toEqual({ 日期不对: null, 北京时间: '2025-07-08T02:00:00.000Z' });

    await expect(updateSource(db, source.id, { timeZone: 'Mars/Olympus' })).rejects.toThrow(
      /not an IANA time zone/,
    );
    expect((await updateSource(db, source.id, { timeZone: '' })).time_zone).toBeNull();
  });

  it('returns a failure, not an exception, for a source that does not exist', async () => {
    expect(await pollSource(deps(), 999_999)).toMatchObject({
      status: 'failed',
      error: 'no source with id 999999',
    });
  });

  it('keeps items when their source is removed', async () => {
    const s = await addSource(db, { name: 'to remove', url: `${server.baseUrl}/rss1.rdf?x=1` });
    await pollSource(deps(), s.id);
    await removeSource(db, s.id);
    expect(await getSource(db, s.id)).toBeUndefined();
    const orphan = await db
      .selectFrom('items')
      .select('id')
      .where('guid', '=', 'https://regulator.example.net/b/101')
      .execute();
    expect(orphan.length).toBeGreaterThan(0);
  });
});

describe('manual items from a URL', () => {
  it('fills title, description and date from Open Graph on a GBK page; the editor can change them', async () => {
    const { item, created } = await addItemFromUrl(deps(), {
      url: `${server.baseUrl}/article.html?utm_source=wechat`,
      sectionKey: 'case-studies',
    });
    expect(created).toBe(true);
    expect(item).toMatchObject({
      source_id: null,
      title: '最高法发布涉人工智能典型案例',
      summary_text: '本批典型案例涉及生成式人工智能的著作权、个人信息保护等问题。',
      published_offset: '+08:00',
      canonical_url: `${server.baseUrl}/article.html`,
    });
    expect(item.published_at?.toISOString()).toBe('2025-07-15T01:30:00.000Z');
    const again = await addItemFromUrl(deps(), { url: `${server.baseUrl}/article.html#top` });
    expect(again).toMatchObject({ created: false, item: { id: item.id } });
    const edited = await updateItem(db, item.id, {
      title: '最高人民法院发布典型案例',
      publishedAt: '2025-07-16 09:00',
    });
    expect(edited.title).toBe('最高人民法院发布典型案例');
    expect(edited.published_at?.toISOString()).toBe('2025-07-16T01:00:00.000Z');
  });

  it('reads JSON-LD (inside @graph) before Open Graph and <title>', async () => {
    const { item } = await addItemFromUrl(deps(), { url: `${server.baseUrl}/article-jsonld.html` });
    expect(item).toMatchObject({
      title: 'UK AI Security Institute publishes evaluation results',
      summary_text: 'Results of pre-deployment testing.',
      author: 'Jane Doe',
      published_offset: '+01:00',
    });
    expect(item.published_at?.toISOString()).toBe('2025-07-20T07:00:00.000Z');
  });

  it('fetches the page under the same address guard', async () => {
    await expect(
      addItemFromUrl(
        { ...deps(), env: testEnv({ FETCH_ALLOW_PRIVATE: '' }) },
        { url: `${server.baseUrl}/article-jsonld.html?again=1` },
      ),
    ).rejects.toThrow(/refused to fetch/);
  });
});
