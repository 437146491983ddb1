import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createUser } from '../../src/accounts/users.js';
import { artifactsDir, launchChromium } from '../support/chromium.js';
import { MODEL_DOCUMENT, sharedFixture } from '../support/shared.js';
import { PASSWORD, startWebHarness, type WebHarness } from './support.js';

const ARTIFACTS = artifactsDir('web');
const modelDocument = sharedFixture(MODEL_DOCUMENT);

let h: WebHarness;
let browser: Browser;
let base: string;

/** Item ids of one section in database order. */
async function dbOrder(issueId: number, sectionKey: string): Promise<number[]> {
  const rows = await h.ctx.db
    .selectFrom('issue_items')
    .innerJoin('sections', 'sections.id', 'issue_items.section_id')
    .select('issue_items.id')
    .where('issue_items.issue_id', '=', issueId)
    .where('sections.key', '=', sectionKey)
    .orderBy('issue_items.position')
    .execute();
  return rows.map((r) => r.id);
}

/** Item ids of one section as the page shows them. */
/** Items as listed, leaving out the copy SortableJS draws under the pointer while dragging. */
function domOrder(page: Page, sectionKey: string): Promise<number[]> {
  return page.$$eval(`ol.issue-items[data-section-key="${sectionKey}"] > li:not(.sortable-fallback)`, (lis) =>
    lis.map((li) => Number((li as HTMLElement).dataset.itemId)),
  );
}

beforeAll(async () => {
  h = await startWebHarness();
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
});

describe.skipIf(!modelDocument.present)('the issue editor in Chromium', () => {
  it('uploads the model document, drags an item, moves one by keyboard and autosaves an edit', async () => {
    const context = await browser.newContext({
      viewport: { width: 1280, height: 900 },
      locale: 'zh-CN',
      extraHTTPHeaders: { 'accept-language': 'zh-CN' },
    });
    // A closed network: anything not served by the app itself would fail the page.
    const external: string[] = [];
    await context.route('**/*', (route) => {
      const url = route.request().url();
      if (url.startsWith(base)) return route.continue();
      external.push(url);
      return route.abort();
    });
    const page = await context.newPage();
    const errors: string[] = [];
    page.on('pageerror', (err) => errors.push(err.message));

    await page.goto(`${base}/admin/sign-in`);
    await page.fill('#email', 'editor@committee.example');
    await page.fill('#password', PASSWORD);
    await Promise.all([page.waitForURL(`${base}/admin/issues`), page.click('button[type="submit"].primary')]);

    // The upload goes through issues.js as multipart and lands on the new draft's editor.
    await page.setInputFiles('#import-file', modelDocument.path);
    await Promise.all([
      page.waitForURL(/\/admin\/issues\/\d+$/),
      page.click('#import-form button[type="submit"]'),
    ]);
    const issueId = Number(page.url().split('/').pop());
    expect(await page.locator('ol.issue-items > li').count()).toBe(27);
    await expect
      .poll(() => page.locator('main > p.flash.notice').first().textContent(), { timeout: 10_000 })
      .toBe('已导入：4 个栏目，27 条。');

    // Drag the first foreign-regulation item below the third, by its handle.
    const section = 'foreign-regulation';
    const before = await dbOrder(issueId, section);
    const list = `ol.issue-items[data-section-key="${section}"]`;
    const handle = page.locator(`${list} > li:nth-child(1) .drag-handle`);
    const target = page.locator(`${list} > li:nth-child(3)`);
    // A viewport tall enough to hold the whole section: near an edge SortableJS scrolls the page
    // while dragging, and the target would move away from under the pointer.
    const viewport = page.viewportSize();
    await page.setViewportSize({ width: viewport?.width ?? 1280, height: 3000 });
    await handle.scrollIntoViewIfNeeded();
    const from = await handle.boundingBox();
    const to = await target.boundingBox();
    if (!from || !to) throw new Error('items not visible');
    const moved = page.waitForResponse((r) => r.url().includes('/move') && r.request().method() === 'POST');
    await page.mouse.move(from.x + from.width / 2, from.y + from.height / 2);
    await page.mouse.down();
    for (let i = 1; i <= 12; i++) {
      await page.mouse.move(from.x + from.width / 2, from.y + ((to.y + to.height * 0.75 - from.y) * i) / 12);
    }
    // Sortable's fallback mode looks under the pointer every 50 ms: hold still until it has moved the item.
    await expect.poll(() => domOrder(page, section), { timeout: 10_000 }).not.toEqual(before);
    await page.mouse.up();
    expect((await moved).status()).toBe(200);
    if (viewport) await page.setViewportSize(viewport);
    const afterDrag = await dbOrder(issueId, section);
    expect(afterDrag).not.toEqual(before);
    expect(afterDrag).toEqual(await domOrder(page, section));
    expect(afterDrag.indexOf(before[0] as number)).toBeGreaterThan(0);
    expect([...afterDrag].sort()).toEqual([...before].sort());

    // Keyboard: focus "down" on the first domestic item and press Enter; focus stays on that item.
    const domestic = await dbOrder(issueId, 'domestic-regulation');
    const first = domestic[0] as number;
    await page.focus(`#item-${first} [data-move="down"]`);
    const keyMove = page.waitForResponse((r) => r.url().includes(`/items/${first}/move`));
    await page.keyboard.press('Enter');
    expect((await keyMove).status()).toBe(200);
    expect(await dbOrder(issueId, 'domestic-regulation')).toEqual([domestic[1], first, ...domestic.slice(2)]);
    expect(await domOrder(page, 'domestic-regulation')).toEqual([domestic[1], first, ...domestic.slice(2)]);
    const focused = await page.evaluate(() => document.activeElement?.closest('li.issue-item')?.id);
    expect(focused).toBe(`item-${first}`);
    await expect
      .poll(() => page.locator('#issue-live').textContent(), { timeout: 10_000 })
      .toMatch(/已移到“新规概览”第 2 位。$/);
    // And back up with the keyboard: the focus is on the "up" button of the same item.
    const back = page.waitForResponse((r) => r.url().includes(`/items/${first}/move`));
    await page.focus(`#item-${first} [data-move="up"]`);
    await page.keyboard.press('Enter');
    await back;
    expect(await dbOrder(issueId, 'domestic-regulation')).toEqual(domestic);
    expect(await page.evaluate(() => document.activeElement?.closest('li.issue-item')?.id)).toBe(
      `item-${first}`,
    );

    // Inline edit with autosave: the status says saved and the checklist is refreshed.
    await page.click(`#item-${first} details.item-edit > summary`);
    const saved = page.waitForResponse(
      (r) => r.url().includes(`/items/${first}?`) && r.request().method() === 'PATCH',
    );
    const checked = page.waitForResponse((r) =>
      r.url().endsWith(`/admin/issues/${issueId}/checklist?links=false`),
    );
    await page.fill(`#item-${first}-summary`, '浏览器里自动保存的摘要。');
    expect((await saved).status()).toBe(200);
    await expect
      .poll(() => page.locator(`#item-${first} .save-status`).textContent(), { timeout: 10_000 })
      .toBe('已保存');
    expect((await checked).status()).toBe(200);
    const row = await h.ctx.db
      .selectFrom('issue_items')
      .select(['summary', 'version'])
      .where('id', '=', first)
      .executeTakeFirstOrThrow();
    expect(row).toEqual({ summary: '浏览器里自动保存的摘要。', version: 2 });

    // A refused save is explained in the editor's language (the API answers a code; the page says it).
    const refused = page.waitForResponse(
      (r) => r.url().includes(`/items/${first}?`) && r.request().method() === 'PATCH',
    );
    await page.fill(`#item-${first}-src-1-url`, 'ftp://files.example/report.pdf');
    expect((await refused).status()).toBe(400);
    await expect
      .poll(() => page.locator(`#item-${first} .save-status`).textContent(), { timeout: 10_000 })
      .toBe('保存失败：第 1 个来源必须是 http(s) 网址：“ftp://files.example/report.pdf”。');
    const fixed = page.waitForResponse(
      (r) => r.url().includes(`/items/${first}?`) && r.request().method() === 'PATCH' && r.status() === 200,
    );
    await page.fill(`#item-${first}-src-1-url`, 'https://files.example/report.pdf');
    await fixed;

    await page.screenshot({ path: path.join(ARTIFACTS, 'issue-editor.png'), fullPage: false });
    await page.setViewportSize({ width: 768, height: 1000 });
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    expect(overflow).toBeLessThanOrEqual(0);
    await page.screenshot({ path: path.join(ARTIFACTS, 'issue-editor-768.png'), fullPage: false });

    await page.setViewportSize({ width: 1280, height: 900 });
    await page.goto(`${base}/admin/issues`);
    expect(await page.locator('table.issues-table tbody tr').count()).toBe(1);
    await page.screenshot({ path: path.join(ARTIFACTS, 'issues-list.png'), fullPage: true });

    expect(errors).toEqual([]);
    expect(external).toEqual([]);
    await context.close();
  }, 90_000);
});
