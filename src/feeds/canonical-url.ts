import { createHash } from 'node:crypto';

/**
 * The same article reached through different outlets, campaigns or share buttons should be one
 * item. Its canonical URL drops the fragment, tracking parameters and default ports, lower-cases
 * the host and sorts what is left of the query.
 */

const TRACKING_PARAMS = new Set([
  'fbclid', 'gclid', 'dclid', 'gbraid', 'wbraid', 'msclkid', 'yclid', 'twclid', 'igshid', 'mc_cid', 'mc_eid',
  '_hsenc', '_hsmi', 'mkt_tok', 'spm', 'scm', 'share_token', 'share_source', 'share_medium', 'isappinstalled',
  'wt.mc_id', 'cmpid', 'ncid', 'ref_src', 'ref_url',
]); // biome-ignore format: a list reads better packed

function isTracking(name: string): boolean {
  const n = name.toLowerCase();
  return n.startsWith('utm_') || n.startsWith('pk_') || TRACKING_PARAMS.has(n);
}

/**
 * The one check for every link that enters Gazette (feeds, pages, editors, imports): the parsed
 * URL when it is http(s), null otherwise. `javascript:`, `data:`, `vbscript:` and the rest would
 * run or mislead when shown as a link in the editor, an email or an export.
 */
export function parseHttpUrl(raw: string | null | undefined): URL | null {
  if (!raw) return null;
  let url: URL;
  try {
    url = new URL(raw.trim());
  } catch {
    return null;
  }
  return url.protocol === 'http:' || url.protocol === 'https:' ? url : null;
}

/** The link as given (trimmed) when it is http(s), else null. */
export function httpLink(raw: string | null | undefined): string | null {
  return parseHttpUrl(raw) ? (raw as string).trim() : null;
}

/** The canonical form of an http(s) URL, or null when it is not one. */
export function canonicalUrl(raw: string | null | undefined): string | null {
  const url = parseHttpUrl(raw);
  if (!url) return null;
  url.hash = '';
  url.username = '';
  url.password = '';
  const kept = [...url.searchParams.entries()].filter(([k]) => !isTracking(k));
  kept.sort(([a, av], [b, bv]) => (a === b ? av.localeCompare(bv) : a.localeCompare(b)));
  url.search = '';
  for (const [k, v] of kept) url.searchParams.append(k, v);
  if (url.pathname === '') url.pathname = '/';
  return url.href;
}

/** A stable id for an item that has neither guid nor link: its title and text. */
export function contentHash(title: string, text: string): string {
  return createHash('sha256').update(`${title}\u0000${text}`).digest('hex').slice(0, 32);
}
