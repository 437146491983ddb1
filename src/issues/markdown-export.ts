import type { Masthead } from '../db/schema.js';
import { legalLine } from '../legal/format.js';
import type { LegalMetadata } from '../legal/types.js';
import type { ParsedIssue, ParsedItem, ParsedSection, ParsedSource } from './markdown-parse.js';
import { plainToInline } from './markdown-text.js';

/** What the exporter needs: the parsed shape without problems, items with their legal metadata. */
export type IssueDocument = Omit<ParsedIssue, 'problems' | 'sections'> & {
  sections: (Omit<ParsedSection, 'items'> & { items: (ParsedItem & { legal?: LegalMetadata })[] })[];
};

function coverPeriodLine(period: string | null, kind: 'month' | 'week'): string | null {
  if (!period) return null;
  const month = /^(\d{4})-(\d{2})$/.exec(period);
  if (kind === 'month' && month) return `每月资讯 ${month[1]} 年 ${Number(month[2])} 月`;
  return `每周资讯 ${period}`;
}

function mastheadLines(m: Masthead): string[] {
  const out: string[] = [];
  const block = (label: string, values: string[] | undefined) => {
    if (values === undefined) return;
    out.push(label, ...values.map(plainToInline));
  };
  block('主任', m.director);
  block('副主任', m.deputyDirectors);
  block('编委会', m.editorialBoard);
  if (m.editor) out.push(`本期责任编辑：${plainToInline(m.editor)}`);
  for (const line of m.lines ?? []) {
    out.push(
      line.label ? `${plainToInline(line.label)}：${plainToInline(line.value)}` : plainToInline(line.value),
    );
  }
  return out;
}

function sourceMarkdown(s: ParsedSource): string {
  const safe = /^[^\s<>]+$/.test(s.url);
  if (s.label) return `[${plainToInline(s.label)}](${safe ? s.url : `<${s.url}>`})`;
  return safe ? `<${s.url}>` : `[${s.url}](<${s.url}>)`;
}

/**
 * Writes an issue in the committee's style (cover, masthead, table of contents, sections, numbered
 * items with 内容摘要 and 来源), so importing the result gives the same issue back.
 */
export function exportIssueMarkdown(doc: IssueDocument): string {
  const paras: string[] = [];
  paras.push(plainToInline(doc.title));
  if (doc.masthead.subtitle) paras.push(plainToInline(doc.masthead.subtitle));
  const periodLine = coverPeriodLine(doc.period, doc.periodKind);
  if (periodLine) paras.push(periodLine);
  if (doc.masthead.committee) paras.push(plainToInline(doc.masthead.committee));
  paras.push(...mastheadLines(doc.masthead));

  paras.push('# 目录');
  for (const section of doc.sections) {
    paras.push(
      [
        plainToInline(section.title),
        ...section.items.map((item, i) => `${i + 1}. ${plainToInline(item.title)}`),
      ].join('\n'),
    );
  }

  for (const section of doc.sections) {
    paras.push(`# ${plainToInline(section.title)}`);
    section.items.forEach((item, i) => {
      paras.push(`## ${i + 1}. ${plainToInline(item.title)}`);
      // The parser skips this line on import: the rules compute it again from the item.
      const legal = item.legal ? legalLine(item.legal, 'zh-CN') : null;
      if (legal) paras.push(`**法律信息：**${plainToInline(legal)}`);
      // The summary is Markdown already (rendering/summary.ts): written as it is.
      const summary = item.summary.split(/\n\s*\n/).filter((p) => p.trim());
      summary.forEach((p, j) => {
        paras.push(j === 0 ? `**内容摘要：**${p.trim()}` : p.trim());
      });
      if (item.sources.length) paras.push(`**来源：**${item.sources.map(sourceMarkdown).join(' // ')}`);
    });
  }
  return `${paras.join('\n\n')}\n`;
}
