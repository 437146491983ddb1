import path from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createUser } from '../../src/accounts/users.js';
import { listSections } from '../../src/publication/index.js';
import { importSubscribersCsv } from '../../subscribers/api.js';
import { artifactsDir, launchChromium } from '../support/chromium.js';
import { projectRoot } from '../support/model-issue.js';
import { PASSWORD, startWebHarness, type WebHarness } from './support.js';

const ARTIFACTS = artifactsDir('web');
const FIXTURE = path.join(projectRoot, 'tests/fixtures/subscribers/with-bad-rows.csv');

/**
 * One pass through the admin pages in Debian's Chromium: a screenshot of each (subscribers,
 * users, settings, operations), the sections' keyboard reorder, and bull-board's UI loading with
 * every request kept to this server (no fonts or scripts from outside).
 */
describe('subscribers, users, settings and operations in a browser', () => {
  let h: WebHarness;
  let browser: Browser;
  let base: string;
  beforeAll(async () => {
    h = await startWebHarness();
    await createUser(h.ctx.db, {
      email: 'admin@committee.example',
      name: '管理员',
      role: 'admin',
      password: PASSWORD,
    });
    await createUser(h.ctx.db, {
      email: 'editor@committee.example',
      name: '王编辑',
      role: 'editor',
      password: PASSWORD,
    });
    await importSubscribersCsv(h.ctx.db, FIXTURE);
    base = await h.serve();
    browser = await launchChromium();
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    await h?.close();
  });

  it('shows each page, reorders a section by keyboard, and loads bull-board from this server only', async () => {
    const context = await browser.newContext({ locale: 'zh-CN', viewport: { width: 1280, height: 900 } });
    const page = await context.newPage();
    const outside: string[] = [];
    const cspViolations: string[] = [];
    page.on('console', (m) => {
      if (/Content Security Policy/i.test(m.text())) cspViolations.push(m.text());
    });
    page.on('request', (r) => {
      const url = r.url();
      if (!url.startsWith(base) && !url.startsWith('data:') && !url.startsWith('blob:')) outside.push(url);
    });

    await page.goto(`${base}/admin/sign-in?next=/admin/subscribers`);
    await page.getByLabel('邮箱地址').fill('admin@committee.example');
    await page.getByLabel('密码').fill(PASSWORD);
    await page.getByRole('button', { name: '登录' }).click();
    await page.waitForURL(`${base}/admin/subscribers`);
    expect(await page.getByRole('heading', { name: '订阅者', level: 1 }).count()).toBe(1);
    expect(await page.locator('table.subscribers tbody tr').count()).toBe(4);
    // "Every section" and single sections exclude each other (subscribers.js).
    const caseStudies = page.locator('#sub-add-title ~ form input[value="case-studies"]');
    expect(await caseStudies.isDisabled()).toBe(true);
    await page.locator('#sub-add-title ~ form input[data-all-sections]').uncheck();
    expect(await caseStudies.isDisabled()).toBe(false);
    await page.screenshot({ path: path.join(ARTIFACTS, 'subscribers.png'), fullPage: true });

    await page.goto(`${base}/admin/users`);
    expect(await page.locator('table.users tbody tr').count()).toBe(2);
    await page.screenshot({ path: path.join(ARTIFACTS, 'users.png'), fullPage: true });

    await page.goto(`${base}/admin/settings`);
    const first = (await listSections(h.ctx.db))[0]?.key as string;
    await page.locator(`#section-${first} button[aria-label^="将"][aria-label$="下移"]`).focus();
    await page.keyboard.press('Enter');
    await page.waitForURL(`${base}/admin/settings#sec-${first}-down`);
    expect((await listSections(h.ctx.db))[1]?.key).toBe(first);
    // Focus comes back to the same button, so Enter moves the section further.
    expect(await page.evaluate(() => document.activeElement?.id)).toBe(`sec-${first}-down`);
    await Promise.all([page.waitForEvent('load'), page.keyboard.press('Enter')]);
    expect((await listSections(h.ctx.db))[2]?.key).toBe(first);
    await page.screenshot({ path: path.join(ARTIFACTS, 'settings.png'), fullPage: true });

    await page.goto(`${base}/admin/ops`);
    expect(await page.locator('table.ops-queues tbody tr').count()).toBe(4);
    await page.screenshot({ path: path.join(ARTIFACTS, 'ops.png'), fullPage: true });

    await page.getByRole('link', { name: '队列面板（bull-board）' }).click();
    await page.waitForURL(`${base}/admin/queues`);
    await page.getByText('send', { exact: true }).first().waitFor({ timeout: 15_000 });
    await page.getByText('加载中').first().waitFor({ state: 'detached', timeout: 15_000 });
    await page.screenshot({ path: path.join(ARTIFACTS, 'queues.png') });
    expect(outside).toEqual([]);
    expect(cspViolations).toEqual([]);

    // At tablet width the subscriber list still fits without sideways scrolling of the page.
    await page.setViewportSize({ width: 768, height: 1000 });
    await page.goto(`${base}/admin/subscribers`);
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(768);
    await context.close();
  }, 60_000);
});
