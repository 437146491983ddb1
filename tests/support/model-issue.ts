import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { RenderableIssue, RenderableItem, RenderableSection } from '../../src/rendering/types.js';

/**
 * Test support only (not the product importer): turns the model newsletter's Markdown into a
 * RenderableIssue so rendering tests and the benchmark have realistic Chinese content.
 */
export const projectRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const MODEL_ISSUE_PATH = path.resolve(projectRoot, '../shared/reference/sample-issue-2025-07.md');

const SECTION_KEYS: Record<string, { key: string; en: string }> = {
  新规概览: { key: 'domestic', en: 'Domestic regulation' },
  域外规范: { key: 'foreign', en: 'Foreign regulation' },
  案例研讨: { key: 'cases', en: 'Case studies' },
  行业动态: { key: 'industry', en: 'Industry news' },
};

const HEADING = /^#{1,6}\s+(.*?)\s*$/;
const NUMBERED = /^(\d+)\.\s+(.*)$/;
const SUMMARY_LABEL = /^(?:\*\*)?内容(?:摘要|概要)\s*[:：]\s*(?:\*\*)?\s*/;
const SOURCE_LINE = /^(?:\*\*)?来源\s*[:：]/;
// Link targets: <url> and ](url) with one level of nested parentheses (…STU(2025)774095).
const URL_PATTERNS = [/<(https?:\/\/[^>\s]+)>/g, /\]\(((?:https?:\/\/)(?:[^()\s]|\([^()\s]*\))+)\)/g];

function extractUrls(text: string): string[] {
  const found: { at: number; url: string }[] = [];
  for (const re of URL_PATTERNS) {
    for (const m of text.matchAll(re)) found.push({ at: m.index ?? 0, url: m[1] as string });
  }
  found.sort((a, b) => a.at - b.at);
  const urls = [...new Set(found.map((f) => f.url))];
  // A URL cut by a page break appears once truncated; keep only the whole one.
  return urls.filter((u) => !urls.some((other) => other !== u && other.startsWith(u)));
}

export function parseModelIssue(markdown: string): RenderableIssue {
  const lines = markdown.split(/\r?\n/);
  const sections: RenderableSection[] = [];
  let item: RenderableItem | null = null;
  let mode: 'none' | 'summary' | 'sources' = 'none';
  let summaryLines: string[] = [];
  let sourceText = '';
  let nextId = 1;

  const finishItem = () => {
    if (!item) return;
    item.summary = summaryLines
      .join('\n')
      .split(/\n\s*\n/)
      .map((p) => p.replace(/\s*\n\s*/g, ' ').trim())
      .filter(Boolean)
      .join('\n\n');
    item.sources = extractUrls(sourceText).map((url) => ({ url }));
    item = null;
    summaryLines = [];
    sourceText = '';
    mode = 'none';
  };

  for (const raw of lines) {
    const heading = HEADING.exec(raw);
    if (heading) {
      const text = (heading[1] as string).replace(/\*\*/g, '').trim();
      const section = SECTION_KEYS[text];
      const numbered = NUMBERED.exec(text);
      if (section) {
        finishItem();
        sections.push({ key: section.key, names: { 'zh-CN': text, en: section.en }, items: [] });
        continue;
      }
      if (numbered && sections.length > 0) {
        finishItem();
        item = { id: nextId++, title: (numbered[2] as string).trim(), summary: '', sources: [] };
        sections[sections.length - 1]?.items.push(item);
        continue;
      }
      continue;
    }
    if (!item) continue;
    const line = raw.trim();
    if (SUMMARY_LABEL.test(line)) {
      mode = 'summary';
      summaryLines.push(line.replace(SUMMARY_LABEL, ''));
    } else if (SOURCE_LINE.test(line)) {
      mode = 'sources';
      sourceText += `${line}\n`;
    } else if (mode === 'summary') {
      summaryLines.push(line);
    } else if (mode === 'sources') {
      sourceText += `${line}\n`;
    }
  }
  finishItem();

  return {
    id: 1,
    revision: 1,
    period: '2025-07',
    periodKind: 'month',
    title: '数字科技与人工智能每月资讯',
    subject: '数字科技与人工智能每月资讯（2025年7月）',
    preheader:
      '本期：工信领域人工智能安全治理标准体系发布、欧盟通用人工智能实践准则、AI 虚假信息案例等 27 条资讯',
    intro: '本期汇集 2025 年 7 月国内外人工智能与数字科技领域的新规、域外规范、典型案例与行业动态。',
    locale: 'zh-CN',
    masthead: {
      committee: '上海市律师协会数字科技与人工智能专业委员会',
      director: ['张逸瑞（北京市金杜律师事务所上海分所）'],
      deputyDirectors: ['吴卫明（上海市锦天城律师事务所）', '徐凯（上海市君悦律师事务所）'],
      editor: '殷雨薇',
    },
    trackingEnabled: true,
    publication: {
      name: '数字科技与人工智能专业委员会',
      timeZone: 'Asia/Shanghai',
      postalAddress: '上海市律师协会 · 上海市肇嘉浜路 789 号',
      branding: { primaryColor: '#1f4e79', accentColor: '#b3261e' },
      listId: 'monthly.ai-committee.example.org',
    },
    sections,
  };
}

export function loadModelIssue(): RenderableIssue {
  return parseModelIssue(readFileSync(MODEL_ISSUE_PATH, 'utf8'));
}
