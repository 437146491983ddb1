import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import * as cheerio from 'cheerio';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { strings } from '../../src/http/i18n.js';
import { signupSnippet } from '../../src/http/public/signup-snippet.js';
import { listSections } from '../../src/publication/sections.js';
import { getSubscriberByEmail } from '../../subscribers/api.js';
import { launchChromium } from '../support/chromium.js';
import { waitFor } from '../support/wait.js';
import { startWebHarness, type WebHarness } from './support.js';

const RATE = 3;
let h: WebHarness;
let browser: Browser;
let gazette: string;
let site: Server;
let siteUrl: string;

beforeAll(async () => {
  h = await startWebHarness({ SUBSCRIBE_RATE_PER_MINUTE: String(RATE) });
  gazette = await h.serve();
  const snippet = signupSnippet({ publicUrl: gazette, locale: 'en', sections: await listSections(h.ctx.db) });
  // The association's own site: another origin (localhost, not 127.0.0.1, and another port),
  // with a policy that allows no script and no style at all, and forms only to Gazette.
  site = createServer((_req, res) => {
    res.writeHead(200, {
      'content-type': 'text/html; charset=utf-8',
      'content-security-policy': `default-src 'none'; script-src 'none'; style-src 'none'; form-action ${gazette}`,
    });
    res.end(`<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Association</title></head>
<body><h1>Our association</h1>${snippet}</body></html>`);
  });
  await new Promise<void>((resolve) => site.listen(0, '127.0.0.1', resolve));
  siteUrl = `http://localhost:${(site.address() as AddressInfo).port}/`;
  browser = await launchChromium();
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await new Promise((resolve) => site?.close(resolve));
  await h?.close();
});

describe('the signup snippet', () => {
  it('is a plain form for the public /subscribe route, in the chosen language, with every section', async () => {
    const sections = await listSections(h.ctx.db);
    const html = signupSnippet({ publicUrl: 'https://news.example.org/', locale: 'zh-CN', sections });
    const $ = cheerio.load(html);
    expect($('form').attr('action')).toBe('https://news.example.org/subscribe');
    expect($('form').attr('method')).toBe('post');
    expect($('input[name="locale"]').val()).toBe('zh-CN');
    expect($('input[name="email"]').attr('type')).toBe('email');
    expect(
      $('input[name="sections"]')
        .map((_, el) => $(el).val())
        .get(),
    ).toEqual(sections.map((s) => s.key));
    expect($('fieldset label').first().text().trim()).toBe(sections[0]?.names['zh-CN']);
    expect($('button').text()).toBe(strings('zh-CN').subscribeButton);
    expect(html).not.toMatch(/<script|style=|on\w+=/i);
  });

  it('escapes what it prints, and leaves the sections out when asked', () => {
    const html = signupSnippet({
      publicUrl: 'https://news.example.org',
      locale: 'en',
      sections: [{ key: 'a', names: { en: 'News <b>"hot"</b>' } }],
    });
    expect(html).toContain('News &lt;b&gt;&quot;hot&quot;&lt;/b&gt;');
    const none = signupSnippet({
      publicUrl: 'https://x.example',
      locale: 'en',
      sections: [{ key: 'a', names: {} }],
      offerSections: false,
    });
    expect(none).not.toContain('name="sections"');
  });
});

describe('a signup from the association’s site, in Chromium', () => {
  it('posts across origins, lands on Gazette’s page in English and gets a confirmation mail for the chosen section', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    const origins: (string | undefined)[] = [];
    page.on('request', (r) => {
      if (r.method() === 'POST') origins.push(r.headers().origin);
    });
    await page.goto(siteUrl);
    await page.fill('#gazette-signup-email', 'reader@association.example');
    await page.fill('#gazette-signup-name', 'A Reader');
    await page.check('input[name="sections"][value="case-studies"]');
    await Promise.all([page.waitForURL(`${gazette}/subscribe`), page.click('button[type="submit"]')]);
    expect(origins).toEqual([new URL(siteUrl).origin]);
    await expect(page.locator('h1').textContent()).resolves.toBe(strings('en').sentTitle);
    await h.web.background.settle();
    const sub = await waitFor('the pending subscriber', () =>
      getSubscriberByEmail(h.ctx.db, 'reader@association.example'),
    );
    expect(sub).toMatchObject({ status: 'pending', locale: 'en', name: 'A Reader', consent_source: 'form' });
    expect(sub?.sectionKeys).toEqual(['case-studies']);
    const mails = await waitFor('the confirmation mail', async () => {
      const all = await h.mails();
      return all.some((m) => m.to.includes('reader@association.example')) ? all : undefined;
    });
    expect(mails.filter((m) => m.to.includes('reader@association.example'))).toHaveLength(1);
    await context.close();
  });

  it('is held to the per-address rate limit like Gazette’s own form', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    const statuses: number[] = [];
    page.on('response', (r) => {
      if (r.request().method() === 'POST') statuses.push(r.status());
    });
    // One submission was counted above; the limit is RATE a minute.
    for (let i = 1; i <= RATE; i++) {
      await page.goto(siteUrl);
      await page.fill('#gazette-signup-email', `reader${i}@association.example`);
      await Promise.all([page.waitForURL(`${gazette}/subscribe`), page.click('button[type="submit"]')]);
    }
    expect(statuses).toEqual([...Array(RATE - 1).fill(200), 429]);
    await expect(page.locator('h1').textContent()).resolves.toBe(strings('en').rateLimitedTitle);
    await context.close();
  });
});
