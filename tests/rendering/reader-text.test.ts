import * as cheerio from 'cheerio';
import { describe, expect, it } from 'vitest';
import { firstSentence } from '../../src/rendering/inbox-line.js';
import { compileVariant } from '../../src/rendering/index.js';
import { defaultSubject, localizePeriod } from '../../src/rendering/locale-format.js';
import { sourceLinkText } from '../../src/rendering/source-names.js';
import { joinLines } from '../../src/rendering/text-join.js';
import type { RenderableIssue } from '../../src/rendering/types.js';
import { loadModelIssue } from '../support/model-issue.js';
import { MODEL_DOCUMENT, sharedFixture } from '../support/shared.js';
import { PUBLIC_URL } from './fixtures.js';

const modelDocument = sharedFixture(MODEL_DOCUMENT);

const ALL = ['domestic', 'foreign', 'cases', 'industry'];

/** The model issue with text as an editor types it: single line breaks inside paragraphs. */
function typedIssue(): RenderableIssue {
  const issue = loadModelIssue();
  const first = issue.sections[0]?.items[0];
  if (!first) throw new Error('model issue has no item');
  first.summary =
    '这显示了对利用新型技术手段犯罪进行重点打击的立场。\n（编者按：本条有删节）\n\nThe AI\nAct applies.';
  return { ...issue, intro: '各位委员：\n本期汇集国内外新规。\n\n第二段。' };
}

describe.skipIf(!modelDocument.present)('text as the reader sees it', () => {
  it('joins a line break between CJK characters without a space, Latin words with one', () => {
    expect(joinLines('立场。\n（编者按')).toBe('立场。（编者按');
    expect(joinLines('各位委员： \n  本期')).toBe('各位委员：本期');
    expect(joinLines('The AI\nAct')).toBe('The AI Act');
    expect(joinLines('2025 年\n7 月')).toBe('2025 年7 月');
  });

  it('keeps paragraphs and joins lines inside them, in html and in text', async () => {
    const v = await compileVariant(typedIssue(), {
      sectionKeys: ['domestic'],
      locale: 'zh-CN',
      publicUrl: PUBLIC_URL,
    });
    const $ = cheerio.load(v.html);
    const paragraphs = $('p')
      .map((_, el) => $(el).text())
      .get();
    expect(paragraphs).toContain('各位委员：本期汇集国内外新规。');
    expect(paragraphs).toContain('第二段。');
    expect(paragraphs).toContain('这显示了对利用新型技术手段犯罪进行重点打击的立场。（编者按：本条有删节）');
    expect(paragraphs).toContain('The AI Act applies.');
    expect(v.text).toContain('各位委员：本期汇集国内外新规。\n\n第二段。');
    expect(v.text).toContain('立场。（编者按');
    expect(v.text).not.toMatch(/[。：] （|： 本期/);
  });
});

describe('source links', () => {
  it('name the source and its domain in the reader’s language, else the domain alone', () => {
    const wx = 'https://mp.weixin.qq.com/s?__biz=MzA5&scene=25#wechat_redirect';
    expect(sourceLinkText(wx, 'zh-CN')).toBe('微信公众号 · mp.weixin.qq.com');
    expect(sourceLinkText(wx, 'en')).toBe('WeChat · mp.weixin.qq.com');
    expect(sourceLinkText('https://baijiahao.baidu.com/s?id=1', 'zh-CN')).toBe(
      '百家号 · baijiahao.baidu.com',
    );
    expect(sourceLinkText('https://www.court.gov.cn/zixun/x.html', 'zh-CN')).toBe(
      '最高人民法院 · court.gov.cn',
    );
    expect(sourceLinkText('https://therecord.media/a', 'en')).toBe('therecord.media');
    expect(sourceLinkText('https://example.org/a', 'en', 'Press release')).toBe(
      'Press release · example.org',
    );
    expect(sourceLinkText('https://example.org/a', 'en', 'https://example.org/a')).toBe('example.org');
    expect(sourceLinkText('mailto:editor@example.org', 'en')).toBeNull();
  });
});

describe.skipIf(!modelDocument.present)('source links in the model issue', () => {
  it('show names and domains, never a raw URL, while the text part keeps the full URLs', async () => {
    const issue = loadModelIssue();
    for (const locale of ['zh-CN', 'en'] as const) {
      const v = await compileVariant(issue, { sectionKeys: ALL, locale, publicUrl: PUBLIC_URL });
      const $ = cheerio.load(v.html);
      // The source lines' links (a summary's own links, e.g. kimi.com in item 20, are its text's).
      const sources = $('p.m a[href^="http"]').filter(
        (_, el) => !($(el).attr('href') ?? '').startsWith(PUBLIC_URL),
      );
      const urls = issue.sections.flatMap((s) => s.items.flatMap((i) => i.sources.map((src) => src.url)));
      expect(sources).toHaveLength(urls.length);
      sources.each((_, el) => {
        expect($(el).text()).not.toMatch(/^https?:|\//);
        expect($(el).text().length).toBeLessThan(80);
      });
      expect($('a').text()).toContain(
        locale === 'zh-CN' ? '微信公众号 · mp.weixin.qq.com' : 'WeChat · mp.weixin.qq.com',
      );
      for (const url of urls) expect(v.text).toContain(url);
    }
  });
});

describe.skipIf(!modelDocument.present)('each variant’s language, subject and preheader', () => {
  it('follow the variant’s locale: lang, subject and dates of the English variant are English', async () => {
    const issue = loadModelIssue();
    const en = await compileVariant(issue, { sectionKeys: ALL, locale: 'en', publicUrl: PUBLIC_URL });
    const $ = cheerio.load(en.html);
    expect($('html').attr('lang')).toBe('en');
    expect(en.subject).toBe('数字科技与人工智能每月资讯 (July 2025)');
    expect(en.subject).not.toContain('年');
    expect($('title').text()).toBe(en.subject);
    expect($('h1').next().text()).toContain('July 2025');
    const zh = await compileVariant(issue, { sectionKeys: ALL, locale: 'zh-CN', publicUrl: PUBLIC_URL });
    expect(zh.subject).toBe('数字科技与人工智能每月资讯（2025年7月）');
    expect(cheerio.load(zh.html)('html').attr('lang')).toBe('zh-CN');
    expect(localizePeriod('2025年7月精选', issue, 'en')).toBe('July 2025精选');
    expect(defaultSubject('Digest', '2025-07', 'month', 'en')).toBe('Digest (July 2025)');
  });

  it('hides the preheader without colour tricks and pads it so the snippet stops there', async () => {
    const v = await compileVariant(loadModelIssue(), {
      sectionKeys: ALL,
      locale: 'zh-CN',
      publicUrl: PUBLIC_URL,
    });
    const $ = cheerio.load(v.html);
    const pre = $('.gz-pre');
    expect(pre).toHaveLength(1);
    const style = pre.attr('style') ?? '';
    for (const rule of ['display:none', 'max-height:0', 'opacity:0', 'mso-hide:all'])
      expect(style).toContain(rule);
    expect(style).not.toMatch(/color/);
    // The first element of the body: nothing visible comes before it in the snippet.
    expect($('body').text().trimStart().startsWith(loadModelIssue().preheader)).toBe(true);
    expect(pre.text()).toMatch(/[\u034f\u200c]\u00a0/);
    expect(pre.text().length - loadModelIssue().preheader.length).toBeGreaterThanOrEqual(200);
    expect(v.html).not.toMatch(/color:#ffffff;line-height:1px/);
  });

  it('uses the intro’s first sentence when the issue has no preheader, else the first titles', async () => {
    const issue = {
      ...loadModelIssue(),
      preheader: '',
      intro: '各位委员：\n本期汇集七月的新规。其余从略。\n\n第二段。',
    };
    const v = await compileVariant(issue, { sectionKeys: ALL, locale: 'zh-CN', publicUrl: PUBLIC_URL });
    expect(cheerio.load(v.html)('.gz-pre').text()).toMatch(
      /^各位委员：本期汇集七月的新规。[\u034f\u200c\u00a0]/,
    );
    expect(firstSentence('One. Two.')).toBe('One.');
    const bare = { ...issue, intro: '' };
    const w = await compileVariant(bare, { sectionKeys: ['cases'], locale: 'zh-CN', publicUrl: PUBLIC_URL });
    const titles = issue.sections[2]?.items.map((i) => i.title) ?? [];
    expect(cheerio.load(w.html)('.gz-pre').text()).toContain((titles[0] ?? '').slice(0, 10));
    expect(cheerio.load(w.html)('.gz-pre').text()).not.toContain('在浏览器中查看');
  });
});
