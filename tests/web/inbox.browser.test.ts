import path from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { closeFetchAgents } from '../../src/feeds/fetch.js';
import { pollSource } from '../../src/feeds/poll.js';
import { addSource } from '../../src/feeds/sources.js';
import { createUser } from '../../src/accounts/users.js';
import { assembleDraft } from '../../src/issues/assemble.js';
import { body, type FixtureServer, startFixtureServer } from '../feeds/fixture-server.js';
import { artifactsDir, launchChromium } from '../support/chromium.js';
import { PASSWORD, startWebHarness, type WebHarness } from './support.js';

const ARTIFACTS = artifactsDir('web');

const rss = (title: string, entries: { title: string; slug: string; day: string; text: string }[]) =>
  `<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>${title}</title>
<link>https://example.org/</link>${entries
    .map(
      (e) =>
        `<item><title>${e.title}</title><link>https://example.org/${e.slug}</link><pubDate>${e.day}</pubDate><description>${e.text}</description></item>`,
    )
    .join('')}</channel></rss>`;

let h: WebHarness;
let feeds: FixtureServer;
let browser: Browser;
let base: string;

beforeAll(async () => {
  h = await startWebHarness();
  h.clock.now = new Date('2025-07-28T02:00:00Z');
  feeds = await startFixtureServer();
  feeds.route(
    '/foreign.xml',
    body(
      rss('域外法规动态', [
        {
          title: '欧盟发布《通用人工智能实践准则》',
          slug: 'eu-code',
          day: 'Thu, 10 Jul 2025 10:00:00 +0800',
          text: '准则分为透明度、版权、安全与保障三章，供通用人工智能模型提供者自愿签署。',
        },
        {
          title: '美国白宫发布《美国 AI 行动计划》',
          slug: 'us-plan',
          day: 'Wed, 23 Jul 2025 10:00:00 +0800',
          text: '计划围绕加速创新、建设基础设施、国际外交与安全三大支柱。',
        },
      ]),
      'application/rss+xml; charset=utf-8',
    ),
  );
  feeds.route(
    '/industry.xml',
    body(
      rss('行业新闻', [
        {
          title: '欧盟正式发布通用人工智能实践准则 - 科技日报',
          slug: 'eu-code-news',
          day: 'Fri, 11 Jul 2025 09:00:00 +0800',
          text: '欧盟委员会公布通用人工智能实践准则最终版本。',
        },
        {
          title: '月之暗面发布并开源 Kimi K2 模型',
          slug: 'kimi',
          day: 'Fri, 11 Jul 2025 20:00:00 +0800',
          text: 'Kimi K2 是一款混合专家架构的基础模型。',
        },
      ]),
      'application/rss+xml; charset=utf-8',
    ),
  );
  feeds.route('/gone.xml', (_req, res) => res.writeHead(503).end());
  const deps = { db: h.ctx.db, log: h.ctx.log, env: h.ctx.env, now: h.ctx.now };
  const foreign = await addSource(h.ctx.db, {
    name: '域外法规动态',
    url: `${feeds.baseUrl}/foreign.xml`,
    sectionKey: 'foreign-regulation',
  });
  const industry = await addSource(h.ctx.db, {
    name: '行业新闻',
    url: `${feeds.baseUrl}/industry.xml`,
    sectionKey: 'industry-news',
  });
  const gone = await addSource(h.ctx.db, { name: '停刊的网站', url: `${feeds.baseUrl}/gone.xml` });
  await pollSource(deps, foreign.id);
  await pollSource(deps, industry.id);
  for (let i = 0; i < h.env.FEED_FAILING_AFTER; i++) await pollSource(deps, gone.id);
  // An empty draft (the June window holds no items), so the inbox keeps every item to accept.
  await assembleDraft(deps, { period: '2025-06' });
  await createUser(h.ctx.db, {
    email: 'editor@committee.example',
    role: 'editor',
    password: PASSWORD,
    name: '殷编辑',
  });
  base = await h.serve();
  browser = await launchChromium();
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await h?.close();
  await feeds?.close();
  await closeFetchAgents();
});

describe('the inbox and sources pages in Chromium', () => {
  it('selects all, accepts an item by keyboard, and shows the sources’ health', async () => {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, locale: 'zh-CN' });
    const external: string[] = [];
    await context.route('**/*', (route) => {
      const url = route.request().url();
      if (url.startsWith(base)) return route.continue();
      external.push(url);
      return route.abort();
    });
    const page = await context.newPage();
    await page.goto(`${base}/admin/sign-in?next=/admin/inbox`);
    await page.getByLabel('邮箱地址').fill('editor@committee.example');
    await page.getByLabel('密码').fill(PASSWORD);
    await page.getByRole('button', { name: '登录' }).click();
    await page.waitForURL(`${base}/admin/inbox`);

    // The two reports of the EU code of practice sit in one group.
    const similar = page.locator('li.inbox-group.similar');
    await expect.poll(() => similar.count()).toBe(1);
    expect(await similar.locator('article').count()).toBe(2);

    // The script reveals "select all" and counts the checked items; bulk buttons follow.
    const dismissSelected = page.getByRole('button', { name: '忽略所选' });
    expect(await dismissSelected.isDisabled()).toBe(true);
    await page.getByLabel('全选本页').check();
    expect(await page.locator('#inbox-selected').textContent()).toBe('已选 4 条');
    expect(await dismissSelected.isDisabled()).toBe(false);
    await page.getByLabel('全选本页').uncheck();
    await page.screenshot({ path: path.join(ARTIFACTS, 'inbox.png'), fullPage: true });

    // Accept the Kimi item into 行业动态 with the keyboard only.
    const kimi = page.locator('article', { hasText: '月之暗面发布并开源 Kimi K2 模型' });
    await kimi.locator('select').focus();
    await page.keyboard.press('Tab');
    await page.keyboard.press('Enter');
    await page.waitForLoadState('load');
    await expect.poll(() => page.locator('p.flash.notice').textContent()).toContain('已采用 1 条');
    expect(await page.locator('article', { hasText: 'Kimi K2' }).count()).toBe(0);
    const accepted = await h.ctx.db
      .selectFrom('issue_items')
      .innerJoin('sections', 'sections.id', 'issue_items.section_id')
      .select(['issue_items.title', 'sections.key'])
      .execute();
    expect(accepted).toEqual([{ title: '月之暗面发布并开源 Kimi K2 模型', key: 'industry-news' }]);

    await page.getByRole('link', { name: '信息源' }).click();
    await page.waitForURL(`${base}/admin/sources`);
    const gone = page.locator('tr', { hasText: '停刊的网站' });
    expect(await gone.getAttribute('data-status')).toBe('failing');
    expect(await gone.locator('.badge.bad').textContent()).toBe('故障');
    await page.screenshot({ path: path.join(ARTIFACTS, 'sources.png'), fullPage: true });

    // Add a source the way an editor does: fill the form, add a rule row, preview, then add.
    await page.getByRole('link', { name: '添加信息源' }).click();
    await page.getByLabel('名称').fill('域外法规（第二个）');
    await page.getByLabel('订阅源地址（RSS、Atom 或 JSON Feed）').fill(`${feeds.baseUrl}/foreign.xml?copy=2`);
    await page.getByLabel('默认栏目').selectOption('foreign-regulation');
    await page.getByLabel('规则 1: 类型').selectOption('exclude');
    await page.getByLabel('规则 1: 关键词').fill('白宫');
    await page.getByRole('button', { name: '再加一条规则' }).click();
    await page.getByLabel('规则 2: 关键词').fill('欧盟');
    await page.getByLabel('规则 2: 归入栏目').selectOption('case-studies');
    await page.getByRole('button', { name: '预览抓取结果' }).click();
    await page.waitForSelector('#preview');
    expect(await page.locator('#preview [role="status"]').textContent()).toContain(
      '共 2 条：收录 1 条，过滤 1 条。',
    );
    expect(await page.locator('#preview tr.kept').textContent()).toContain('收录到“案例研讨”');
    await page.screenshot({ path: path.join(ARTIFACTS, 'sources-new.png'), fullPage: true });
    await page.getByRole('button', { name: '添加', exact: true }).click();
    await page.waitForURL(`${base}/admin/sources`);
    const added = await h.ctx.db
      .selectFrom('sources')
      .select(['rules', 'section_id'])
      .where('name', '=', '域外法规（第二个）')
      .executeTakeFirstOrThrow();
    expect(added.rules).toEqual([
      { type: 'exclude', keywords: ['白宫'] },
      { type: 'include', keywords: ['欧盟'], sectionKey: 'case-studies' },
    ]);

    // Tablet width: neither page scrolls sideways (the sources table scrolls inside its box).
    await page.setViewportSize({ width: 768, height: 1024 });
    const overflow = () => page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    expect(await overflow()).toBeLessThanOrEqual(0);
    await page.goto(`${base}/admin/inbox`);
    expect(await overflow()).toBeLessThanOrEqual(0);
    await page.goto(`${base}/admin/sources`);
    expect(await overflow()).toBeLessThanOrEqual(0);

    expect(external).toEqual([]);
    await context.close();
  }, 60_000);
});
