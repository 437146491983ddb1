import type { LocalizedText, Masthead } from '../db/schema.js';
import { httpLink } from '../feeds/canonical-url.js';
import { MODEL_SECTIONS } from '../publication/model-sections.js';
import { hasCjk, joinFragments } from '../rendering/text-join.js';
import { endsSentence, inlineToPlain, looseKey, unescapeFully, unescapeOnce } from './markdown-text.js';

/**
 * Reads the committee's monthly document as it is (reference/sample-issue-2025-07.md): a cover with
 * title, period and masthead, a table of contents (ignored), section headings at any level,
 * numbered item headings, a summary paragraph (内容摘要/内容概要) and a source line (来源).
 * Pure: text in, structure and problems out. Nothing it cannot place is dropped silently.
 */

export interface ParsedSource {
  url: string;
  label?: string;
}

export interface ParsedItem {
  title: string;
  summary: string;
  sources: ParsedSource[];
}

export interface ParsedSection {
  /** The section's key, or null when the heading matched no known section (see problems). */
  key: string | null;
  title: string;
  items: ParsedItem[];
}

export interface ParseProblem {
  line: number;
  message: string;
}

export interface ParsedIssue {
  title: string;
  period: string | null;
  periodKind: 'month' | 'week';
  masthead: Masthead;
  sections: ParsedSection[];
  problems: ParseProblem[];
}

export interface ParseOptions {
  /** Known sections (e.g. the sections table); the model newsletter's four are always known. */
  sections?: { key: string; names: LocalizedText }[];
  /** Overrides the period found on the cover, e.g. "2025-07" or "2025-W30". */
  period?: string;
}

interface Line {
  no: number;
  text: string;
}
type Block = { kind: 'heading'; no: number; level: number; text: string } | { kind: 'para'; lines: Line[] };

const HEADING = /^\s{0,3}(#{1,6})\s+(.*?)\s*#*\s*$/;
const TOC_HEADING = /^(目\s*录|contents|table of contents)$/i;
const NUMBERED = /^(\d{1,3})\s*[.、．)）]\s*(.+)$/u;
const TOC_LINE = /(\.{3,}|…{2,}|·{3,})\s*\d+\s*$/u;
const SUMMARY_LABEL =
  /^\s*(?:\*\*|__)?\s*(内容摘要|内容概要|摘要|概要)\s*(?:\*\*|__)?\s*[:：]\s*(?:\*\*|__)?\s*/u;
// The colon may be missing when the URL follows directly ("来源 <https://…>").
const SOURCE_LABEL =
  /^\s*(?:\*\*|__)?\s*(来源|出处|原文链接|原文|链接|source|sources)\s*(?:\*\*|__)?\s*(?:[:：]|(?=\s*(?:<|\[|https?:\/\/)))\s*(?:\*\*|__)?\s*/iu;
const MONTH_PERIOD = /(\d{4})\s*年\s*(\d{1,2})\s*月/u;
const ISO_MONTH = /\b(\d{4})-(0[1-9]|1[0-2])\b/;
const ISO_WEEK = /\b(\d{4})-W(\d{2})\b/;

const MASTHEAD_LABELS: {
  pattern: RegExp;
  field: 'director' | 'deputyDirectors' | 'editorialBoard' | 'editor';
}[] = [
  { pattern: /^副主任$/u, field: 'deputyDirectors' },
  { pattern: /^主任$/u, field: 'director' },
  { pattern: /^(编委会|编委|编辑委员会)$/u, field: 'editorialBoard' },
  { pattern: /^(本期责任编辑|责任编辑|本期编辑)$/u, field: 'editor' },
];

function toBlocks(text: string): Block[] {
  const lines = text
    .replace(/^\uFEFF/, '')
    .replace(/\r\n?/g, '\n')
    .split('\n');
  const blocks: Block[] = [];
  let para: Line[] | null = null;
  lines.forEach((raw, i) => {
    const no = i + 1;
    const line = raw.replace(/\s+$/, '');
    const heading = HEADING.exec(line);
    if (heading) {
      para = null;
      blocks.push({ kind: 'heading', no, level: heading[1]?.length ?? 1, text: heading[2] ?? '' });
    } else if (!line.trim()) {
      para = null;
    } else {
      if (!para) {
        para = [];
        blocks.push({ kind: 'para', lines: para });
      }
      para.push({ no, text: line.trim() });
    }
  });
  return blocks;
}

function joinLines(lines: Line[]): string {
  return lines.reduce((acc, l) => joinFragments(acc, l.text), '');
}

function sectionMatcher(opts: ParseOptions): (heading: string) => string | null {
  const byName = new Map<string, string>();
  for (const s of [...MODEL_SECTIONS, ...(opts.sections ?? [])]) {
    byName.set(looseKey(s.key), s.key);
    for (const name of Object.values(s.names)) if (name) byName.set(looseKey(name), s.key);
  }
  return (heading) => {
    const bare = heading.replace(/^[一二三四五六七八九十]+\s*[、.．]\s*/u, '');
    return byName.get(looseKey(bare)) ?? null;
  };
}

function periodFrom(text: string): { period: string; kind: 'month' | 'week' } | null {
  const week = ISO_WEEK.exec(text);
  if (week) return { period: `${week[1]}-W${week[2]}`, kind: 'week' };
  const zh = MONTH_PERIOD.exec(text);
  if (zh) {
    const month = Number(zh[2]);
    if (month >= 1 && month <= 12)
      return { period: `${zh[1]}-${String(month).padStart(2, '0')}`, kind: 'month' };
  }
  const iso = ISO_MONTH.exec(text);
  if (iso) return { period: `${iso[1]}-${iso[2]}`, kind: 'month' };
  return null;
}

interface CoverResult {
  title: string;
  period: { period: string; kind: 'month' | 'week' } | null;
  masthead: Masthead;
}

function parseCover(paras: Line[][], problems: ParseProblem[]): CoverResult {
  const masthead: Masthead = {};
  let title = '';
  let period: CoverResult['period'] = null;
  let seen = '';
  let current: (typeof MASTHEAD_LABELS)[number]['field'] | null = null;

  const addValue = (field: NonNullable<typeof current>, value: string) => {
    if (field === 'editor') masthead.editor = masthead.editor ? `${masthead.editor}、${value}` : value;
    else masthead[field] = [...(masthead[field] ?? []), value];
  };
  const addLine = (label: string, value: string) => {
    masthead.lines = [...(masthead.lines ?? []), { label, value }];
  };
  const labelField = (text: string) => MASTHEAD_LABELS.find((l) => l.pattern.test(text))?.field ?? null;

  paras.forEach((lines, index) => {
    const whole = inlineToPlain(joinLines(lines));
    if (index === 0) {
      title = whole;
      seen += looseKey(whole);
      return;
    }
    if (index === 1 && !hasCjk(whole) && !periodFrom(whole)) {
      // The English subtitle under the Chinese title.
      addLine('subtitle', whole);
      seen += looseKey(whole);
      return;
    }
    for (const line of lines) {
      const text = inlineToPlain(line.text).trim();
      const asLabel = labelField(text);
      if (asLabel) {
        current = asLabel;
        if (asLabel !== 'editor') masthead[asLabel] ??= [];
        continue;
      }
      const labelled = /^([^:：]{1,20})[:：]\s*(.+)$/u.exec(text);
      if (labelled) {
        const field = labelField((labelled[1] ?? '').trim());
        if (field) addValue(field, (labelled[2] ?? '').trim());
        else addLine((labelled[1] ?? '').trim(), (labelled[2] ?? '').trim());
        current = null;
        continue;
      }
      if (current) {
        addValue(current, text);
        continue;
      }
      const p = periodFrom(text);
      if (p && !period) {
        period = p;
        seen += looseKey(text);
        continue;
      }
      if (/(委员会|协会|committee)$/iu.test(text) && !masthead.committee) {
        masthead.committee = text;
        seen += looseKey(text);
        continue;
      }
      // The PDF repeats the title page (committee, "每月资讯", period) in a second layout.
      if (looseKey(text) && seen.includes(looseKey(text))) continue;
      problems.push({ line: line.no, message: `cover text not recognised: "${text.slice(0, 60)}"` });
    }
  });
  return { title, period, masthead };
}

interface RawToken {
  start: number;
  end: number;
  url: string;
  label?: string;
  kind: 'link' | 'autolink' | 'bare';
}

const SOURCE_TOKEN =
  /\[((?:[^\]\\]|\\.)*)\]\(\s*(<[^>]*>|(?:[^()\s]|\([^()\s]*\))*)\s*(?:"[^"]*")?\)|<((?:https?|ftp):\/\/[^>\s]+)>|(https?:\/\/[^\s<>、，]+)/giu;
const SEPARATOR = /^(\/\/|、|\||,|，|;|；|or|或)$/iu;

function trimBareUrl(url: string): string {
  let out = url;
  while (/[.,;:。，；）)\]]$/u.test(out)) {
    const last = out.at(-1);
    if ((last === ')' && out.split('(').length > out.split(')').length - 1) || last === undefined) break;
    out = out.slice(0, -1);
  }
  return out;
}

/**
 * Reads the URLs of a source line. Separators may be //, 、 or spaces; `[or](#)` style artifacts are
 * dropped; a URL cut at a line end and continued as a link on the next line is repaired.
 */
export function parseSources(text: string, firstLine: number, problems: ParseProblem[]): ParsedSource[] {
  const tokens: RawToken[] = [];
  for (const m of text.matchAll(SOURCE_TOKEN)) {
    const start = m.index ?? 0;
    const end = start + m[0].length;
    if (m[2] !== undefined) {
      const href = unescapeOnce(m[2].replace(/^<|>$/g, '').trim());
      const label = unescapeFully(m[1] ?? '').trim();
      tokens.push({ start, end, url: href, label, kind: 'link' });
    } else if (m[3] !== undefined) {
      tokens.push({ start, end, url: unescapeOnce(m[3]), kind: 'autolink' });
    } else if (m[4] !== undefined) {
      const url = trimBareUrl(unescapeOnce(m[4]));
      tokens.push({ start, end: start + m[4].length - (m[4].length - url.length), url, kind: 'bare' });
    }
  }
  const lineAt = (offset: number) => firstLine + (text.slice(0, offset).match(/\n/g)?.length ?? 0);
  const out: ParsedSource[] = [];
  let cursor = 0;
  let pendingLabel: string | undefined;
  let previous: RawToken | undefined;
  for (const token of tokens) {
    const gap = text.slice(cursor, token.start);
    const gapText = gap.trim();
    const lineBreakOnly = gapText === '' && gap.includes('\n');
    cursor = token.end;
    if (gapText && !SEPARATOR.test(gapText)) {
      const words = gapText.split(/\s+/).filter((w) => !SEPARATOR.test(w));
      if (words.length) pendingLabel = words.join(' ').replace(/[:：]$/u, '');
    }
    // Artifacts of the PDF conversion: links to nowhere, e.g. [or](#).
    if (token.kind === 'link' && (token.url === '' || token.url.startsWith('#'))) continue;
    if (!httpLink(token.url)) {
      problems.push({ line: lineAt(token.start), message: `source is not a web address: "${token.url}"` });
      continue;
    }
    const last = out.at(-1);
    if (
      last &&
      previous &&
      previous.kind !== 'link' &&
      lineBreakOnly &&
      token.url !== last.url &&
      token.url.startsWith(last.url)
    ) {
      // A URL split across lines: the first half as an autolink, the rest as a link to the whole.
      last.url = token.url;
      previous = token;
      continue;
    }
    const label =
      token.label && token.label !== token.url && !/^https?:\/\//i.test(token.label)
        ? token.label
        : pendingLabel;
    out.push(label ? { url: token.url, label } : { url: token.url });
    pendingLabel = undefined;
    previous = token;
  }
  const tail = text.slice(cursor).trim();
  if (tail && !SEPARATOR.test(tail)) {
    const lastOut = out.at(-1);
    if (
      lastOut &&
      previous &&
      previous.kind !== 'link' &&
      !/\s/.test(tail) &&
      text.slice(cursor).startsWith('\n')
    ) {
      lastOut.url += tail; // a bare URL wrapped at the line end
    } else {
      problems.push({
        line: lineAt(cursor),
        message: `text in the source line not understood: "${tail.slice(0, 60)}"`,
      });
    }
  } else if (pendingLabel) {
    problems.push({ line: firstLine, message: `source label without a URL: "${pendingLabel}"` });
  }
  return out;
}

/** Joins paragraphs that a page break cut mid-sentence. */
function joinCutParagraphs(paragraphs: string[]): string[] {
  const out: string[] = [];
  for (const p of paragraphs) {
    const text = p.trim();
    if (!text) continue;
    const last = out.at(-1);
    if (last !== undefined && !endsSentence(last)) out[out.length - 1] = joinFragments(last, text);
    else out.push(text);
  }
  return out;
}

interface ItemBuilder {
  line: number;
  title: string;
  phase: 'summary' | 'sources';
  paragraphs: string[];
  sourceText: string;
  sourceLine: number;
}

export function parseIssueMarkdown(text: string, opts: ParseOptions = {}): ParsedIssue {
  const problems: ParseProblem[] = [];
  const blocks = toBlocks(text);
  const sectionKeyOf = sectionMatcher(opts);

  const firstHeading = blocks.findIndex((b) => b.kind === 'heading');
  const coverBlocks = (firstHeading < 0 ? blocks : blocks.slice(0, firstHeading)).filter(
    (b): b is Extract<Block, { kind: 'para' }> => b.kind === 'para',
  );
  const cover = parseCover(
    coverBlocks.map((b) => b.lines),
    problems,
  );

  const sections: ParsedSection[] = [];
  let section: ParsedSection | null = null;
  let item: ItemBuilder | null = null;
  let inToc = false;

  const finishItem = () => {
    if (!item || !section) return;
    const summary = joinCutParagraphs(item.paragraphs.map(inlineToPlain)).join('\n\n');
    const sources = item.sourceText ? parseSources(item.sourceText, item.sourceLine, problems) : [];
    section.items.push({ title: item.title, summary, sources });
    item = null;
  };

  for (const block of firstHeading < 0 ? [] : blocks.slice(firstHeading)) {
    if (block.kind === 'heading') {
      const heading = inlineToPlain(block.text).trim();
      if (TOC_HEADING.test(heading)) {
        finishItem();
        inToc = true;
        continue;
      }
      const numbered = NUMBERED.exec(heading);
      if (numbered) {
        inToc = false;
        finishItem();
        if (!section) {
          problems.push({ line: block.no, message: `item "${heading}" comes before any section heading` });
          section = { key: null, title: '', items: [] };
          sections.push(section);
        }
        item = {
          line: block.no,
          title: (numbered[2] ?? '').trim(),
          phase: 'summary',
          paragraphs: [],
          sourceText: '',
          sourceLine: block.no,
        };
        continue;
      }
      inToc = false;
      finishItem();
      const key = sectionKeyOf(heading);
      if (!key) {
        problems.push({
          line: block.no,
          message: `heading "${heading}" is not a known section; add a section with this name or rename the heading`,
        });
      }
      section = { key, title: heading, items: [] };
      sections.push(section);
      continue;
    }

    const first = block.lines[0];
    if (!first) continue;
    if (inToc || block.lines.every((l) => TOC_LINE.test(l.text))) continue;
    if (!item) {
      problems.push({
        line: first.no,
        message: `text outside any item: "${inlineToPlain(joinLines(block.lines)).slice(0, 60)}"`,
      });
      continue;
    }
    const raw = block.lines.map((l) => l.text).join('\n');
    const sourceLabel = SOURCE_LABEL.exec(raw);
    if (sourceLabel) {
      item.phase = 'sources';
      item.sourceLine = first.no;
      item.sourceText += (item.sourceText ? '\n' : '') + raw.slice(sourceLabel[0].length);
      continue;
    }
    if (item.phase === 'sources') {
      // After the source line only the rest of a split URL may follow.
      if (/https?:\/\/|\]\(/.test(raw)) {
        item.sourceText += `\n${raw}`;
      } else {
        problems.push({
          line: first.no,
          message: `text after the sources of "${item.title}" was not placed`,
        });
      }
      continue;
    }
    const summaryLabel = SUMMARY_LABEL.exec(raw);
    const body = summaryLabel ? block.lines.slice() : block.lines;
    let paragraph = joinLines(body);
    if (summaryLabel) paragraph = joinLines(block.lines).replace(SUMMARY_LABEL, '');
    item.paragraphs.push(paragraph);
  }
  finishItem();

  let period = cover.period;
  if (opts.period) {
    const given = periodFrom(opts.period);
    if (!given) throw new Error(`Period "${opts.period}" is not YYYY-MM or YYYY-Www`);
    period = given;
  }
  if (!period)
    problems.push({ line: 1, message: 'no period found on the cover; pass one (e.g. --period 2025-07)' });

  return {
    title: cover.title,
    period: period?.period ?? null,
    periodKind: period?.kind ?? 'month',
    masthead: cover.masthead,
    sections,
    problems,
  };
}
