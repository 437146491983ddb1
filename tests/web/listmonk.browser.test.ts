import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createUser } from '../../src/accounts/users.js';
import { addIssueItem } from '../../src/issues/edit.js';
import { getIssue } from '../../src/issues/store.js';
import { ensurePublication } from '../../src/publication/publication.js';
import { addSubscriber, getSubscriberByEmail, isSuppressed } from '../../subscribers/api.js';
import { launchChromium, seriousAxeViolations } from '../support/chromium.js';
import { PASSWORD, startWebHarness, type WebHarness } from './support.js';

// Evaluated through the DevTools protocol: the pages' CSP refuses an injected <script> element.

let h: WebHarness;
let browser: Browser;
let base: string;
let issueId: number;
let itemId: number;

beforeAll(async () => {
  h = await startWebHarness();
  await createUser(h.ctx.db, {
    email: 'editor@committee.example',
    role: 'editor',
    password: PASSWORD,
    name: '殷编辑',
  });
  await h.ctx.db.updateTable('users').set({ locale: 'zh-CN' }).execute();
  await ensurePublication(h.ctx.db, h.env);
  const issue = await h.ctx.db
    .insertInto('issues')
    .values({
      period: '2025-07',
      title: '数字科技与人工智能',
      intro: '各位同仁：',
      masthead: JSON.stringify({ editor: '殷雨薇' }),
    })
    .returning('id')
    .executeTakeFirstOrThrow();
  issueId = issue.id;
  const deps = { db: h.ctx.db, log: h.ctx.log, env: h.env, now: () => new Date() };
  itemId = await addIssueItem(
    deps,
    issueId,
    { sectionKey: 'case-studies', title: '案例一', summary: '原来的摘要。' },
    'test',
  );
  for (const [i, email] of ['li@firm.example', 'wang@firm.example', 'zhao@firm.example'].entries()) {
    await addSubscriber(h.ctx.db, {
      email,
      name: `读者${i}`,
      sectionKeys: ['industry-news'],
      consentSource: 'import',
    });
  }
  base = await h.serve();
  browser = await launchChromium();
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await h?.close();
});

/** A signed-in editor's page that records script errors and CSP refusals. */
async function editorPage(): Promise<{ page: Page; problems: string[] }> {
  const context = await browser.newContext({
    locale: 'zh-CN',
    extraHTTPHeaders: { 'accept-language': 'zh-CN' },
  });
  const page = await context.newPage();
  const problems: string[] = [];
  page.on('pageerror', (err) => problems.push(err.message));
  page.on('console', (msg) => {
    if (/Content Security Policy|Refused to/i.test(msg.text())) problems.push(msg.text());
  });
  await page.goto(`${base}/admin/sign-in`);
  await page.fill('#email', 'editor@committee.example');
  await page.fill('#password', PASSWORD);
  await Promise.all([page.waitForURL(`${base}/admin/issues`), page.click('button[type="submit"].primary')]);
  return { page, problems };
}

describe('the summary editor in Chromium', () => {
  it('previews Markdown as the reader will see it while the editor types, without inline script', async () => {
    const { page, problems } = await editorPage();
    await page.goto(`${base}/admin/issues/${issueId}`);
    await page.click(`#item-${itemId} details.item-edit > summary`);
    const preview = page.locator(`[data-summary-preview="item-${itemId}-summary"]`);
    await expect(preview.textContent()).resolves.toBe('原来的摘要。');
    await page.fill(
      `#item-${itemId}-summary`,
      '本条**重点**在于\n透明度，见[官方公报](https://eur-lex.europa.eu/oj)。\n\n- 禁止的做法\n- 高风险系统\n\n[坏链接](javascript:alert(1))',
    );
    await expect.poll(() => preview.locator('strong').count(), { timeout: 10_000 }).toBe(1);
    expect(await preview.locator('strong').textContent()).toBe('重点');
    expect(await preview.locator('p').first().textContent()).toBe('本条重点在于透明度，见官方公报。');
    expect(await preview.locator('a').evaluateAll((as) => as.map((a) => a.getAttribute('href')))).toEqual([
      'https://eur-lex.europa.eu/oj',
    ]);
    expect(await preview.locator('ul > li').allTextContents()).toEqual(['禁止的做法', '高风险系统']);
    expect(await preview.textContent()).toContain('坏链接');

    // Saving (issues.js sends the form through the JSON API) keeps the Markdown as typed.
    await page.fill(`#item-${itemId}-summary`, '保存后：**加粗**');
    await expect.poll(() => preview.locator('strong').textContent(), { timeout: 10_000 }).toBe('加粗');
    await page.click(`#item-${itemId} form[data-item-form] button[type="submit"]`);
    const saved = () =>
      h.ctx.db.selectFrom('issue_items').select('summary').where('id', '=', itemId).executeTakeFirstOrThrow();
    await expect.poll(async () => (await saved()).summary, { timeout: 10_000 }).toBe('保存后：**加粗**');
    expect(problems).toEqual([]);
  });

  it('duplicates the last issue as the next draft from the issue list', async () => {
    const { page, problems } = await editorPage();
    expect(await page.inputValue('#duplicate-period')).toBe('2025-08');
    await Promise.all([page.waitForURL(/\/admin\/issues\/\d+$/), page.click('#duplicate-period ~ p button')]);
    const copyId = Number(page.url().split('/').pop());
    expect(copyId).not.toBe(issueId);
    await expect(page.locator('main > p.flash.notice').first().textContent()).resolves.toContain('2025-08');
    expect(await getIssue(h.ctx.db, copyId)).toMatchObject({
      period: '2025-08',
      intro: '各位同仁：',
      state: 'draft',
    });
    expect(problems).toEqual([]);
  });
});

describe('bulk actions on the subscriber list in Chromium', () => {
  it('ticks rows, adds a section to them, then suppresses the whole page after confirming', async () => {
    const { page, problems } = await editorPage();
    await page.goto(`${base}/admin/subscribers?sort=email`);
    const li = await getSubscriberByEmail(h.ctx.db, 'li@firm.example');
    const wang = await getSubscriberByEmail(h.ctx.db, 'wang@firm.example');
    await page.check(`input[name="ids"][value="${li?.id}"]`);
    await page.check(`input[name="ids"][value="${wang?.id}"]`);
    await page.selectOption('#bulk-mode', 'add');
    await page.check(
      '.subscribers-bulk ~ * input[name="sections"][value="case-studies"], section input[name="sections"][value="case-studies"]',
    );
    await Promise.all([
      page.waitForURL(`${base}/admin/subscribers?sort=email`),
      page.click('button[formaction="/admin/subscribers/bulk/sections"]'),
    ]);
    await expect(page.locator('main p.flash.notice').first().textContent()).resolves.toBe(
      '已更改 2 位订阅者的栏目。',
    );
    expect((await getSubscriberByEmail(h.ctx.db, 'li@firm.example'))?.sectionKeys).toEqual([
      'case-studies',
      'industry-news',
    ]);
    expect((await getSubscriberByEmail(h.ctx.db, 'zhao@firm.example'))?.sectionKeys).toEqual([
      'industry-news',
    ]);

    // The header box (drawn by the script) ticks the page; the browser asks before suppressing.
    await page.check('input[data-select-page]');
    expect(await page.locator('input[name="ids"]:checked').count()).toBe(3);
    const questions: string[] = [];
    page.once('dialog', (d) => {
      questions.push(d.message());
      void d.dismiss();
    });
    await page.click('button[formaction="/admin/subscribers/bulk/suppress"]');
    expect(questions).toEqual(['确定屏蔽所选订阅者的地址吗？']);
    expect(await isSuppressed(h.ctx.db, 'zhao@firm.example')).toBe(false);
    page.once('dialog', (d) => void d.accept());
    await Promise.all([
      page.waitForURL(`${base}/admin/subscribers?sort=email`),
      page.click('button[formaction="/admin/subscribers/bulk/suppress"]'),
    ]);
    await expect(page.locator('main p.flash.notice').first().textContent()).resolves.toContain(
      '新屏蔽 3 个地址',
    );
    for (const email of ['li@firm.example', 'wang@firm.example', 'zhao@firm.example'])
      expect(await isSuppressed(h.ctx.db, email)).toBe(true);
    expect(problems).toEqual([]);
  });
});

describe('the new page parts for assistive technology', () => {
  it('axe-core finds no serious or critical violation on the list with bulk actions, the snippet page, the duplicate card and the preview', async () => {
    const { page } = await editorPage();
    const problems: string[] = [];
    for (const url of [
      '/admin/subscribers',
      '/admin/subscribers/signup-form',
      '/admin/issues',
      `/admin/issues/${issueId}`,
    ]) {
      await page.goto(`${base}${url}`);
      problems.push(...(await seriousAxeViolations(page, url)));
    }
    expect(problems).toEqual([]);
  });
});
