/**
 * Joining lines of one paragraph. Chinese and Japanese put no space between words, so a line
 * break there (an editor's Enter, a PDF's line end) joins without one; Latin words (and Korean,
 * which spaces its words) join with one space. The importer and the renderer both use this.
 */

// CJK ideographs, kana, CJK and full-width punctuation (not Hangul: Korean spaces its words).
const CJK = /[\u2e80-\u9fff\uf900-\ufaff\u3000-\u303f\uff00-\uffef]/u;

export function isCjk(ch: string | undefined): boolean {
  return ch !== undefined && CJK.test(ch);
}

export function hasCjk(text: string): boolean {
  return CJK.test(text);
}

/** Joins two fragments of one sentence: no space next to CJK text, one space between Latin words. */
export function joinFragments(a: string, b: string): string {
  const left = a.replace(/\s+$/, '');
  const right = b.replace(/^\s+/, '');
  if (!left) return right;
  if (!right) return left;
  if (isCjk(left.at(-1)) || isCjk(right[0])) return left + right;
  return `${left} ${right}`;
}

/** One paragraph's lines as one line ("立场。\n（编者按" → "立场。（编者按"). */
export function joinLines(paragraph: string): string {
  return paragraph.split(/\s*\n\s*/).reduce(joinFragments, '');
}
