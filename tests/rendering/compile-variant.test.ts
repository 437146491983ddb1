import * as cheerio from 'cheerio';
import { beforeAll, describe, expect, it } from 'vitest';
import { escapeHtml } from '../../src/rendering/escape.js';
import {
  allSectionCombinations,
  type CompiledVariant,
  compileTokens,
  compileVariant,
  escapeTokenValue,
  NoSectionsToRenderError,
  planVariant,
  sectionsWithItems,
  tokenSegments,
  variantKey,
} from '../../src/rendering/index.js';
import type { RenderableIssue } from '../../src/rendering/types.js';
import { loadModelIssue } from '../support/model-issue.js';
import { MODEL_DOCUMENT, sharedFixture } from '../support/shared.js';
import { hostileIssue, PUBLIC_URL, TOKENS } from './fixtures.js';

const modelDocument = sharedFixture(MODEL_DOCUMENT);
const ALL = ['domestic', 'foreign', 'cases', 'industry'];
let model: RenderableIssue;
const variants = new Map<string, CompiledVariant>();

async function variant(keys: string[], locale: 'zh-CN' | 'en' = 'zh-CN'): Promise<CompiledVariant> {
  const k = variantKey(keys, locale);
  let v = variants.get(k);
  if (!v) {
    v = await compileVariant(model, { sectionKeys: keys, locale, publicUrl: PUBLIC_URL });
    variants.set(k, v);
  }
  return v;
}

beforeAll(() => {
  if (modelDocument.present) model = loadModelIssue();
});

describe.skipIf(!modelDocument.present)('the model issue loader (test support)', () => {
  it('finds 4 sections and 27 items with summaries and sources', () => {
    expect(model.sections.map((s) => s.key)).toEqual(ALL);
    expect(model.sections.map((s) => s.items.length)).toEqual([2, 8, 6, 11]);
    for (const item of model.sections.flatMap((s) => s.items)) {
      expect(item.summary.length).toBeGreaterThan(50);
      expect(item.sources.length).toBeGreaterThan(0);
    }
  });
});

describe.skipIf(!modelDocument.present)('variant keys and planning', () => {
  it('keys a variant by its sorted sections and locale', () => {
    expect(variantKey(['industry', 'cases'], 'zh-CN')).toBe(variantKey(['cases', 'industry'], 'zh-CN'));
    expect(variantKey(['cases'], 'zh-CN')).not.toBe(variantKey(['cases'], 'en'));
  });

  it('leaves out empty sections and reports a subscriber whose chosen sections are all empty', () => {
    const issue = hostileIssue();
    expect(sectionsWithItems(issue).map((s) => s.key)).toEqual(['alpha', 'beta']);
    expect(planVariant(issue, ['empty'], 'en')).toMatchObject({ ok: false, reason: 'chosen_sections_empty' });
    expect(planVariant(issue, [], 'en')).toMatchObject({ ok: false, reason: 'no_sections_chosen' });
    const plan = planVariant(issue, ['beta', 'empty', 'alpha', 'nope'], 'en');
    expect(plan).toMatchObject({ ok: true, sectionKeys: ['alpha', 'beta'], unknownKeys: ['nope'] });
    expect(plan.ok && plan.variantKey).toBe(variantKey(['alpha', 'beta'], 'en'));
  });

  it('refuses to compile a variant with nothing in it', async () => {
    await expect(
      compileVariant(hostileIssue(), { sectionKeys: ['empty'], locale: 'en', publicUrl: PUBLIC_URL }),
    ).rejects.toBeInstanceOf(NoSectionsToRenderError);
  });

  it('counts 15 combinations for the model issue', () => {
    expect(allSectionCombinations(model)).toHaveLength(15);
  });
});

describe.skipIf(!modelDocument.present)('compiled html structure', () => {
  for (const keys of [ALL, ['industry', 'domestic'], ['cases'], ['foreign', 'cases', 'industry']]) {
    it(`has exactly the sections ${keys.join('+')} in issue order, each with its items`, async () => {
      const v = await variant(keys);
      const expected = ALL.filter((k) => keys.includes(k));
      expect(v.sectionKeys).toEqual(expected);
      const $ = cheerio.load(v.html);
      const ids = $('h2[id^="sec-"]')
        .map((_, el) => $(el).attr('id'))
        .get();
      expect(ids).toEqual(expected.map((k) => `sec-${k}`));
      const itemCount = model.sections
        .filter((s) => keys.includes(s.key))
        .reduce((n, s) => n + s.items.length, 0);
      expect($('h3[id^="item-"]')).toHaveLength(itemCount);
      const headings = $('h2').text() + $('#toc').parent().text();
      for (const key of ALL.filter((k) => !keys.includes(k))) {
        const name = model.sections.find((s) => s.key === key)?.names['zh-CN'] as string;
        expect(headings).not.toContain(name);
      }
    });
  }

  it('links every table-of-contents entry to a section or item in the message', async () => {
    const v = await variant(ALL);
    const $ = cheerio.load(v.html);
    const tocLinks = $('#toc')
      .parent()
      .find('a[href^="#"]')
      .map((_, el) => $(el).attr('href'))
      .get();
    expect(tocLinks.length).toBe(4 + 27);
    // Gmail, Yahoo and Samsung Mail follow only <a name>; browsers and Apple Mail the id.
    for (const href of [
      ...tocLinks,
      ...$('a[href="#toc"]')
        .map((_, el) => $(el).attr('href'))
        .get(),
    ]) {
      expect($(`[id="${href.slice(1)}"]`), href).toHaveLength(1);
      expect($(`a[name="${href.slice(1)}"]`), href).toHaveLength(1);
    }
    expect($('a[href="#toc"]')).toHaveLength(4);
    expect(tocLinks.filter((h) => h.startsWith('#sec-'))).toEqual(ALL.map((k) => `#sec-${k}`));
  });

  it('links each item to its sources, with the item titles numbered per section', async () => {
    const v = await variant(['foreign']);
    const $ = cheerio.load(v.html);
    const section = model.sections[1];
    const hrefs = $('a[href^="http"]')
      .map((_, el) => $(el).attr('href'))
      .get();
    for (const item of section?.items ?? []) for (const s of item.sources) expect(hrefs).toContain(s.url);
    expect($('h3').first().text()).toBe(`1. ${section?.items[0]?.title}`);
    expect($('h3').last().text()).toBe(`8. ${section?.items[7]?.title}`);
  });

  it('sets lang, dir, the preheader, the CJK font stack and the dates in the issue locale', async () => {
    const v = await variant(ALL);
    const $ = cheerio.load(v.html);
    expect($('html').attr('lang')).toBe('zh-CN');
    expect($('html').attr('dir')).toBe('ltr');
    expect(v.html).toContain(model.preheader);
    expect($('h1').parent().attr('style')).toContain(
      "font-family:-apple-system,'PingFang SC','Hiragino Sans GB','Microsoft YaHei','Noto Sans CJK SC'",
    );
    expect(v.html).toContain('line-break:strict');
    expect(v.html).toContain('prefers-color-scheme:dark');
    expect($('h1').next().text()).toContain('2025年7月');
    const en = await variant(['cases'], 'en');
    expect(cheerio.load(en.html)('h1').next().text()).toContain('July 2025');
    expect(en.html).toContain('Case studies');
    expect(en.text).toContain('Case studies');
  });

  it('keeps full-width punctuation as written', async () => {
    const v = await variant(['domestic']);
    expect(v.html).toContain('《关于办理帮助信息网络犯罪活动等刑事案件有关问题的意见》');
    expect(v.text).toContain('“深度合成”');
  });

  it('reports sizes and keeps the full variant under the 100 KB budget and Gmail clipping', async () => {
    const v = await variant(ALL);
    expect(v.htmlBytes).toBe(Buffer.byteLength(v.html));
    expect(v.textBytes).toBe(Buffer.byteLength(v.text));
    expect(v.htmlBytes).toBeLessThan(100_000);
    expect(v.gmailClipSafe).toBe(true);
    expect(v.warnings).toEqual([]);
  });
});

describe.skipIf(!modelDocument.present)('per-recipient tokens', () => {
  it('contains only the five recipient tokens, and all of them', async () => {
    const v = await variant(ALL);
    const found = new Set([...v.html.matchAll(/\{\{(\w+)\}\}/g)].map((m) => m[1]));
    expect([...found].sort()).toEqual([
      'name',
      'preferencesUrl',
      'trackingToken',
      'unsubscribeUrl',
      'webVersionUrl',
    ]);
    expect(v.html.replace(/\{\{\w+\}\}/g, '')).not.toMatch(/\{\{|\}\}/);
    expect(v.text.replace(/\{\{\w+\}\}/g, '')).not.toMatch(/\{\{|\}\}/);
  });

  it('fills tokens escaped in html and raw in text, leaving no {{ behind', async () => {
    const v = await variant(['cases', 'industry']);
    const { html, text } = compileTokens(v).fill(TOKENS);
    expect(html).not.toContain('{{');
    expect(text).not.toContain('{{');
    const $ = cheerio.load(html);
    expect($('a').filter((_, el) => $(el).attr('href') === TOKENS.unsubscribeUrl)).toHaveLength(1);
    expect($('a').filter((_, el) => $(el).attr('href') === TOKENS.preferencesUrl)).toHaveLength(1);
    expect($('a').filter((_, el) => $(el).attr('href') === TOKENS.webVersionUrl)).toHaveLength(2);
    expect($('img[src$="trk_123.sig"]').attr('src')).toBe(`${PUBLIC_URL}/t/o/trk_123.sig`);
    expect($('p').filter((_, el) => $(el).text() === `${TOKENS.name}，您好：`)).toHaveLength(1);
    expect(html).not.toContain('<Ann>');
    expect(text).toContain(`${TOKENS.name}，您好：`);
    expect(text).toContain(TOKENS.unsubscribeUrl);
  });

  it('splits into segments that splice to the same bytes as the filler', async () => {
    const v = await variant(['domestic']);
    const filled = compileTokens(v).fill(TOKENS);
    const splice = (s: string, part: 'html' | 'text') =>
      tokenSegments(s)
        .map((seg) => (typeof seg === 'string' ? seg : escapeTokenValue(TOKENS[seg.token], part)))
        .join('');
    expect(splice(v.html, 'html')).toBe(filled.html);
    expect(splice(v.text, 'text')).toBe(filled.text);
    expect(tokenSegments(v.html).filter((s) => typeof s !== 'string').length).toBe(6);
  });

  it('escapes a recipient value with the one escaper, whether filled or spliced', async () => {
    const v = await variant(['domestic']);
    const hostile = { ...TOKENS, name: 'A=B `x` {{name}} <i>&' };
    const filled = compileTokens(v).fill(hostile);
    expect(filled.html).toContain(escapeHtml(hostile.name));
    expect(escapeHtml(hostile.name)).toBe('A&#61;B &#96;x&#96; &#123;&#123;name&#125;&#125; &lt;i&gt;&amp;');
    expect(escapeTokenValue(hostile.name, 'html')).toBe(escapeHtml(hostile.name));
    expect(filled.text).toContain(hostile.name);
  });
});

describe('hostile content', () => {
  it('escapes braces and HTML in content so nothing reads as a token or markup', async () => {
    const v = await compileVariant(hostileIssue(), {
      sectionKeys: ['alpha', 'beta', 'empty'],
      locale: 'en',
      publicUrl: PUBLIC_URL,
    });
    expect(v.sectionKeys).toEqual(['alpha', 'beta']);
    // Only the template's own tokens: content {{name}} etc. were escaped.
    expect(tokenSegments(v.html).filter((s) => typeof s !== 'string')).toHaveLength(6);
    expect(tokenSegments(v.text).filter((s) => typeof s !== 'string')).toHaveLength(4);
    expect(v.html.replace(/\{\{\w+\}\}/g, '')).not.toMatch(/\{\{|\}\}/);
    expect(v.text.replace(/\{\{\w+\}\}/g, '')).not.toMatch(/\{\{|\}\}/);
    const { html, text } = compileTokens(v).fill(TOKENS);
    const $ = cheerio.load(html);
    expect($('script')).toHaveLength(0);
    expect($('img[onerror]')).toHaveLength(0);
    expect($('a[href^="javascript"]')).toHaveLength(0);
    expect($('h1').text()).toBe('Weekly {{name}} digest <script>alert(1)</script>');
    expect($('h3').first().text()).toBe('1. First <img src=x onerror=alert(1)> {{preferencesUrl}}');
    expect(html).toContain('Body with &#125;&#125; and &#123;&#123; and');
    expect($('a[href="https://example.org/a?x=1&y=2"]').text()).toBe('Example {{name}} · example.org');
    expect($('a[href="https://example.org/{{trackingToken}}"]')).toHaveLength(1);
    expect($('h2#sec-empty')).toHaveLength(0);
    // Text reads the same with the braces kept apart by zero-width spaces.
    expect(text.replace(/\u200b/g, '')).toContain('Body with }} and {{ and {{{raw}}} and a \\ backslash.');
    expect(text).toContain('https://example.org/%7B%7BtrackingToken%7D%7D');
    expect(v.subject).toBe('The {{unsubscribeUrl}} issue');
  });
});
