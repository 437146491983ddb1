/**
 * Tracking URLs and the compile-time link rewriter. Pure: no database, no clock. The rendering
 * stage calls these once per compiled variant; `{{trackingToken}}` stays a token that the send
 * step fills per recipient (DESIGN.md invariant 4), so nothing here runs per recipient.
 */

import { decodeHTMLAttribute } from 'entities';

export const TRACKING_TOKEN_PLACEHOLDER = '{{trackingToken}}';

function base(publicUrl: string): string {
  return publicUrl.replace(/\/+$/, '');
}

/** Click redirect for one link; `token` defaults to the per-recipient placeholder. */
export function clickUrl(publicUrl: string, linkId: number, token = TRACKING_TOKEN_PLACEHOLDER): string {
  return `${base(publicUrl)}/t/c/${token}/${linkId}`;
}

export function openPixelUrl(publicUrl: string, token = TRACKING_TOKEN_PLACEHOLDER): string {
  return `${base(publicUrl)}/t/o/${token}.gif`;
}

/** A 1x1 image that mail clients load when the message is shown. */
export function openPixelHtml(publicUrl: string): string {
  return `<img src="${openPixelUrl(publicUrl)}" width="1" height="1" alt="" style="display:block;border:0;width:1px;height:1px;overflow:hidden" />`;
}

// Gazette's own per-recipient pages: never tracked (the unsubscribe link must work without a detour).
const OWN_PAGES = ['/u/', '/unsubscribe/', '/preferences/', '/web/', '/t/'];

const ANCHOR = /<a\b[^>]*>/gi;
const HREF = /(\shref\s*=\s*)(?:"([^"]*)"|'([^']*)')/i;

/** An attribute value as the browser reads it: every HTML entity (`&#61;`, `&amp;`, `&nbsp;`…). */
function decodeAttr(value: string): string {
  return decodeHTMLAttribute(value).trim();
}

/** Whether a link in a message goes through the click redirect. */
export function isTrackableUrl(url: string, publicUrl: string): boolean {
  if (url.includes('{{')) return false; // a per-recipient token link (unsubscribe, preferences, web)
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return false;
  }
  if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') return false;
  const own = new URL(base(publicUrl));
  if (parsed.origin === own.origin) {
    const path = parsed.pathname.slice(own.pathname.replace(/\/+$/, '').length);
    if (OWN_PAGES.some((p) => path.startsWith(p))) return false;
  }
  return true;
}

/** Every trackable URL in compiled HTML, in order of first appearance, deduplicated. */
export function trackableUrls(html: string, publicUrl: string): string[] {
  const seen = new Set<string>();
  for (const tag of html.match(ANCHOR) ?? []) {
    const m = HREF.exec(tag);
    if (!m) continue;
    const url = decodeAttr(m[2] ?? m[3] ?? '');
    if (isTrackableUrl(url, publicUrl)) seen.add(url);
  }
  return [...seen];
}

export interface RewriteOptions {
  issueId: number;
  publicUrl: string;
  /** The issue_links id of a URL (see registerIssueLinks); undefined leaves the link as it is. */
  linkIdFor(url: string): number | undefined;
}

/**
 * Points each trackable `<a href>` at the click redirect. mailto:, tel:, anchors and Gazette's own
 * token links stay untouched. The HTML is MJML output, so a tag-level scan is enough; nothing else
 * in the markup changes.
 */
export function rewriteLinksForTracking(html: string, opts: RewriteOptions): string {
  return html.replace(ANCHOR, (tag) => {
    const m = HREF.exec(tag);
    if (!m) return tag;
    const url = decodeAttr(m[2] ?? m[3] ?? '');
    if (!isTrackableUrl(url, opts.publicUrl)) return tag;
    const linkId = opts.linkIdFor(url);
    if (linkId === undefined) return tag;
    return tag.replace(HREF, `$1"${clickUrl(opts.publicUrl, linkId)}"`);
  });
}

/** Issue tracking inherits the publication's switch unless the issue sets its own (null = inherit). */
export function trackingEnabledFor(
  publication: { tracking_enabled: boolean },
  issue: { tracking_enabled: boolean | null },
): boolean {
  return issue.tracking_enabled ?? publication.tracking_enabled;
}
