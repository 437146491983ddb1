import stringWidth from 'string-width';

/** Plain-text line length in display columns (a CJK character counts two). */
export const TEXT_COLUMNS = 76;

// Kinsoku: characters that must not start a line, and ones that must not end it.
const NO_LINE_START = new Set('，。、；：！？）」』》〉】〕”’…—·,.;:!?)]}%'.split(''));
const NO_LINE_END = new Set('（「『《〈【〔“‘([{'.split(''));
const URL_RE = /(?:https?|mailto):\/\/?[^\s<>"]+|\{\{\w+\}\}/g;

const segmenter = new Intl.Segmenter('zh', { granularity: 'word' });

/**
 * Units a line may break between: Intl.Segmenter words (so CJK runs break between words), with
 * URLs and tokens kept whole, closing punctuation glued to what precedes it and opening
 * punctuation to what follows. Whitespace is its own unit (dropped at line ends).
 */
function breakUnits(text: string): string[] {
  const pieces: string[] = [];
  let last = 0;
  for (const m of text.matchAll(URL_RE)) {
    const at = m.index ?? 0;
    if (at > last) for (const s of segmenter.segment(text.slice(last, at))) pieces.push(s.segment);
    pieces.push(m[0]);
    last = at + m[0].length;
  }
  if (last < text.length) for (const s of segmenter.segment(text.slice(last))) pieces.push(s.segment);

  const units: string[] = [];
  for (const piece of pieces) {
    const prev = units[units.length - 1];
    if (prev !== undefined && !/^\s+$/.test(prev) && !/^\s/.test(piece)) {
      const first = piece[0] ?? '';
      const prevLast = prev[prev.length - 1] ?? '';
      if (NO_LINE_START.has(first) || NO_LINE_END.has(prevLast)) {
        units[units.length - 1] = prev + piece;
        continue;
      }
      // Latin words and numbers next to each other without a space stay together (e.g. "3.8亿").
      if (/[\w.%-]$/.test(prev) && /^[\w.%-]/.test(piece) && !/[\u3000-\u9fff]/.test(prev + piece)) {
        units[units.length - 1] = prev + piece;
        continue;
      }
    }
    units.push(piece);
  }
  return units;
}

function splitLong(unit: string, max: number): string[] {
  // A unit wider than a line (e.g. a long run of CJK the segmenter kept whole) is split by
  // grapheme; URLs and tokens are never split, they may overflow instead.
  if (URL_RE.test(unit) || stringWidth(unit) <= max) {
    URL_RE.lastIndex = 0;
    return [unit];
  }
  URL_RE.lastIndex = 0;
  const out: string[] = [];
  let cur = '';
  for (const ch of unit) {
    if (stringWidth(cur + ch) > max && cur) {
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
  const hang = indent + ' '.repeat(stringWidth(prefix));
  const flat = text.replace(/\s+/g, ' ').trim();
  const lines: string[] = [];
  let line = indent + prefix;
  let lineStart = line;
  let width = stringWidth(line);
  const max = columns - stringWidth(hang);
  for (const unit of breakUnits(flat)) {
    if (/^\s+$/.test(unit)) {
      if (line !== lineStart) {
        line += ' ';
        width += 1;
      }
      continue;
    }
    for (const part of splitLong(unit, Math.max(max, 8))) {
      const w = stringWidth(part);
      if (width + w > columns && line !== lineStart) {
        lines.push(line.trimEnd());
        line = hang;
        lineStart = hang;
        width = stringWidth(hang);
      }
      line += part;
      width += w;
    }
  }
  lines.push(line.trimEnd());
  return lines.join('\n');
}

export function displayWidth(s: string): number {
  return stringWidth(s);
}
