/**
 * Small text helpers shared by the Markdown importer and exporter. The committee's document is
 * converted from a PDF, so Chinese text is split without spaces and Latin text with them
 * (joining: src/rendering/text-join.ts).
 */

const MD_ESCAPABLE = /\\([\\`*_{}[\]()#+\-.!<>|~"'])/g;

/** Removes one level of Markdown backslash escapes (`\_` → `_`, `\(` → `(`). */
export function unescapeOnce(text: string): string {
  return text.replace(MD_ESCAPABLE, '$1');
}

/** Removes escapes until none are left: the converter sometimes escaped twice (`\\_`). */
export function unescapeFully(text: string): string {
  let current = text;
  for (let i = 0; i < 4; i++) {
    const next = unescapeOnce(current);
    if (next === current) break;
    current = next;
  }
  return current;
}

const TERMINAL = /[。！？!?…；;.．:：]$/u;
const CLOSERS = /[”’"'）)」』》】\]]+$/u;

/** Whether a paragraph ends a sentence; one that does not was cut by a page break. */
export function endsSentence(text: string): boolean {
  const trimmed = text.trim();
  if (!trimmed) return true;
  if (TERMINAL.test(trimmed)) return true;
  const withoutClosers = trimmed.replace(CLOSERS, '');
  return withoutClosers !== trimmed && TERMINAL.test(withoutClosers);
}

/**
 * Turns inline Markdown into plain text: links keep their text, autolinks their URL, emphasis
 * markers go, escapes are removed. Used for titles and summaries (RenderableItem.summary is plain).
 */
export function inlineToPlain(text: string): string {
  const placeholders: string[] = [];
  const keep = (s: string) => {
    placeholders.push(s);
    return `\uE000${placeholders.length - 1}\uE000`;
  };
  let out = text
    // Escaped characters first, so `\*` and `\[` are not read as syntax.
    .replace(/\\([\\`*_{}[\]()#+\-.!<>|~"'])/g, (_m, ch: string) => keep(ch))
    .replace(/\[((?:[^\]\\]|\\.)*)\]\((?:[^()\s]|\([^()\s]*\))*\)/g, (_m, label: string) => label)
    .replace(/<((?:https?|mailto):[^>\s]+)>/g, (_m, url: string) => keep(url))
    .replace(/\*\*|__/g, '');
  out = out.replace(/\uE000(\d+)\uE000/g, (_m, i: string) => placeholders[Number(i)] ?? '');
  return out;
}

/** Escapes plain text so inlineToPlain gives it back unchanged. */
export function plainToInline(text: string): string {
  return text.replace(/[\\*_[\]<>`]/g, (ch) => `\\${ch}`).replace(/^#/, '\\#');
}

/** Same text ignoring spaces, emphasis and punctuation: used to spot repeated cover lines. */
export function looseKey(text: string): string {
  return text.replace(/[\s*_#()（）[\]【】<>《》"“”'‘’:：,，.。、\-—]/gu, '').toLowerCase();
}
