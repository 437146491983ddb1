import { createHash } from 'node:crypto';
import type { LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Source } from '../../src/db/schema.js';
import { groupNearDuplicates, likePattern, normaliseTitle, titleSimilarity } from '../../src/feeds/inbox.js';
import type { NormalizedItem } from '../../src/feeds/parse.js';
import { addSource } from '../../src/feeds/sources.js';
import { storeItems } from '../../src/feeds/store-items.js';
import { assembleDraft } from '../../src/issues/assemble.js';
import { type Browser, startWebHarness, type WebHarness } from './support.js';

describe('near-duplicate rule (pure)', () => {
  it('normalises punctuation, width, case and a site-name tail away', () => {
    expect(normaliseTitle('欧盟发布《通用人工智能实践准则》')).toBe('欧盟发布通用人工智能实践准则');
    expect(normaliseTitle('ＯｐｅｎＡＩ 发布 ChatGPT Agent - 新浪科技')).toBe('openai发布chatgptagent');
  });

  it('scores the same story high and a different one low', () => {
    const a = '欧盟发布《通用人工智能实践准则》';
    expect(titleSimilarity(a, '欧盟正式发布通用人工智能实践准则')).toBeGreaterThan(0.8);
    expect(titleSimilarity(a, '欧盟发布《通用人工智能模型提供者义务范围指南》')).toBeLessThan(0.6);
  });

  it('groups transitively, keeps input order, and leaves short titles alone unless equal', () => {
    const groups = groupNearDuplicates([
      { id: 1, title: 'OpenAI launches ChatGPT Agent' },
      { id: 2, title: '通知' },
      { id: 3, title: 'OpenAI launches ChatGPT agent | Reuters' },
      { id: 4, title: '公告' },
      { id: 5, title: '通知。' },
    ]);
    expect(groups.map((g) => g.map((i) => i.id))).toEqual([[1, 3], [2, 5], [4]]);
  });

  it('keeps apart titles that differ only in their numbers (parts, articles, dates)', () => {
    const groups = groupNearDuplicates([
      { id: 1, title: 'Reading the EU AI Act - Part 1' },
      { id: 2, title: 'Reading the EU AI Act - Part 2' },
      { id: 3, title: '《人工智能法》第5条解读' },
      { id: 4, title: '《人工智能法》第6条解读' },
      { id: 5, title: 'Reading the EU AI Act - Part 1 | Lexology' },
    ]);
    expect(groups.map((g) => g.map((i) => i.id))).toEqual([[1, 5], [2], [3], [4]]);
  });

  it('escapes LIKE wildcards so a search for "%" means a percent sign', () => {
    expect(likePattern('50%_a\\b')).toBe('%50\\%\\_a\\\\b%');
  });
});

const at = (iso: string) => new Date(iso).toISOString();
function entry(link: string, title: string, published: string, summary = ''): NormalizedItem {
  return {
    guid: link,
    title,
    link,
    publishedAt: at(published),
    publishedOffset: '+08:00',
    author: null,
    summaryText: summary,
    contentHtml: '',
    categories: [],
  };
}

describe('the inbox page', () => {
  let h: WebHarness;
  let editor: Browser;
  let viewer: Browser;
  let domestic: Source;
  let foreign: Source;
  let industry: Source;
  const id = new Map<string, number>();

  async function itemId(link: string): Promise<number> {
    const row = await h.ctx.db
      .selectFrom('items')
      .select('id')
      .where('link', '=', link)
      .executeTakeFirstOrThrow();
    return row.id;
  }
  /** The ids of the items the page lists, in page order. */
  const listed = (html: string) =>
    [...html.matchAll(/<article class="inbox-item" id="item-(\d+)"/g)].map((m) => Number(m[1]));
  const sectionId = async (key: string) =>
    (await h.ctx.db.selectFrom('sections').select('id').where('key', '=', key).executeTakeFirstOrThrow()).id;

  beforeAll(async () => {
    h = await startWebHarness();
    editor = await h.signIn('editor');
    viewer = await h.signIn('viewer');
    const db = h.ctx.db;
    domestic = await addSource(db, {
      name: '工信部',
      url: 'https://miit.example/feed',
      sectionKey: 'domestic-regulation',
    });
    foreign = await addSource(db, {
      name: '域外动态',
      url: 'https://foreign.example/feed',
      sectionKey: 'foreign-regulation',
    });
    industry = await addSource(db, {
      name: '行业新闻',
      url: 'https://industry.example/feed',
      sectionKey: 'industry-news',
      rules: [{ type: 'include', keywords: ['诉'], sectionKey: 'case-studies' }],
    });
    const now = new Date('2025-08-01T00:00:00Z');
    await storeItems(
      db,
      domestic,
      [
        entry(
          'https://miit.example/ai-safety',
          '工业和信息化领域人工智能安全治理标准体系正式发布',
          '2025-07-25T02:00:00Z',
          '工业和信息化部技术委员会发布建设指南',
        ),
      ],
      now,
    );
    await storeItems(
      db,
      foreign,
      [
        entry('https://foreign.example/eu-code', '欧盟发布《通用人工智能实践准则》', '2025-07-10T02:00:00Z'),
        entry(
          'https://foreign.example/eu-guide',
          '欧盟发布《通用人工智能模型提供者义务范围指南》',
          '2025-07-18T02:00:00Z',
        ),
        entry(
          'https://foreign.example/us-plan',
          "White House releases America's AI Action Plan",
          '2025-07-23T02:00:00Z',
          'The plan has three pillars.',
        ),
      ],
      now,
    );
    await storeItems(
      db,
      industry,
      [
        entry(
          'https://industry.example/eu',
          '欧盟正式发布通用人工智能实践准则 - 新浪科技',
          '2025-07-11T02:00:00Z',
        ),
        entry('https://industry.example/clorox', 'Clorox 诉 Cognizant 网络攻击案', '2025-07-20T02:00:00Z'),
        entry('https://industry.example/kimi', '月之暗面发布并开源 Kimi K2 模型', '2025-06-15T02:00:00Z'),
        // The same article as the foreign source's: one item, seen at two sources.
        entry(
          'https://foreign.example/us-plan?utm_source=rss',
          "White House releases America's AI Action Plan",
          '2025-07-23T02:00:00Z',
        ),
      ],
      now,
    );
    for (const link of [
      'https://miit.example/ai-safety',
      'https://foreign.example/eu-code',
      'https://foreign.example/eu-guide',
      'https://foreign.example/us-plan',
      'https://industry.example/eu',
      'https://industry.example/clorox',
      'https://industry.example/kimi',
    ])
      id.set(link.split('/').pop() as string, await itemId(link));
  });
  afterAll(async () => h?.close());

  const n = (key: string) => id.get(key) as number;
  /** Follows a post's redirect as a browser would, carrying the one-shot flash cookie it set. */
  async function follow(b: Browser, res: LightMyRequestResponse) {
    const flash = res.cookies.find((c) => c.name === 'gz_flash');
    return h.web.inject({
      method: 'GET',
      url: res.headers.location as string,
      headers: { cookie: flash ? `${b.cookie}; gz_flash=${flash.value}` : b.cookie },
    });
  }

  it('lists every new item, newest first, in Chinese', async () => {
    const res = await editor.get('/admin/inbox');
    expect(res.statusCode).toBe(200);
    expect(res.body).toContain('<h1>收件箱</h1>');
    expect(res.body).toContain('共 7 条（6 组）');
    const ids = listed(res.body);
    expect(new Set(ids)).toEqual(new Set(id.values()));
    expect(ids[0]).toBe(n('ai-safety'));
  });

  it('filters by source, by section (rules included) and by date', async () => {
    expect(listed((await editor.get(`/admin/inbox?source=${industry.id}`)).body).sort()).toEqual(
      [n('eu'), n('clorox'), n('kimi')].sort(),
    );
    // The industry source's rule sent the lawsuit to case studies, not the source's own section.
    const cases = await sectionId('case-studies');
    expect(listed((await editor.get(`/admin/inbox?section=${cases}`)).body)).toEqual([n('clorox')]);
    const foreignSection = await sectionId('foreign-regulation');
    expect(listed((await editor.get(`/admin/inbox?section=${foreignSection}`)).body).sort()).toEqual(
      [n('eu-code'), n('eu-guide'), n('us-plan')].sort(),
    );
    // Days are the publication's (Asia/Shanghai): 07-11 02:00Z is 07-11 10:00 there.
    const july = listed((await editor.get('/admin/inbox?from=2025-07-11&to=2025-07-20')).body);
    expect(july.sort()).toEqual([n('eu'), n('eu-guide'), n('clorox')].sort());
    expect(listed((await editor.get('/admin/inbox?to=2025-06-30')).body)).toEqual([n('kimi')]);
  });

  it('finds Chinese and English text in titles and summaries', async () => {
    const ai = listed((await editor.get(`/admin/inbox?q=${encodeURIComponent('人工智能')}`)).body);
    expect(ai.sort()).toEqual([n('ai-safety'), n('eu-code'), n('eu-guide'), n('eu')].sort());
    expect(listed((await editor.get(`/admin/inbox?q=${encodeURIComponent('建设指南')}`)).body)).toEqual([
      n('ai-safety'),
    ]);
    expect(listed((await editor.get('/admin/inbox?q=action+PLAN')).body)).toEqual([n('us-plan')]);
    expect(listed((await editor.get(`/admin/inbox?q=${encodeURIComponent('欧盟 指南')}`)).body)).toEqual([
      n('eu-guide'),
    ]);
    const none = await editor.get('/admin/inbox?q=%25');
    expect(listed(none.body)).toEqual([]);
    expect(none.body).toContain('没有符合条件的条目。');
  });

  it('shows near-duplicates together and an article carried twice once, with both sightings', async () => {
    const html = (await editor.get('/admin/inbox')).body;
    const groups = html.split('<li class="inbox-group').slice(1);
    const together = groups.filter((g) => g.startsWith(' similar'));
    expect(together).toHaveLength(1);
    expect(listed(together[0] as string).sort()).toEqual([n('eu-code'), n('eu')].sort());
    expect(together[0]).toContain('相似条目 1 条');
    const plan = groups.find((g) => g.includes(`id="item-${n('us-plan')}"`)) as string;
    expect(plan).toContain('见于 2 个信息源');
    expect(plan).toContain(
      'href="https://foreign.example/us-plan" target="_blank" rel="noopener noreferrer"',
    );
  });

  it('says there is no draft, and creates one for this month on request', async () => {
    const page = await editor.get('/admin/inbox');
    expect(page.body).toContain('目前没有草稿期刊');
    expect(page.body).toMatch(/name="accept" value="\d+" class="primary" disabled/);
    h.clock.now = new Date('2025-09-05T04:00:00Z');
    const res = await editor.post('/admin/inbox/draft', { back: '/admin/inbox' });
    expect(res.statusCode).toBe(303);
    const draft = await h.ctx.db.selectFrom('issues').selectAll().executeTakeFirstOrThrow();
    expect(draft).toMatchObject({ period: '2025-09', state: 'draft' });
    const after = await follow(editor, res);
    expect(after.body).toContain('已创建 2025-09 期草稿，自动收入 0 条。');
    expect(after.body).toContain(`href="/admin/issues/${draft.id}"`);
    expect(after.body).not.toMatch(/name="accept" value="\d+" class="primary" disabled/);
  });

  it('accepts an item into the chosen section of the draft, and it leaves the inbox', async () => {
    const draft = await h.ctx.db.selectFrom('issues').select('id').executeTakeFirstOrThrow();
    const res = await editor.post('/admin/inbox/act', {
      accept: String(n('ai-safety')),
      [`section_${n('ai-safety')}`]: 'domestic-regulation',
      back: '/admin/inbox?q=x',
    });
    expect(res.statusCode).toBe(303);
    expect(res.headers.location).toBe('/admin/inbox?q=x');
    // Into another section than the item's own.
    await editor.post('/admin/inbox/act', {
      accept: String(n('eu-guide')),
      [`section_${n('eu-guide')}`]: 'case-studies',
      back: '/admin/inbox',
    });
    const rows = await h.ctx.db
      .selectFrom('issue_items')
      .innerJoin('sections', 'sections.id', 'issue_items.section_id')
      .select(['issue_items.item_id', 'sections.key', 'issue_items.title', 'issue_items.sources'])
      .where('issue_id', '=', draft.id)
      .orderBy('issue_items.id')
      .execute();
    expect(rows).toEqual([
      {
        item_id: n('ai-safety'),
        key: 'domestic-regulation',
        title: '工业和信息化领域人工智能安全治理标准体系正式发布',
        sources: [{ url: 'https://miit.example/ai-safety' }],
      },
      expect.objectContaining({ item_id: n('eu-guide'), key: 'case-studies' }),
    ]);
    const page = await follow(editor, res);
    expect(page.body).toContain('已采用 1 条');
    const inbox = listed((await editor.get('/admin/inbox')).body);
    expect(inbox.length).toBeGreaterThan(0);
    expect(inbox).not.toContain(n('ai-safety'));
    expect(inbox).not.toContain(n('eu-guide'));
    // Accepting it again does nothing: it is no longer new.
    await editor.post('/admin/inbox/act', {
      accept: String(n('ai-safety')),
      [`section_${n('ai-safety')}`]: 'domestic-regulation',
    });
    const count = await h.ctx.db
      .selectFrom('issue_items')
      .select((eb) => eb.fn.countAll<string>().as('n'))
      .where('item_id', '=', n('ai-safety'))
      .executeTakeFirstOrThrow();
    expect(Number(count.n)).toBe(1);
  });

  it('accepts the checked items in bulk, each into its own section unless one is chosen', async () => {
    const res = await h.web.inject({
      method: 'POST',
      url: '/admin/inbox/act',
      headers: { cookie: editor.cookie },
      payload: {
        _csrf: editor.csrf,
        bulk: 'accept',
        ids: [String(n('us-plan')), String(n('clorox'))],
        bulk_section: '',
        [`section_${n('us-plan')}`]: 'foreign-regulation',
        [`section_${n('clorox')}`]: 'case-studies',
        back: '/admin/inbox',
      },
    });
    expect(res.statusCode).toBe(303);
    const rows = await h.ctx.db
      .selectFrom('issue_items')
      .innerJoin('sections', 'sections.id', 'issue_items.section_id')
      .select(['issue_items.item_id', 'sections.key'])
      .where('item_id', 'in', [n('us-plan'), n('clorox')])
      .orderBy('item_id')
      .execute();
    expect(rows).toEqual(
      [
        { item_id: n('us-plan'), key: 'foreign-regulation' },
        { item_id: n('clorox'), key: 'case-studies' },
      ].sort((a, b) => a.item_id - b.item_id),
    );
  });

  it('dismisses with undo; a dismissed item stays out of re-assembly until restored', async () => {
    // A September item, inside the draft's window, so re-assembly would pick it up.
    await storeItems(
      h.ctx.db,
      domestic,
      [entry('https://miit.example/sept', '九月发布的新规', '2025-09-02T02:00:00Z')],
      new Date('2025-09-03T00:00:00Z'),
    );
    const sept = await itemId('https://miit.example/sept');
    const res = await editor.post('/admin/inbox/act', { dismiss: String(sept), back: '/admin/inbox' });
    expect(res.statusCode).toBe(303);
    expect(res.headers.location).toBe(`/admin/inbox?dismissed=${sept}`);
    const page = await follow(editor, res);
    expect(listed(page.body)).not.toContain(sept);
    expect(page.body).toContain('已忽略 1 条。');
    expect(page.body).toContain(`name="ids" value="${sept}"`);
    expect(page.body).toContain('>撤销</button>');

    const again = await assembleDraft(
      { db: h.ctx.db, log: h.ctx.log, env: h.ctx.env, now: h.ctx.now },
      { period: '2025-09' },
    );
    expect(again.added).toBe(0);

    const dismissedView = await editor.get('/admin/inbox?view=dismissed');
    expect(listed(dismissedView.body)).toEqual([sept]);

    const undo = await editor.post('/admin/inbox/act', {
      bulk: 'restore',
      ids: String(sept),
      back: '/admin/inbox',
    });
    expect(undo.statusCode).toBe(303);
    expect(listed((await editor.get('/admin/inbox')).body)).toContain(sept);
    const { status } = await h.ctx.db
      .selectFrom('items')
      .select('status')
      .where('id', '=', sept)
      .executeTakeFirstOrThrow();
    expect(status).toBe('new');
  });

  it('accepts the rest of a bulk choice when one item names a section that no longer exists', async () => {
    await storeItems(
      h.ctx.db,
      domestic,
      [
        entry('https://miit.example/bulk-a', '批量采用的第一条', '2025-09-04T02:00:00Z'),
        entry('https://miit.example/bulk-b', '栏目已被删除的一条', '2025-09-04T03:00:00Z'),
        entry('https://miit.example/bulk-c', '批量采用的第三条', '2025-09-04T04:00:00Z'),
      ],
      new Date('2025-09-05T00:00:00Z'),
    );
    const [a, b, c] = [
      await itemId('https://miit.example/bulk-a'),
      await itemId('https://miit.example/bulk-b'),
      await itemId('https://miit.example/bulk-c'),
    ];
    const res = await h.web.inject({
      method: 'POST',
      url: '/admin/inbox/act',
      headers: { cookie: editor.cookie },
      payload: {
        _csrf: editor.csrf,
        bulk: 'accept',
        ids: [String(a), String(b), String(c)],
        bulk_section: '',
        [`section_${a}`]: 'domestic-regulation',
        [`section_${b}`]: 'removed-meanwhile',
        [`section_${c}`]: 'domestic-regulation',
        back: '/admin/inbox',
      },
    });
    expect(res.statusCode).toBe(303);
    const page = (await follow(editor, res)).body;
    expect(page).toMatch(/已采用 2 条/);
    expect(page).toContain('1 条未采用');
    const statuses = await h.ctx.db
      .selectFrom('items')
      .select(['id', 'status'])
      .where('id', 'in', [a, b, c])
      .orderBy('id')
      .execute();
    expect(statuses).toEqual([
      { id: a, status: 'accepted' },
      { id: b, status: 'new' },
      { id: c, status: 'accepted' },
    ]);
    await editor.post('/admin/inbox/act', { dismiss: String(b), back: '/admin/inbox' });
  });

  it('dismisses the checked items in bulk', async () => {
    const res = await h.web.inject({
      method: 'POST',
      url: '/admin/inbox/act',
      headers: { cookie: editor.cookie },
      payload: { _csrf: editor.csrf, bulk: 'dismiss', ids: [String(n('kimi')), String(n('eu'))] },
    });
    expect(res.statusCode).toBe(303);
    const rows = await h.ctx.db
      .selectFrom('items')
      .select('status')
      .where('id', 'in', [n('kimi'), n('eu')])
      .execute();
    expect(rows.map((r) => r.status)).toEqual(['dismissed', 'dismissed']);
    await editor.post('/admin/inbox/act', { bulk: 'restore', ids: `${n('kimi')},${n('eu')}` });
  });

  it('lets a viewer read the inbox but not act on it', async () => {
    const page = await viewer.get('/admin/inbox');
    expect(page.statusCode).toBe(200);
    expect(listed(page.body).length).toBeGreaterThan(0);
    expect(page.body).not.toContain('name="accept"');
    expect(page.body).not.toContain('name="dismiss"');
    const res = await viewer.post('/admin/inbox/act', { dismiss: String(n('kimi')) });
    expect(res.statusCode).toBe(403);
    const { status } = await h.ctx.db
      .selectFrom('items')
      .select('status')
      .where('id', '=', n('kimi'))
      .executeTakeFirstOrThrow();
    expect(status).toBe('new');
  });

  it('pages by groups of near-duplicates, 25 to a page, keeping the filters', async () => {
    const many = await addSource(h.ctx.db, { name: '分页', url: 'https://many.example/feed' });
    const hex = (i: number) => createHash('sha256').update(String(i)).digest('hex').slice(0, 16);
    await storeItems(
      h.ctx.db,
      many,
      Array.from({ length: 30 }, (_, i) =>
        entry(
          `https://many.example/${i}`,
          `Note ${hex(i)}`,
          `2025-05-${String(i + 1).padStart(2, '0')}T00:00:00Z`,
        ),
      ),
      new Date('2025-06-01T00:00:00Z'),
    );
    const first = await editor.get(`/admin/inbox?source=${many.id}`);
    expect(listed(first.body)).toHaveLength(25);
    expect(first.body).toContain('第 1 / 2 页');
    // Handlebars escapes "=" in attributes as &#x3D;, which the browser reads back as "=".
    expect(first.body.replaceAll('&#x3D;', '=')).toContain(
      `href="/admin/inbox?source=${many.id}&amp;page=2" rel="next"`,
    );
    const second = await editor.get(`/admin/inbox?source=${many.id}&page=2`);
    expect(listed(second.body)).toHaveLength(5);
    expect(new Set([...listed(first.body), ...listed(second.body)]).size).toBe(30);
  });

  it('speaks English to an editor who chose it', async () => {
    const en = await h.signIn('editor');
    await en.post('/admin/locale', { locale: 'en', next: '/admin/inbox' });
    const page = await en.get('/admin/inbox');
    expect(page.body).toContain('<h1>Inbox</h1>');
    expect(page.body).toContain('>Accept</button>');
    expect(page.body).toContain('>Dismiss</button>');
    expect(page.body).toContain('Current draft:');
    expect(page.body).toContain('Open the original');
  });
});
