/**
 * Search tokens that work on stock PostgreSQL and PGlite alike, with no extension: Chinese (and
 * other CJK) runs become overlapping bigrams, Latin words and numbers become lower-case words.
 * "个人信息保护" → 个人 人信 信息 息保 保护, so a query matches wherever its bigrams all occur.
 * Pure functions; the tsvector is built from these with array_to_tsvector (no parser, no stemming).
 *
 * Why not pg_trgm: it needs CREATE EXTENSION (superuser, the contrib package on stock PostgreSQL,
 * once per database, not per schema; PGlite must load its contrib module at start), and a
 * two-character Chinese word (法院, 个人) yields no trigram to match. Bigrams need none of that.
 */

const CJK = /[\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}\p{Script=Hangul}]+/gu;
const WORD = /[\p{L}\p{N}]+/gu;

function* tokensOf(text: string): Generator<string> {
  const norm = text.normalize('NFKC').toLowerCase();
  for (const m of norm.matchAll(CJK)) {
    const run = [...m[0]];
    if (run.length === 1) yield run[0] as string;
    for (let i = 0; i + 1 < run.length; i++) yield `${run[i]}${run[i + 1]}`;
  }
  for (const m of norm.replace(CJK, ' ').matchAll(WORD)) {
    if (m[0].length <= 64) yield m[0];
  }
}

/** Distinct tokens of a document, at most `max` (a tsvector holds at most 1 MB). */
export function documentTokens(text: string, max = 60_000): string[] {
  const out = new Set<string>();
  for (const t of tokensOf(text)) {
    out.add(t);
    if (out.size >= max) break;
  }
  return [...out];
}

/**
 * A tsquery text for what a reader typed: every token must occur; Latin words also match as a
 * prefix (protect → protection). Tokens hold only letters and digits, so quoting is enough.
 */
export function queryText(query: string): string | null {
  const parts: string[] = [];
  const seen = new Set<string>();
  for (const t of tokensOf(query)) {
    if (seen.has(t)) continue;
    seen.add(t);
    const quoted = `'${t.replace(/'/g, "''")}'`;
    parts.push(/^[\p{Script=Latin}\p{N}]+$/u.test(t) ? `${quoted}:*` : quoted);
  }
  return parts.length ? parts.join(' & ') : null;
}
