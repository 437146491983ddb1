import path from 'node:path';
import { sql } from 'kysely';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createUser } from '../../src/accounts/users.js';
import { EventWriter } from '../../src/tracking/event-writer.js';
import { registerIssueLinks } from '../../src/tracking/issue-links.js';
import { artifactsDir, launchChromium } from '../support/chromium.js';
import { MODEL_DOCUMENT, sharedFixture } from '../support/shared.js';
import { type SeededIssue, seedSentIssue } from '../tracking/seed.js';
import { PASSWORD, startWebHarness, type WebHarness } from './support.js';

/**
 * The editors' preview and send pages in Debian's Chromium: the phone frame really lays the email
 * out at 375 px, and the send page's numbers change in place while the ledger moves.
 */

const modelDocument = sharedFixture(MODEL_DOCUMENT);
let h: WebHarness;
let browser: Browser;
let page: Page;
let base: string;
let artifacts: string;
let modelId: number;
let sending: SeededIssue;

beforeAll(async () => {
  artifacts = artifactsDir('web');
  h = await startWebHarness();
  modelId = await h.importModel();
  // An issue half way through its send: 4 accepted, 1 failed, 7 waiting.
  sending = await seedSentIssue(h.ctx.db, {
    recipients: 12,
    period: '2030-05',
    states: ['accepted', 'accepted', 'accepted', 'accepted', 'failed', ...Array(7).fill('queued')],
  });
  await h.ctx.db
    .updateTable('issues')
    .set({
      state: 'sending',
      prepared_at: new Date(),
      sending_started_at: sql<Date>`now() - interval '20 seconds'` as never,
    })
    .where('id', '=', sending.issueId)
    .execute();
  // Something to chart: an earlier issue, links in three sections, opens and clicks over a few hours.
  await seedSentIssue(h.ctx.db, { recipients: 6, period: '2030-04', states: Array(6).fill('accepted') });
  const links = await registerIssueLinks(h.ctx.db, sending.issueId, [
    { url: 'https://www.miit.gov.cn/a', sectionId: sending.sectionIds.domestic as number },
    { url: 'https://eur-lex.europa.eu/b', sectionId: sending.sectionIds.foreign as number },
    { url: 'https://court.gov.cn/c', sectionId: sending.sectionIds.cases as number },
  ]);
  const writer = new EventWriter({ db: h.ctx.db, log: h.ctx.log });
  sending.deliveries.slice(0, 4).forEach((d, i) => {
    const ids = { deliveryId: d.id, issueId: sending.issueId, subscriberId: d.subscriberId };
    const at = new Date(Date.UTC(2030, 4, 1, 1 + i));
    writer.add({ ...ids, type: 'open', dedupeKey: `open:${d.id}`, proxied: i === 3, occurredAt: at });
    for (const [j, linkId] of [...links.values()].slice(0, 3 - (i % 3)).entries())
      writer.add({
        ...ids,
        type: 'click',
        linkId,
        dedupeKey: `click:${d.id}:${linkId}`,
        occurredAt: new Date(at.getTime() + (j + 1) * 60_000),
      });
  });
  await writer.close();
  await createUser(h.ctx.db, {
    email: 'editor@committee.example',
    role: 'editor',
    password: PASSWORD,
    name: '殷雨薇',
  });
  base = await h.serve();
  browser = await launchChromium();
  page = await browser.newPage({ viewport: { width: 1280, height: 900 }, locale: 'zh-CN' });
  // Closed network: nothing outside this server loads (remote images in the email are refused).
  await page.route('**/*', (route) =>
    route.request().url().startsWith(base) || route.request().url().startsWith('data:')
      ? route.continue()
      : route.abort(),
  );
  await page.goto(`${base}/admin/sign-in`);
  await page.getByLabel('邮箱地址').fill('editor@committee.example');
  await page.getByLabel('密码').fill(PASSWORD);
  await Promise.all([page.waitForURL(/\/admin\/issues/), page.getByRole('button', { name: '登录' }).click()]);
}, 90_000);

afterAll(async () => {
  await browser?.close();
  await h?.close();
});

describe.skipIf(!modelDocument.present)('preview and send pages in Chromium', () => {
  it('lays the chosen variant out in the phone frame at 375 px, beside the desktop frame', async () => {
    await page.goto(`${base}/admin/issues/${modelId}/preview`);
    // Choose two sections with the checkboxes, as an editor would.
    await page.getByLabel('域外规范').uncheck();
    await page.getByLabel('行业动态').uncheck();
    await Promise.all([page.waitForURL(/sections=/), page.getByRole('button', { name: '更新预览' }).click()]);
    await page.waitForSelector('iframe[data-preview-frame="phone"]');
    const phone = page.frameLocator('iframe[data-preview-frame="phone"]');
    await expect
      .poll(async () => phone.locator('body').textContent({ timeout: 10_000 }), { timeout: 15_000 })
      .toContain('工业和信息化领域人工智能安全治理标准体系正式发布');
    const phoneFrame = page.frames().find((f) => f.url().includes('/preview/html') && f !== page.mainFrame());
    expect(phoneFrame).toBeDefined();
    const frames = page.frames().filter((f) => f.url().includes('/preview/html'));
    const sizes = await Promise.all(
      frames.map((f) =>
        f.evaluate(() => ({
          width: window.innerWidth,
          scroll: document.documentElement.scrollWidth,
          text: document.body.textContent ?? '',
        })),
      ),
    );
    const narrow = sizes.find((s) => s.width === 375);
    const wide = sizes.find((s) => s.width >= 600);
    expect(narrow).toBeDefined();
    expect(wide).toBeDefined();
    // No sideways scrolling on a phone.
    expect(narrow?.scroll).toBeLessThanOrEqual(375);
    for (const s of sizes) {
      expect(s.text).toContain('案例研讨');
      expect(s.text).not.toContain('金砖国家签署人工智能全球治理声明');
    }
    // The frames run no script: the sandbox leaves them without an origin of their own.
    const sandbox = await page.locator('iframe[data-preview-frame="phone"]').getAttribute('sandbox');
    expect(sandbox).not.toContain('allow-scripts');
    await page.screenshot({ path: path.join(artifacts, 'preview.png'), fullPage: false });
  });

  it('shows the send progress updating in place, and pauses from the page', async () => {
    await page.goto(`${base}/admin/issues/${sending.issueId}/send`);
    const accepted = page.locator('[data-progress="accepted"]');
    await expect.poll(() => accepted.textContent()).toBe('4');
    // The no-JS refresh hint is hidden once the script runs.
    expect(await page.locator('[data-no-js-refresh]').isHidden()).toBe(true);

    // The workers move on: three more rows accepted.
    const ids = sending.deliveries.slice(5, 8).map((d) => d.id);
    await h.ctx.db
      .updateTable('deliveries')
      .set({ state: 'accepted', accepted_at: sql<Date>`now()` as never })
      .where('id', 'in', ids)
      .execute();
    await expect.poll(() => accepted.textContent(), { timeout: 10_000, interval: 250 }).toBe('7');
    expect(await page.locator('[data-progress="pending"]').textContent()).toBe('4');
    await expect.poll(() => page.locator('[data-progress-announce]').textContent()).toContain('发送中');
    expect(await page.locator('[data-progress="rateText"]').textContent()).toMatch(/封\/秒/);
    await page.screenshot({ path: path.join(artifacts, 'send.png'), fullPage: true });

    // Pause from the page: the confirm-free button posts JSON and the controls swap in place.
    expect(await page.getByRole('button', { name: '继续发送' }).isVisible()).toBe(false);
    await page.getByRole('button', { name: '暂停' }).click();
    await expect.poll(async () => page.getByRole('button', { name: '继续发送' }).isVisible()).toBe(true);
    const row = await h.ctx.db
      .selectFrom('issues')
      .select(['state', 'pause_reason'])
      .where('id', '=', sending.issueId)
      .executeTakeFirstOrThrow();
    expect(row).toEqual({ state: 'paused', pause_reason: 'operator' });
    expect(await page.getByRole('button', { name: '暂停' }).isVisible()).toBe(false);
    expect(await page.locator('[data-progress="stateText"]').textContent()).toBe('已暂停');
  });

  it('draws the statistics page with its charts', async () => {
    await page.goto(`${base}/admin/stats`);
    // Two charts (rates, counts), each an image with a name, each beside its table.
    const overview = page.getByRole('img');
    expect(await overview.count()).toBe(2);
    expect(await overview.first().getAttribute('aria-labelledby')).toBe('chart-rates-title chart-rates-desc');
    expect(await page.locator('table[data-stats="issues"] [data-col="accepted"]').first().textContent()).toBe(
      '7',
    );

    await page.goto(`${base}/admin/issues/${sending.issueId}/stats`);
    expect(await page.locator('table[data-stats="totals"] [data-key="accepted"]').textContent()).toBe('7');
    expect(await page.locator('table[data-stats="totals"] [data-key="opened"]').textContent()).toBe('4');
    // Sections, timeline and comparison charts, each named for a screen reader.
    const names = await page
      .getByRole('img')
      .evaluateAll((els) =>
        els.map(
          (e) =>
            document.getElementById((e.getAttribute('aria-labelledby') ?? '').split(' ')[0] ?? '')
              ?.textContent,
        ),
      );
    expect(names).toEqual(['各栏目的点击次数', '打开与点击随时间变化', '本期与往期的打开率和点击率']);
    await page.screenshot({ path: path.join(artifacts, 'stats.png'), fullPage: true });
  });
});
