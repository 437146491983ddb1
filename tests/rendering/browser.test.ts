import path from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compileTokens, compileVariant } from '../../src/rendering/index.js';
import { artifactsDir, launchChromium } from '../support/chromium.js';
import { loadModelIssue } from '../support/model-issue.js';
import { MODEL_DOCUMENT, sharedFixture } from '../support/shared.js';
import { hostileIssue, PUBLIC_URL, TOKENS } from './fixtures.js';

const ARTIFACTS = artifactsDir('rendering');
const modelDocument = sharedFixture(MODEL_DOCUMENT);

let browser: Browser;
let html: string;

beforeAll(async () => {
  const issue = loadModelIssue();
  const compiled = await compileVariant(issue, {
    sectionKeys: issue.sections.map((s) => s.key),
    locale: 'zh-CN',
    publicUrl: PUBLIC_URL,
  });
  html = compileTokens(compiled).fill({ ...TOKENS, name: '张律师' }).html;
  browser = await launchChromium();
}, 60_000);

afterAll(async () => {
  await browser?.close();
});

describe.skipIf(!modelDocument.present)('the model issue in headless Chromium', () => {
  for (const width of [375, 600]) {
    it(`fits ${width}px without horizontal overflow`, async () => {
      const page = await browser.newPage({ viewport: { width, height: 800 } });
      // Offline: the pixel and any remote image are refused, the layout must not depend on them.
      await page.route('**/*', (route) =>
        route.request().url().startsWith('data:') ? route.continue() : route.abort(),
      );
      await page.setContent(html, { waitUntil: 'load' });
      const m = await page.evaluate(() => ({
        scrollWidth: document.documentElement.scrollWidth,
        bodyScrollWidth: document.body.scrollWidth,
        viewport: window.innerWidth,
        headings: document.querySelectorAll('h2[id^="sec-"]').length,
      }));
      await page.screenshot({ path: path.join(ARTIFACTS, `model-full-${width}.png`), fullPage: false });
      await page.screenshot({ path: path.join(ARTIFACTS, `model-full-${width}-page.png`), fullPage: true });
      expect(m.viewport).toBe(width);
      expect(m.scrollWidth).toBeLessThanOrEqual(width);
      expect(m.bodyScrollWidth).toBeLessThanOrEqual(width);
      expect(m.headings).toBe(4);
      await page.close();
    }, 60_000);
  }

  it('fits an English issue with long words and URLs at 375px', async () => {
    const issue = hostileIssue();
    const item = issue.sections[0]?.items[0];
    if (item) {
      item.summary = `Supercalifragilisticexpialidocious-${'x'.repeat(120)} and more text.\n\nSecond.`;
      item.sources.push({ url: `https://example.org/${'very-long-path-segment/'.repeat(12)}end` });
    }
    const compiled = await compileVariant(issue, {
      sectionKeys: ['alpha', 'beta'],
      locale: 'en',
      publicUrl: PUBLIC_URL,
    });
    const page = await browser.newPage({ viewport: { width: 375, height: 800 } });
    await page.route('**/*', (route) => route.abort());
    await page.setContent(compileTokens(compiled).fill(TOKENS).html, { waitUntil: 'load' });
    const scrollWidth = await page.evaluate(() => document.documentElement.scrollWidth);
    await page.screenshot({ path: path.join(ARTIFACTS, 'english-375-page.png'), fullPage: true });
    expect(scrollWidth).toBeLessThanOrEqual(375);
    await page.close();
  }, 60_000);

  it('uses dark colours when the reader prefers a dark scheme', async () => {
    const page = await browser.newPage({ viewport: { width: 375, height: 800 }, colorScheme: 'dark' });
    await page.route('**/*', (route) => route.abort());
    await page.setContent(html, { waitUntil: 'load' });
    const colours = await page.evaluate(() => ({
      body: getComputedStyle(document.body).backgroundColor,
      text: getComputedStyle(document.querySelector('h3') as Element).color,
    }));
    await page.screenshot({ path: path.join(ARTIFACTS, 'model-full-375-dark.png') });
    expect(colours.body).toBe('rgb(18, 18, 18)');
    expect(colours.text).toBe('rgb(232, 234, 237)');
    await page.close();
  }, 60_000);
});
