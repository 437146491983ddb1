import * as cheerio from 'cheerio';
import { describe, expect, it } from 'vitest';
import { compileVariant } from '../../src/rendering/index.js';
import { sourceLinkText } from '../../src/rendering/source-names.js';
import { joinLines } from '../../src/rendering/text-join.js';
import type { RenderableIssue } from '../../src/rendering/types.js';
import { loadModelIssue, modelIssuePresent } from '../support/model-issue.js';
import { PUBLIC_URL } from './fixtures.js';

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

describe.skipIf(!modelIssuePresent())('text as the reader sees it', () => {
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

describe.skipIf(!modelIssuePresent())('source links in the model issue', () => {
  it('show names and domains, never a raw URL, while the text part keeps the full URLs', async () => {
    const issue = loadModelIssue();
    for (const locale of ['zh-CN', 'en'] as const) {
      const v = await compileVariant(issue, { sectionKeys: ALL, locale, publicUrl: PUBLIC_URL });
      const $ = cheerio.load(v.html);
      const sources = $('a[href^="http"]').filter(
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
