import * as cheerio from 'cheerio';
import { describe, expect, it } from 'vitest';
import { compileVariant } from '../../src/rendering/index.js';
import { joinLines } from '../../src/rendering/text-join.js';
import type { RenderableIssue } from '../../src/rendering/types.js';
import { loadModelIssue, modelIssuePresent } from '../support/model-issue.js';
import { PUBLIC_URL } from './fixtures.js';

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
