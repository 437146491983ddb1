import Handlebars from 'handlebars';
import { escapeHtml } from './escape.js';
import type { RecipientTokens } from './types.js';

/** The only `{{…}}` a compiled variant may contain; filled per recipient at send time. */
export const RECIPIENT_TOKEN_KEYS = [
  'name',
  'unsubscribeUrl',
  'preferencesUrl',
  'webVersionUrl',
  'trackingToken',
] as const satisfies readonly (keyof RecipientTokens)[];

const TOKEN_SET = new Set<string>(RECIPIENT_TOKEN_KEYS);
const TOKEN_RE = /\{\{(\w+)\}\}/g;

export function isRecipientTokenKey(key: string): key is keyof RecipientTokens {
  return TOKEN_SET.has(key);
}

export type TokenSegment = string | { token: keyof RecipientTokens };

/**
 * Splits a compiled part into literal text and token slots, so delivery can splice each
 * recipient's values into a prebuilt MIME body without Handlebars or re-rendering.
 */
export function tokenSegments(str: string): TokenSegment[] {
  const out: TokenSegment[] = [];
  let last = 0;
  for (const m of str.matchAll(TOKEN_RE)) {
    const key = m[1] as string;
    if (!isRecipientTokenKey(key)) continue;
    const at = m.index ?? 0;
    if (at > last) out.push(str.slice(last, at));
    out.push({ token: key });
    last = at + m[0].length;
  }
  if (last < str.length) out.push(str.slice(last));
  return out;
}

/**
 * A token value as it must appear in the html part (escaped) or the text part (raw); the same
 * escaping compileTokens applies, so splicing and filling give identical bytes.
 */
export function escapeTokenValue(value: string, part: 'html' | 'text'): string {
  return part === 'html' ? escapeHtml(value) : value;
}

/**
 * Returns "" when `str` holds only recipient tokens, else a description of the first stray
 * `{{`, `}}` or unknown token (so a compiled variant can never hide another placeholder).
 */
export function findStrayBraces(str: string): string {
  const stripped = str.replace(TOKEN_RE, (m, key: string) => (isRecipientTokenKey(key) ? '' : m));
  const at = stripped.search(/\{\{|\}\}/);
  return at < 0 ? '' : stripped.slice(Math.max(0, at - 30), at + 30);
}

export interface TokenFiller {
  fill(tokens: RecipientTokens): { html: string; text: string };
}

/**
 * Precompiles a variant's html and text once; each fill is then a string join (microseconds).
 * Values are HTML-escaped in html and left raw in text. A missing token value throws.
 */
export function compileTokens(compiled: { html: string; text: string }): TokenFiller {
  const hb = Handlebars.create();
  const opts = { strict: true, knownHelpersOnly: true, knownHelpers: {} } as const;
  // Both parts fill raw; the html part's values are escaped first by the one escaper (escapeHtml),
  // the same bytes delivery splices into its prebuilt MIME.
  const html = hb.compile<RecipientTokens>(compiled.html, { ...opts, noEscape: true });
  const text = hb.compile<RecipientTokens>(compiled.text, { ...opts, noEscape: true });
  const probe: RecipientTokens = {
    name: '',
    unsubscribeUrl: '',
    preferencesUrl: '',
    webVersionUrl: '',
    trackingToken: '',
  };
  html(probe); // Handlebars compiles lazily: pay it here, not on the first recipient
  text(probe);
  return {
    fill(tokens) {
      const escaped = Object.fromEntries(
        Object.entries(tokens).map(([k, v]) => [k, typeof v === 'string' ? escapeHtml(v) : v]),
      ) as RecipientTokens;
      return { html: html(escaped), text: text(tokens) };
    },
  };
}
