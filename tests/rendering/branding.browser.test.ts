import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compileTokens, compileVariant } from '../../src/rendering/index.js';
import type { RenderableIssue } from '../../src/rendering/types.js';
import { artifactsDir, launchChromium } from '../support/chromium.js';
import { loadModelIssue } from '../support/model-issue.js';
import { MODEL_DOCUMENT, sharedFixture } from '../support/shared.js';
import { PUBLIC_URL, TOKENS } from './fixtures.js';

/**
 * The branded model issue in Chromium at a phone's and the email's width, with images blocked
 * (the default in many Chinese and desktop clients) and with them shown: the logo's alt text
 * stands in its reserved box and nothing below it moves.
 */
const ARTIFACTS = artifactsDir('rendering');
const LOGO = 'https://cdn.example/committee-logo.png';
const SVG = `<svg xmlns="http://www.w3.org/2000/svg" width="180" height="48"><rect width="180" height="48" fill="#b3261e"/></svg>`;

let browser: Browser;
const html = new Map<string, string>();

const modelDocument = sharedFixture(MODEL_DOCUMENT);

beforeAll(async () => {
  if (!modelDocument.present) return;
  const issue: RenderableIssue = loadModelIssue();
  issue.masthead.subtitle = 'Digital Technology and Artificial Intelligence';
  issue.publication.branding = {
    logoUrl: LOGO,
    logoAlt: '数字科技与人工智能专业委员会',
    logoWidth: 180,
    logoHeight: 48,
    accentColor: '#b3261e',
    contact: 'ai-committee@lawyers.example',
  };
  for (const locale of ['zh-CN', 'en'] as const) {
    const compiled = await compileVariant(issue, {
      sectionKeys: issue.sections.map((s) => s.key),
      locale,
      publicUrl: PUBLIC_URL,
    });
    html.set(locale, compileTokens(compiled).fill({ ...TOKENS, name: '张律师' }).html);
  }
  browser = await launchChromium();
}, 60_000);

afterAll(async () => {
  await browser?.close();
});

async function open(width: number, locale: string, images: boolean): Promise<Page> {
  const page = await browser.newPage({ viewport: { width, height: 900 } });
  await page.route('**/*', (route) =>
    images && route.request().url() === LOGO
      ? route.fulfill({ status: 200, contentType: 'image/svg+xml', body: SVG })
      : route.abort(),
  );
  await page.setContent(html.get(locale) as string, { waitUntil: 'load' });
  return page;
}

const measure = (page: Page) =>
  page.evaluate((logo) => {
    const img = document.querySelector(`img[src="${logo}"]`) as HTMLImageElement;
    const box = img.getBoundingClientRect();
    const h1 = (document.querySelector('h1') as HTMLElement).getBoundingClientRect();
    const link = document.querySelector('.gz a') as HTMLElement;
    return {
      alt: img.alt,
      loaded: img.naturalWidth > 0,
      box: { width: Math.round(box.width), height: Math.round(box.height) },
      h1Top: Math.round(h1.top),
      scrollWidth: document.documentElement.scrollWidth,
      linkColour: getComputedStyle(link).color,
      text: document.body.innerText,
    };
  }, LOGO);

describe.skipIf(!modelDocument.present)('the branded email in Chromium', () => {
  for (const width of [375, 600]) {
    for (const locale of ['zh-CN', 'en']) {
      it(`${locale} at ${width}px: alt text in the logo's box when images are blocked, the layout unchanged when shown`, async () => {
        const blocked = await open(width, locale, false);
        const b = await measure(blocked);
        await blocked.screenshot({ path: path.join(ARTIFACTS, `branded-${locale}-${width}-blocked.png`) });
        await blocked.close();
        const shown = await open(width, locale, true);
        const s = await measure(shown);
        await shown.screenshot({ path: path.join(ARTIFACTS, `branded-${locale}-${width}-shown.png`) });
        await shown.close();

        expect(b.loaded).toBe(false);
        expect(s.loaded).toBe(true);
        expect(b.alt).toBe('数字科技与人工智能专业委员会');
        expect(b.box).toEqual({ width: 180, height: 48 });
        expect(s.box).toEqual({ width: 180, height: 48 });
        expect(b.h1Top).toBe(s.h1Top);
        expect(b.scrollWidth).toBeLessThanOrEqual(width);
        expect(s.scrollWidth).toBeLessThanOrEqual(width);
        expect(b.linkColour).toBe('rgb(179, 38, 30)');
        expect(b.text).toContain('Digital Technology and Artificial Intelligence');
        expect(b.text).not.toContain('subtitle');
        expect(b.text).toContain('ai-committee@lawyers.example');
        expect(b.text).toContain(
          locale === 'en'
            ? 'Contact: ai-committee@lawyers.example'
            : '联系方式：ai-committee@lawyers.example',
        );
      }, 90_000);
    }
  }
});
