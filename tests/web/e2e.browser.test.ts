import path from 'node:path';
import { DateTime } from 'luxon';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createUser } from '../../src/accounts/users.js';
import { addRelay } from '../../src/delivery/relay-store.js';
import { defaultScheduleTime } from '../../src/http/admin/pages/send.js';
import { ensurePublication, getPublication } from '../../src/publication/publication.js';
import { type SmtpCatcher, startSmtpCatcher } from '../../src/smtp/catcher.js';
import { addSubscriber } from '../../subscribers/store.js';
import { startWorkers, type WorkerSet } from '../../workers/index.js';
import { artifactsDir, launchChromium, seriousAxeViolations } from '../support/chromium.js';
import { MODEL_DOCUMENT, sharedFixture } from '../support/shared.js';
import { PASSWORD, startWebHarness, type WebHarness } from './support.js';

/**
 * An editor's month, end to end in Debian's Chromium against the real server, PostgreSQL, Redis,
 * BullMQ workers and an SMTP peer: sign in, import the committee's document, reorder an item,
 * preview the phone variant, schedule and reschedule, watch the send finish, read the statistics. Each main page is saved
 * as a screenshot in test-artifacts/web/e2e-*.png.
 */
const ARTIFACTS = artifactsDir('web');
const modelDocument = sharedFixture(MODEL_DOCUMENT);
const EDITOR = 'editor-in-chief@committee.example';
// Evaluated through the DevTools protocol: the pages' CSP refuses an injected <script> element.
const MAIN_PAGES = [
  ['inbox', '/admin/inbox'],
  ['subscribers', '/admin/subscribers'],
  ['sources', '/admin/sources'],
  ['stats-overview', '/admin/stats'],
  ['users', '/admin/users'],
  ['settings', '/admin/settings'],
  ['ops', '/admin/ops'],
] as const;

let smtp: SmtpCatcher;
let h: WebHarness;
let workers: WorkerSet;
let browser: Browser;
let page: Page;
let base: string;

const publicationZone = async () =>
  (await getPublication(h.ctx.db))?.time_zone ?? h.ctx.env.DEFAULT_TIME_ZONE;

beforeAll(async () => {
  smtp = await startSmtpCatcher();
  h = await startWebHarness({ SMTP_URL: `smtp://127.0.0.1:${smtp.port}` });
  await createUser(h.ctx.db, { email: EDITOR, role: 'admin', password: PASSWORD, name: '编辑部' });
  // An install past its first run: a real sender the admin has verified (otherwise sign-in lands on /admin/welcome).
  await ensurePublication(h.ctx.db, h.ctx.env);
  await h.ctx.db
    .updateTable('publication')
    .set({
      from_email: 'news@lawyers.example',
      sender_verified_email: 'news@lawyers.example',
      sender_verified_at: new Date(),
    })
    .execute();
  // Three subscribers who chose differently: all sections, one section, two sections.
  await addSubscriber(h.ctx.db, { email: 'all@readers.example', consentSource: 'editor' });
  await addSubscriber(h.ctx.db, {
    email: 'cases@readers.example',
    consentSource: 'editor',
    sectionKeys: ['case-studies'],
  });
  await addSubscriber(h.ctx.db, {
    email: 'two@readers.example',
    consentSource: 'editor',
    sectionKeys: ['domestic-regulation', 'industry-news'],
  });
  workers = await startWorkers(h.ctx, { roles: ['issues', 'send'] });
  base = await h.serve();
  browser = await launchChromium();
  page = await browser.newPage({ viewport: { width: 1280, height: 900 }, locale: 'zh-CN' });
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await workers?.close();
  await h?.close();
  await smtp?.close();
});

const shot = (name: string) =>
  page.screenshot({ path: path.join(ARTIFACTS, `e2e-${name}.png`), fullPage: true });

async function issueOrder(issueId: number): Promise<number[]> {
  const rows = await h.ctx.db
    .selectFrom('issue_items')
    .select(['id'])
    .where('issue_id', '=', issueId)
    .orderBy('section_id')
    .orderBy('position')
    .execute();
  return rows.map((r) => r.id);
}

describe.skipIf(!modelDocument.present)("an editor's month in the browser", () => {
  let issueId: number;

  it('signs in and lands on the issue list, in Chinese', async () => {
    await page.goto(`${base}/admin`);
    expect(new URL(page.url()).pathname).toBe('/admin/sign-in');
    await shot('sign-in');
    await page.getByLabel('邮箱地址').fill(EDITOR);
    await page.getByLabel('密码').fill(PASSWORD);
    await page.getByRole('button', { name: '登录' }).click();
    await page.waitForURL(`${base}/admin/issues`);
    expect(await page.locator('html').getAttribute('lang')).toBe('zh-CN');
    await shot('issues');
  });

  it("imports the committee's Markdown document by upload", async () => {
    await page.locator('#import-file').setInputFiles(modelDocument.path);
    await page.locator('#import-period').fill('2025-07');
    await Promise.all([
      page.waitForURL(/\/admin\/issues\/\d+$/),
      page.locator('#import-form button[type=submit]').click(),
    ]);
    issueId = Number(new URL(page.url()).pathname.split('/').pop());
    const sections = await h.ctx.db
      .selectFrom('issue_sections')
      .select('section_id')
      .where('issue_id', '=', issueId)
      .execute();
    const items = await h.ctx.db
      .selectFrom('issue_items')
      .select('id')
      .where('issue_id', '=', issueId)
      .execute();
    expect(sections).toHaveLength(4);
    expect(items).toHaveLength(27);
    await shot('editor');
  });

  it('moves an item down with the keyboard, and the order is saved', async () => {
    const before = await issueOrder(issueId);
    const first = page.locator(`#item-${before[0]}`);
    await first.locator('[data-move="down"]').focus();
    await page.keyboard.press('Enter');
    await expect
      .poll(() => issueOrder(issueId), { timeout: 10_000 })
      .toEqual([before[1], before[0], ...before.slice(2)]);
  });

  it('previews the phone variant for one section at 375 px', async () => {
    await page.goto(`${base}/admin/issues/${issueId}/preview`);
    // Choose 案例研讨 alone, as the cases@ subscriber did.
    for (const box of await page.locator('input[type=checkbox][name="sections"]').all()) await box.uncheck();
    await page.locator('#sec-case-studies').check();
    await Promise.all([
      page.waitForURL(/sections=case-studies/),
      page.locator('#preview-choice button[type=submit]').click(),
    ]);
    const phone = page.locator('iframe[data-preview-frame="phone"]');
    expect(await phone.evaluate((f) => (f as HTMLIFrameElement).clientWidth)).toBe(375);
    const body = page.frameLocator('iframe[data-preview-frame="phone"]').locator('body');
    await expect.poll(() => body.textContent({ timeout: 10_000 }), { timeout: 15_000 }).toContain('案例研讨');
    const text = (await body.textContent()) ?? '';
    expect(text).not.toContain('域外规范');
    await shot('preview');
  });

  it('approves, schedules in the publication time zone, reschedules, and watches the send reach every subscriber', async () => {
    await page.goto(`${base}/admin/issues/${issueId}/send`);
    await page.locator('form[action$="/approve"] button[type=submit]').click();
    await page.waitForURL(`${base}/admin/issues/${issueId}/send`);

    // The offered time is the next 09:00 in the publication's zone (today's while it is still ahead), which the form names.
    const tz = await publicationZone();
    expect(await page.locator('label[for="schedule-time"]').textContent()).toContain(tz);
    await page.locator('form[action$="/schedule"] button[type=submit]').click();
    await page.waitForURL(`${base}/admin/issues/${issueId}/send`);
    const tomorrow = defaultScheduleTime(new Date(), tz).date;
    expect(await page.locator('main').textContent()).toContain(`${tomorrow} 09:00（${tz}）`);
    const scheduled = await h.ctx.db
      .selectFrom('issues')
      .select(['state', 'scheduled_at'])
      .where('id', '=', issueId)
      .executeTakeFirstOrThrow();
    expect(scheduled.state).toBe('scheduled');
    expect(
      DateTime.fromJSDate(scheduled.scheduled_at as Date, { zone: tz }).toFormat('yyyy-MM-dd HH:mm'),
    ).toBe(`${tomorrow} 09:00`);

    // Reschedule to this minute of the server's injected clock (set to the wall clock, then held):
    // the form, the schedule check, the job's delay and the worker's due check all read that one
    // instant, so the delayed job is replaced and fires at once, with no wait for a clean minute.
    h.clock.now = new Date();
    const now = DateTime.fromJSDate(h.clock.now, { zone: tz });
    await page.locator('#schedule-date').fill(now.toFormat('yyyy-MM-dd'));
    await page.locator('#schedule-time').fill(now.toFormat('HH:mm'));
    await page.locator('form[action$="/schedule"] button[type=submit]').click();
    await page.waitForURL(`${base}/admin/issues/${issueId}/send`);
    await expect
      .poll(
        async () => {
          await page.reload();
          return (
            await page
              .locator('[data-progress="accepted"]')
              .textContent()
              .catch(() => null)
          )?.trim();
        },
        { timeout: 90_000, interval: 1_000 },
      )
      .toBe('3');
    const state = async () =>
      (
        await h.ctx.db
          .selectFrom('issues')
          .select('state')
          .where('id', '=', issueId)
          .executeTakeFirstOrThrow()
      ).state;
    await expect.poll(state, { timeout: 30_000 }).toBe('sent');
    expect(smtp.messages.map((m) => m.to.join(',')).sort()).toEqual([
      'all@readers.example',
      'cases@readers.example',
      'two@readers.example',
    ]);
    await shot('send');
  }, 120_000);

  it('reads the statistics of the issue', async () => {
    await page.goto(`${base}/admin/issues/${issueId}/stats`);
    const accepted = page.locator('[data-stats="totals"] [data-key="accepted"]');
    expect((await accepted.textContent())?.trim()).toBe('3');
    // One row per variant that was sent: all four sections, 案例研讨 alone, and two sections.
    expect(await page.locator('[data-stats="variants"] tr[data-variant]').count()).toBe(3);
    await shot('stats');
  });

  it('opens every main page without an error, and saves a screenshot of each', async () => {
    // A saved relay (switched off, so delivery is unchanged) puts the relay table on the settings
    // page for the screenshot and the accessibility and width checks below.
    await addRelay(h.ctx.db, h.ctx.secrets, {
      name: 'committee-relay',
      host: 'smtp.committee.example',
      port: 587,
      security: 'starttls',
      username: 'newsletter',
      password: 'not-shown-anywhere',
      weight: 2,
      perSecond: 10,
      enabled: false,
    });
    for (const [name, url] of MAIN_PAGES) {
      const res = await page.goto(`${base}${url}`);
      expect(res?.status(), url).toBe(200);
      if (name === 'settings') {
        expect(await page.locator('#smtp').textContent()).toContain('committee-relay');
        expect(await page.content()).not.toContain('not-shown-anywhere');
      }
      await shot(name);
    }
  });

  it('gives every main page labels, names and contrast (axe-core finds no serious or critical violation)', async () => {
    const problems: string[] = [];
    for (const [, url] of [
      ...MAIN_PAGES,
      ['editor', `/admin/issues/${issueId}`],
      ['send', `/admin/issues/${issueId}/send`],
    ]) {
      await page.goto(`${base}${url}`);
      problems.push(...(await seriousAxeViolations(page, url)));
    }
    expect(problems).toEqual([]);
  });

  it('fits a tablet: no main page scrolls sideways at 768 px', async () => {
    await page.setViewportSize({ width: 768, height: 1024 });
    const wide: string[] = [];
    for (const [, url] of [...MAIN_PAGES, ['editor', `/admin/issues/${issueId}`]]) {
      await page.goto(`${base}${url}`);
      const width = await page.evaluate(() => document.documentElement.scrollWidth);
      if (width > 768) wide.push(`${url}: ${width}px`);
    }
    expect(wide).toEqual([]);
  });
});
