import stringWidth from 'string-width';

/** Plain-text line length in display columns (a CJK character counts two). */
export const TEXT_COLUMNS = 76;

// Kinsoku: characters that must not start a line, and ones that must not end it.
const NO_LINE_START = new Set('，。、；：！？）」』》〉】〕”’…—·,.;:!?)]}%'.split(''));
const NO_LINE_END = new Set('（「『《〈【〔“‘([{'.split(''));
/** URLs and per-recipient tokens are never split: they may overflow a line instead. */
const UNBREAKABLE = /^(?:(?:https?|mailto):\/\/?[^\s<>"]+|\{\{\w+\}\})/;

// CJK ideographs, kana, hangul, CJK and full-width punctuation: a line may break between any two.
const CJK = '\u1100-\u11ff\u2e80-\u9fff\ua960-\ua97f\uac00-\ud7ff\uf900-\ufaff\ufe30-\ufe4f\uff00-\uffef';
const UNIT_RE = new RegExp(
  `((?:https?|mailto):\\/\\/?[^\\s<>"]+|\\{\\{\\w+\\}\\}|\\s+|[${CJK}]|[^\\s${CJK}]+)`,
  'gu',
);

const charWidths = new Map<string, number>();
/** Display width, cached per character (string-width per call is far too slow for a whole issue). */
function width(s: string): number {
  let w = 0;
  for (const ch of s) {
    const c = ch.codePointAt(0) as number;
    if (c >= 0x20 && c < 0x7f) {
      w += 1;
      continue;
    }
    if (c >= 0x1f000 || c === 0x200d) return stringWidth(s); // emoji sequences: measure as a whole
    let cw = charWidths.get(ch);
    if (cw === undefined) {
      cw = stringWidth(ch);
      charWidths.set(ch, cw);
    }
    w += cw;
  }
  return w;
}

/**
 * Units a line may break between (UAX #14 in brief): each CJK character, each Latin word, each
 * URL or token whole; closing punctuation glued to what precedes it and opening punctuation to
 * what follows (kinsoku). Whitespace is its own unit (dropped at line ends).
 */
function breakUnits(text: string): string[] {
  const units: string[] = [];
  for (const m of text.matchAll(UNIT_RE)) {
    const piece = m[0];
    const prev = units[units.length - 1];
    if (prev !== undefined && !/^\s/.test(prev) && !/^\s/.test(piece)) {
      const first = piece[0] ?? '';
      const prevLast = prev[prev.length - 1] ?? '';
      if (NO_LINE_START.has(first) || NO_LINE_END.has(prevLast)) {
        units[units.length - 1] = prev + piece;
        continue;
      }
    }
    units.push(piece);
  }
  return units;
}

function splitLong(unit: string, max: number): string[] {
  // A unit wider than a line (a long Latin word, or punctuation glued into a long run) is split
  // by character.
  if (UNBREAKABLE.test(unit) || width(unit) <= max) return [unit];
  const out: string[] = [];
  let cur = '';
  for (const ch of unit) {
    if (width(cur + ch) > max && cur) {
      out.push(cur);
      cur = '';
    }
    cur += ch;
  }
  if (cur) out.push(cur);
  return out;
}

export interface WrapOptions {
  /** Spaces before every line. */
  indent?: number;
  /** Printed after the indent on the first line; later lines hang under the text. */
  prefix?: string;
  columns?: number;
}

/** Wraps one paragraph by display width. Returns lines joined by "\n", no trailing newline. */
export function wrapText(text: string, opts: WrapOptions = {}): string {
  const columns = opts.columns ?? TEXT_COLUMNS;
  const prefix = opts.prefix ?? '';
  const indent = ' '.repeat(opts.indent ?? 0);
  const hang = indent + ' '.repeat(width(prefix));
  const flat = text.replace(/\s+/g, ' ').trim();
  const lines: string[] = [];
  let line = indent + prefix;
  let lineStart = line;
  let lineWidth = width(line);
  const max = columns - width(hang);
  for (const unit of breakUnits(flat)) {
    if (/^\s+$/.test(unit)) {
      if (line !== lineStart) {
        line += ' ';
        lineWidth += 1;
      }
      continue;
    }
    for (const part of splitLong(unit, Math.max(max, 8))) {
      const w = width(part);
      if (lineWidth + w > columns && line !== lineStart) {
        lines.push(line.trimEnd());
        line = hang;
        lineStart = hang;
        lineWidth = width(hang);
      }
      line += part;
      lineWidth += w;
    }
  }
  lines.push(line.trimEnd());
  return lines.join('\n');
}

export function displayWidth(s: string): number {
  return width(s);
}
