import type { DeadReason } from '../db/schema.js';

/**
 * Pure decisions of the archive: whether a re-checked link is dead, and how much of a page fits
 * under the per-source cap.
 */

export interface CheckOutcome {
  /** HTTP status of the final response, if one came. */
  status?: number;
  /** The URL after redirects. */
  finalUrl?: string;
  /** The fetcher's error kind and message when no usable response came. */
  errorKind?: string;
  errorMessage?: string;
}

export type LinkVerdict = { state: 'alive' } | { state: 'dead'; reason: DeadReason } | { state: 'unknown' };

function siteOf(host: string): string {
  return host.toLowerCase().replace(/^www\./, '');
}

/**
 * Dead: 404 or 410; a redirect that lands on another site's home page (a domain sold or a site
 * rebuilt without the page); or a name that no longer resolves. A timeout, a 5xx or a refused
 * address says nothing about the page, so the link's state stays as it was.
 */
export function judgeLink(originalUrl: string, outcome: CheckOutcome): LinkVerdict {
  if (outcome.status === 404 || outcome.status === 410) return { state: 'dead', reason: 'gone' };
  if (outcome.errorKind === 'network' && /\bENOTFOUND\b/.test(outcome.errorMessage ?? ''))
    return { state: 'dead', reason: 'dns' };
  if (outcome.status !== undefined && outcome.status >= 200 && outcome.status < 400 && outcome.finalUrl) {
    try {
      const from = new URL(originalUrl);
      const to = new URL(outcome.finalUrl);
      const home = (to.pathname === '/' || to.pathname === '') && !to.search;
      const wasHome = from.pathname === '/' || from.pathname === '';
      if (home && !wasHome && siteOf(from.hostname) !== siteOf(to.hostname))
        return { state: 'dead', reason: 'moved-home' };
    } catch {
      return { state: 'unknown' };
    }
    return { state: 'alive' };
  }
  return { state: 'unknown' };
}

export interface FittedSnapshot {
  textGz: Buffer | null;
  htmlGz: Buffer | null;
  truncated: boolean;
  bytes: number;
}

/**
 * Fits a page under the cap: text and HTML if both fit, else the text alone, else as much of the
 * text as fits (the readable text is what a reader needs when the original is gone).
 */
export function fitSnapshot(
  text: string,
  html: string,
  cap: number,
  gzip: (s: string) => Buffer,
): FittedSnapshot {
  const textGz = gzip(text);
  const htmlGz = html ? gzip(html) : null;
  if (textGz.length + (htmlGz?.length ?? 0) <= cap) {
    return { textGz, htmlGz, truncated: false, bytes: textGz.length + (htmlGz?.length ?? 0) };
  }
  if (textGz.length <= cap) return { textGz, htmlGz: null, truncated: true, bytes: textGz.length };
  let cut = Math.floor(text.length * (cap / textGz.length) * 0.9);
  for (; cut > 0; cut = Math.floor(cut * 0.8)) {
    const part = gzip(text.slice(0, cut));
    if (part.length <= cap) return { textGz: part, htmlGz: null, truncated: true, bytes: part.length };
  }
  return { textGz: null, htmlGz: null, truncated: true, bytes: 0 };
}
