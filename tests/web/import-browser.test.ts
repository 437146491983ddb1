import path from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createUser } from '../../src/accounts/users.js';
import { silentLogger } from '../../src/log.js';
import { createImportWorker } from '../../workers/imports.js';
import { artifactsDir, launchChromium } from '../support/chromium.js';
import { PASSWORD, startWebHarness, type WebHarness } from './support.js';

const ARTIFACTS = artifactsDir('web');

/**
 * The import page in Debian's Chromium, under the server's Content-Security-Policy (no inline
 * script): the upload lands on the import's page, which follows the job by swapping in its status
 * fragment, without reloading, until the report is there.
 */
describe('a subscriber import in a browser', () => {
  let h: WebHarness;
  let browser: Browser;
  let base: string;
  let worker: ReturnType<typeof createImportWorker> | undefined;
  beforeAll(async () => {
    h = await startWebHarness();
    await createUser(h.ctx.db, {
      email: 'editor@committee.example',
      role: 'editor',
      password: PASSWORD,
      locale: 'en',
    });
    base = await h.serve();
    browser = await launchChromium();
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    await worker?.close();
    await h?.close();
  });

  it('shows the import queued, then its progress and report as the job runs, swapped in place', async () => {
    const page = await (await browser.newContext({ locale: 'en-US' })).newPage();
    const cspViolations: string[] = [];
    page.on('console', (m) => {
      if (/Content Security Policy/i.test(m.text())) cspViolations.push(m.text());
    });
    await page.goto(`${base}/admin/sign-in?next=/admin/subscribers`);
    await page.getByLabel('Email').fill('editor@committee.example');
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL(`${base}/admin/subscribers`);

    const lines = ['email,name'];
    for (let i = 0; i < 20_000; i++) lines.push(i % 10 === 9 ? `bad${i}` : `reader${i}@example.com,读者${i}`);
    await page.setInputFiles('#import-file', {
      name: 'readers.csv',
      mimeType: 'text/csv',
      buffer: Buffer.from(`${lines.join('\n')}\n`),
    });
    await page.getByRole('button', { name: 'Import', exact: true }).click();
    await page.waitForURL(/\/admin\/subscribers\/imports\/\d+$/);
    // No worker runs yet: the import waits, and the page says so.
    expect(await page.locator('[data-import-state]').getAttribute('data-import-state')).toBe('queued');
    expect(await page.getByText('Waiting for a worker').count()).toBe(1);
    // The script hides the no-script note; a reload would lose this mark.
    expect(await page.locator('[data-no-js-refresh]').isHidden()).toBe(true);
    await page.evaluate(() => {
      (window as unknown as { stillThisPage: boolean }).stillThisPage = true;
    });

    worker = createImportWorker({
      db: h.ctx.db,
      log: silentLogger,
      now: () => new Date(),
      connection: { url: h.env.REDIS_URL, prefix: h.env.QUEUE_PREFIX },
    });
    await page.waitForSelector('[data-import-state="done"]', { timeout: 60_000 });
    expect(await page.evaluate(() => (window as unknown as { stillThisPage?: boolean }).stillThisPage)).toBe(
      true,
    );
    expect(await page.locator('[data-poll-announce]').textContent()).toBe('Finished');
    expect(await page.locator('table.subscribers-summary').textContent()).toMatch(/Added\s*18000/);
    expect(await page.locator('table.subscribers-problems tbody tr').count()).toBe(100);
    expect(await page.getByText('1900 more problem rows are not listed.').count()).toBe(1);
    expect(await page.locator('section[data-poll]').count()).toBe(0);
    await page.screenshot({ path: path.join(ARTIFACTS, 'subscribers-import.png'), fullPage: true });
    expect(cspViolations).toEqual([]);
  }, 120_000);
});
