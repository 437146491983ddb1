import type { LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { closeFetchAgents } from '../../src/feeds/fetch.js';
import { addSource } from '../../src/feeds/sources.js';
import { readSourceForm, rulesOf, splitKeywords } from '../../src/http/admin/pages/sources/form.js';
import { body, type FixtureServer, startFixtureServer } from '../feeds/fixture-server.js';
import { type Browser, startWebHarness, type WebHarness } from './support.js';

describe('the source form (pure)', () => {
  it('splits keywords on Chinese and Latin separators', () => {
    expect(splitKeywords('人工智能、AI，算法; 数据,AI')).toEqual(['人工智能', 'AI', '算法', '数据']);
  });

  it('reads parallel rule rows, drops blank rows and an exclude rule’s section', () => {
    const form = readSourceForm({
      name: ' 域外 ',
      url: 'https://x.example/feed',
      rule_type: ['exclude', 'include', 'include'],
      rule_keywords: ['招聘', '案，诉', ''],
      rule_section: ['case-studies', 'case-studies', ''],
      enabled_present: '1',
    });
    expect(form).toMatchObject({ name: '域外', enabled: false, interval: '60' });
    expect(rulesOf(form.rows)).toEqual([
      { type: 'exclude', keywords: ['招聘'] },
      { type: 'include', keywords: ['案', '诉'], sectionKey: 'case-studies' },
    ]);
  });
});

const FEED = `<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>域外法规动态</title><link>https://foreign.example/</link>
<item><title>欧盟发布《通用人工智能实践准则》</title><link>https://foreign.example/eu-code</link>
<pubDate>Thu, 10 Jul 2025 10:00:00 +0800</pubDate><description>准则分为透明度、版权、安全三章。</description></item>
<item><title>Clorox 诉 Cognizant 网络攻击案</title><link>https://foreign.example/clorox</link>
<pubDate>Sun, 20 Jul 2025 10:00:00 +0800</pubDate><description>服务台社会工程攻击</description></item>
<item><title>招聘启事：法律研究助理</title><link>https://foreign.example/jobs</link>
<pubDate>Mon, 21 Jul 2025 10:00:00 +0800</pubDate><description>欢迎投递</description></item>
</channel></rss>`;

describe('the sources pages', () => {
  let h: WebHarness;
  let feeds: FixtureServer;
  let editor: Browser;
  let viewer: Browser;

  async function follow(b: Browser, res: LightMyRequestResponse) {
    const flash = res.cookies.find((c) => c.name === 'gz_flash');
    return h.web.inject({
      method: 'GET',
      url: res.headers.location as string,
      headers: { cookie: flash ? `${b.cookie}; gz_flash=${flash.value}` : b.cookie },
    });
  }
  /** A form post with repeated fields (the rule rows), as a browser sends it. */
  const postForm = (b: Browser, url: string, form: Record<string, string | string[]>) =>
    h.web.inject({ method: 'POST', url, headers: { cookie: b.cookie }, payload: { ...form, _csrf: b.csrf } });
  const count = async (table: 'sources' | 'items') =>
    Number(
      (
        await h.ctx.db
          .selectFrom(table)
          .select((eb) => eb.fn.countAll<string>().as('n'))
          .executeTakeFirstOrThrow()
      ).n,
    );
  const sourceForm = () => ({
    name: '域外法规动态',
    url: `${feeds.baseUrl}/feed.xml`,
    section: 'foreign-regulation',
    interval: '120',
    enabled_present: '1',
    enabled: '1',
    rule_type: ['exclude', 'include', 'include'],
    rule_keywords: ['招聘', '诉', ''],
    rule_section: ['', 'case-studies', ''],
  });

  beforeAll(async () => {
    h = await startWebHarness();
    feeds = await startFixtureServer();
    feeds.route('/feed.xml', body(FEED, 'application/rss+xml; charset=utf-8'));
    feeds.route(
      '/bent.xml',
      body(
        Buffer.from(
          '<rss version="2.0"><channel><title>A & B</title><item><title>日期</title><link>https://bent.example/1</link><pubDate>Sun, Dec x 2012</pubDate></item></channel></rss>',
        ),
        'text/xml; charset=gbk',
      ),
    );
    feeds.route('/broken.xml', (_req, res) =>
      res.writeHead(500, { 'content-type': 'text/plain' }).end('boom'),
    );
    editor = await h.signIn('editor');
    viewer = await h.signIn('viewer');
  });
  afterAll(async () => {
    await h?.close();
    await feeds?.close();
    await closeFetchAgents();
  });

  it('previews what a new feed yields, rules applied, and stores nothing', async () => {
    const res = await postForm(editor, '/admin/sources/preview', sourceForm());
    expect(res.statusCode).toBe(200);
    expect(res.body).toContain('预览：域外法规动态');
    expect(res.body).toContain('rss2 格式，utf-8 编码，共 3 条：收录 2 条，过滤 1 条。');
    expect(res.body).toContain('欧盟发布《通用人工智能实践准则》');
    expect(res.body).toContain('收录到“案例研讨”');
    expect(res.body).toContain('过滤：含排除关键词“招聘”');
    // The form keeps what was typed, rules included.
    expect(res.body).toContain(`value="${feeds.baseUrl}/feed.xml"`);
    expect(res.body).toContain('name="rule_keywords" value="招聘"');
    expect(feeds.hits.get('/feed.xml')).toBe(1);
    expect(await count('sources')).toBe(0);
    expect(await count('items')).toBe(0);
  });

  it('refuses to preview a private address the guard does not allow', async () => {
    const res = await postForm(editor, '/admin/sources/preview', {
      ...sourceForm(),
      url: 'http://169.254.169.254/latest/meta-data',
    });
    expect(res.statusCode).toBe(200);
    expect(res.body).toContain('无法抓取或解析这个订阅源');
    expect(res.body).not.toContain('预览：');
  });

  it('adds the source, then "poll now" stores its items with the rules applied', async () => {
    const bad = await postForm(editor, '/admin/sources', { ...sourceForm(), url: 'ftp://x.example/feed' });
    expect(bad.statusCode).toBe(400);
    // The refusal names the problem in the editor's language, not the stage's English.
    expect(bad.body).toContain('无法保存：“ftp://x.example/feed”必须以 http:// 或 https:// 开头。');
    expect(bad.body).not.toContain('must start with');
    expect(await count('sources')).toBe(0);

    const res = await postForm(editor, '/admin/sources', sourceForm());
    expect(res.statusCode).toBe(303);
    expect((await follow(editor, res)).body).toContain('已添加“域外法规动态”');
    const twice = await postForm(editor, '/admin/sources', sourceForm());
    expect(twice.statusCode).toBe(400);
    expect(twice.body).toContain('无法保存：已有使用该网址的来源：');
    expect(await count('sources')).toBe(1);
    const source = await h.ctx.db.selectFrom('sources').selectAll().executeTakeFirstOrThrow();
    expect(source).toMatchObject({ name: '域外法规动态', poll_interval_minutes: 120, enabled: true });
    expect(source.rules).toEqual([
      { type: 'exclude', keywords: ['招聘'] },
      { type: 'include', keywords: ['诉'], sectionKey: 'case-studies' },
    ]);

    const poll = await editor.post(`/admin/sources/${source.id}/poll`, { back: 'list' });
    expect(poll.statusCode).toBe(303);
    expect(poll.headers.location).toBe('/admin/sources');
    expect((await follow(editor, poll)).body).toContain('抓取成功：新增 2 条，已有 0 条，规则过滤 1 条。');
    const items = await h.ctx.db
      .selectFrom('items')
      .innerJoin('sections', 'sections.id', 'items.section_id')
      .select(['items.title', 'sections.key'])
      .orderBy('items.title')
      .execute();
    expect(items).toEqual([
      { title: 'Clorox 诉 Cognizant 网络攻击案', key: 'case-studies' },
      { title: '欧盟发布《通用人工智能实践准则》', key: 'foreign-regulation' },
    ]);
    const list = await editor.get('/admin/sources');
    expect(list.body).toMatch(
      new RegExp(
        `<tr id="source-${source.id}" data-status="ok">[\\s\\S]*?href="/admin/inbox\\?source=${source.id}">2</a>`,
      ),
    );
  });

  it('shows a source that keeps failing as failing, with its last error', async () => {
    const broken = await addSource(h.ctx.db, { name: '坏掉的源', url: `${feeds.baseUrl}/broken.xml` });
    for (let i = 0; i < h.env.FEED_FAILING_AFTER; i++) {
      const res = await editor.post(`/admin/sources/${broken.id}/poll`, {});
      expect(res.headers.location).toBe(`/admin/sources/${broken.id}`);
      if (i === 0) expect((await follow(editor, res)).body).toContain('“坏掉的源”抓取失败');
    }
    const list = await editor.get('/admin/sources');
    const row = list.body.split(`<tr id="source-${broken.id}"`)[1]?.split('</tr>')[0] as string;
    expect(row).toContain('data-status="failing"');
    expect(row).toContain('<span class="badge bad">故障</span>');
    expect(row).toContain('HTTP 500');
    expect(row).toContain(`<td class="num">${h.env.FEED_FAILING_AFTER}</td>`);
    const { last_error } = await h.ctx.db
      .selectFrom('sources')
      .select('last_error')
      .where('id', '=', broken.id)
      .executeTakeFirstOrThrow();
    expect(row).toContain(last_error as string);
    const page = await editor.get(`/admin/sources/${broken.id}`);
    expect(page.body).toContain('data-status="failing"');
  });

  it('edits rules with a preview first, then saves them', async () => {
    const source = await h.ctx.db
      .selectFrom('sources')
      .selectAll()
      .where('name', '=', '域外法规动态')
      .executeTakeFirstOrThrow();
    const page = await editor.get(`/admin/sources/${source.id}`);
    expect(page.body).toContain('name="rule_keywords" value="诉"');
    const changed = { ...sourceForm(), rule_type: ['exclude', 'include'], rule_keywords: ['招聘，诉', ''] };
    const preview = await postForm(editor, `/admin/sources/${source.id}/preview`, changed);
    expect(preview.body).toContain('共 3 条：收录 1 条，过滤 2 条。');
    expect(
      (await h.ctx.db.selectFrom('sources').select('rules').executeTakeFirstOrThrow()).rules,
    ).toHaveLength(2);
    const saved = await postForm(editor, `/admin/sources/${source.id}`, { ...changed, name: '域外法规' });
    expect(saved.statusCode).toBe(303);
    const row = await h.ctx.db
      .selectFrom('sources')
      .selectAll()
      .where('id', '=', source.id)
      .executeTakeFirstOrThrow();
    expect(row.name).toBe('域外法规');
    expect(row.rules).toEqual([{ type: 'exclude', keywords: ['招聘', '诉'] }]);
    // Same address: validators and health are kept.
    expect(row.last_success_at).not.toBeNull();
  });

  it('disables, enables and removes a source; its items stay', async () => {
    const source = await h.ctx.db
      .selectFrom('sources')
      .selectAll()
      .where('name', '=', '域外法规')
      .executeTakeFirstOrThrow();
    await editor.post(`/admin/sources/${source.id}/enabled`, { enabled: '0', back: 'list' });
    let row = await h.ctx.db
      .selectFrom('sources')
      .selectAll()
      .where('id', '=', source.id)
      .executeTakeFirstOrThrow();
    expect(row.enabled).toBe(false);
    expect((await editor.get('/admin/sources')).body).toContain(
      `<tr id="source-${source.id}" data-status="disabled">`,
    );
    await editor.post(`/admin/sources/${source.id}/enabled`, { enabled: '1' });
    row = await h.ctx.db
      .selectFrom('sources')
      .selectAll()
      .where('id', '=', source.id)
      .executeTakeFirstOrThrow();
    expect(row.enabled).toBe(true);

    const removed = await editor.post(`/admin/sources/${source.id}/remove`, {});
    expect(removed.statusCode).toBe(303);
    expect((await follow(editor, removed)).body).toContain('已删除“域外法规”');
    expect(
      await h.ctx.db.selectFrom('sources').select('id').where('id', '=', source.id).executeTakeFirst(),
    ).toBe(undefined);
    expect(await count('items')).toBe(2);
    expect((await editor.get(`/admin/sources/${source.id}`)).statusCode).toBe(404);
  });

  it('lets a viewer read health but not act', async () => {
    const broken = await h.ctx.db
      .selectFrom('sources')
      .select('id')
      .where('name', '=', '坏掉的源')
      .executeTakeFirstOrThrow();
    const list = await viewer.get('/admin/sources');
    expect(list.statusCode).toBe(200);
    expect(list.body).toContain('坏掉的源');
    expect(list.body).not.toContain('/poll"');
    expect(list.body).not.toContain('href="/admin/sources/new"');
    const page = await viewer.get(`/admin/sources/${broken.id}`);
    expect(page.statusCode).toBe(200);
    expect(page.body).not.toContain('name="rule_keywords"');
    expect(page.body).toContain('您的角色为只读');
    const before = feeds.hits.get('/broken.xml');
    expect((await viewer.post(`/admin/sources/${broken.id}/poll`, {})).statusCode).toBe(403);
    expect((await postForm(viewer, '/admin/sources/preview', sourceForm())).statusCode).toBe(403);
    expect((await viewer.post(`/admin/sources/${broken.id}/remove`, {})).statusCode).toBe(403);
    expect(feeds.hits.get('/broken.xml')).toBe(before);
    expect(
      await h.ctx.db.selectFrom('sources').select('id').where('id', '=', broken.id).executeTakeFirst(),
    ).toBeTruthy();
  });

  it('speaks English to an editor who chose it', async () => {
    const en = await h.signIn('editor');
    await en.post('/admin/locale', { locale: 'en', next: '/admin/sources' });
    const list = await en.get('/admin/sources');
    expect(list.body).toContain('<h1>Sources</h1>');
    expect(list.body).toContain('<span class="badge bad">Failing</span>');
    expect(list.body).toContain('Poll now');
    const preview = await postForm(en, '/admin/sources/preview', sourceForm());
    expect(preview.body).toContain('rss2, utf-8, 3 items: 2 kept, 1 filtered.');
    expect(preview.body).toContain('Kept, into “Case studies”');
    expect(preview.body).toContain('Filtered: contains the excluded keyword “招聘”');
  });

  it("shows what a poll had to bend to read a feed, in the editor's language", async () => {
    const bent = await addSource(h.ctx.db, { name: '不规范的源', url: `${feeds.baseUrl}/bent.xml` });
    await editor.post(`/admin/sources/${bent.id}/poll`, {});
    const page = await editor.get(`/admin/sources/${bent.id}`);
    expect(page.body).toContain('<dd>utf-8</dd>');
    expect(page.body).toMatch(/<li>订阅源不是规范的 XML（[^）]+），条目由宽松解析恢复。<\/li>/);
    expect(page.body).toContain('1 个条目的日期无法识别（例如“Sun, Dec x 2012”），已留空。');
    expect(page.body).toContain('HTTP 头声明的编码是 gb18030，但内容是有效的 UTF-8，已按 utf-8 解码。');
  });

  it("sets a source's own time zone from the form, and refuses one that is not a zone by name", async () => {
    const bent = await h.ctx.db
      .selectFrom('sources')
      .selectAll()
      .where('name', '=', '不规范的源')
      .executeTakeFirstOrThrow();
    const form = {
      ...sourceForm(),
      name: bent.name,
      url: bent.url,
      rule_type: [],
      rule_keywords: [],
      rule_section: [],
    };
    const refused = await postForm(editor, `/admin/sources/${bent.id}`, {
      ...form,
      time_zone: 'Mars/Olympus',
    });
    expect(refused.statusCode).toBe(400);
    expect(refused.body).toContain('“Mars/Olympus”不是有效的 IANA 时区（例如 Asia/Shanghai）。');
    const saved = await postForm(editor, `/admin/sources/${bent.id}`, {
      ...form,
      time_zone: 'America/Chicago',
    });
    expect(saved.statusCode).toBe(303);
    const page = await editor.get(`/admin/sources/${bent.id}`);
    expect(page.body).toContain('name="time_zone" value="America/Chicago"');
  });
});
