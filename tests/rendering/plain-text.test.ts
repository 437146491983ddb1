import stringWidth from 'string-width';
import { beforeAll, describe, expect, it } from 'vitest';
import type { CompiledVariant } from '../../src/rendering/index.js';
import { compileTokens, compileVariant, TEXT_COLUMNS, wrapText } from '../../src/rendering/index.js';
import { loadModelIssue } from '../support/model-issue.js';
import { MODEL_DOCUMENT, sharedFixture } from '../support/shared.js';
import { PUBLIC_URL, TOKENS } from './fixtures.js';

const URL_RE = /(?:https?:\/\/|mailto:)\S+/;

/** A line may pass 76 columns only when it is an unbreakable URL (with its indent/label/number). */
function overlong(text: string): string[] {
  return text.split('\n').filter((line) => {
    if (stringWidth(line) <= TEXT_COLUMNS) return false;
    const words = line.trim().split(/\s+/);
    return !(words.length <= 2 && URL_RE.test(words[words.length - 1] ?? ''));
  });
}

describe('plain-text wrapping by display width', () => {
  it('counts a CJK character as two columns and breaks between words, never before closing punctuation', () => {
    const text =
      '这是一个很长的中文段落，用来检验按显示宽度折行：每个汉字占两列，标点不会出现在行首。'.repeat(4);
    const lines = wrapText(text, { columns: 40 }).split('\n');
    expect(lines.length).toBeGreaterThan(4);
    for (const line of lines) {
      expect(stringWidth(line)).toBeLessThanOrEqual(40);
      expect(line).not.toMatch(/^[，。：、]/);
    }
    expect(lines.join('')).toBe(text);
  });

  it('wraps English at spaces and hangs continuation lines under the text after a prefix', () => {
    const lines = wrapText('The quick brown fox jumps over the lazy dog again and again', {
      columns: 24,
      prefix: '10. ',
      indent: 2,
    }).split('\n');
    expect(lines[0]).toBe('  10. The quick brown');
    for (const line of lines.slice(1)) expect(line.startsWith('      ')).toBe(true);
    expect(
      lines
        .map((l) => l.trim())
        .join(' ')
        .replace('10. ', ''),
    ).toBe('The quick brown fox jumps over the lazy dog again and again');
  });

  it('keeps a URL whole even when it is longer than a line', () => {
    const url = `https://example.org/${'a'.repeat(100)}`;
    const out = wrapText(`来源 ${url} 结束`, { columns: 40 });
    expect(out.split('\n')).toContain(url);
  });
});

const modelDocument = sharedFixture(MODEL_DOCUMENT);
describe.skipIf(!modelDocument.present)('the plain-text part of the model issue', () => {
  let full: CompiledVariant;
  beforeAll(async () => {
    const issue = loadModelIssue();
    full = await compileVariant(issue, {
      sectionKeys: issue.sections.map((s) => s.key),
      locale: 'zh-CN',
      publicUrl: PUBLIC_URL,
    });
  });

  it('has no line over 76 columns except unbreakable URLs, before and after filling', () => {
    expect(overlong(full.text)).toEqual([]);
    expect(overlong(compileTokens(full).fill(TOKENS).text)).toEqual([]);
  });

  it('numbers each source link and lists the numbers at the end', () => {
    const list = full.text.slice(full.text.indexOf('\n链接\n'));
    const numbered = [...list.matchAll(/^\[(\d+)\] (https?:\/\/\S+)$/gm)];
    // 30 source URLs, and the link written in item 20's summary ([kimi.com](https://kimi.com)).
    expect(numbered.length).toBe(31);
    expect(numbered.map((m) => m[2])).toContain('https://kimi.com');
    expect(numbered.map((m) => Number(m[1]))).toEqual(numbered.map((_, i) => i + 1));
    expect(numbered[0]?.[2]).toBe(
      'https://mp.weixin.qq.com/s/h5ISBADQKca3KkHVbOcUsA?scene=25#wechat_redirect',
    );
    const refs = [...full.text.matchAll(/^ {3}来源：(.*)$/gm)].map((m) => m[1]);
    expect(refs).toHaveLength(27);
    expect(refs[9]).toBe('[10] [11] [12]');
  });

  it('is built from the issue data: headings, numbered items and summaries, no markup', () => {
    expect(full.text).not.toMatch(/<[a-z]/i);
    expect(full.text).toContain('一、新规概览');
    expect(full.text).toContain('四、行业动态');
    expect(full.text).toMatch(/^11\. 亚马逊推出 Agent 全家桶$/m);
    expect(full.text).toContain('{{unsubscribeUrl}}');
  });
});
