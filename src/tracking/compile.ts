import type { Db } from '../db/schema.js';
import { registerIssueLinks } from './issue-links.js';
import { rewriteLinksForTracking, trackableUrls } from './links.js';

/** url → section id for every source link of the issue's items (for per-section click figures). */
export async function issueSourceSections(db: Db, issueId: number): Promise<Map<string, number>> {
  const rows = await db
    .selectFrom('issue_items')
    .select(['section_id', 'sources'])
    .where('issue_id', '=', issueId)
    .execute();
  const out = new Map<string, number>();
  for (const r of rows) {
    const sources = Array.isArray(r.sources) ? (r.sources as Array<{ url?: unknown }>) : [];
    for (const s of sources) if (typeof s.url === 'string' && !out.has(s.url)) out.set(s.url, r.section_id);
  }
  return out;
}

/**
 * The compile-time step for one variant when tracking is on (trackingEnabledFor): registers the
 * HTML's links for the issue, attributed to the section whose item cites them, and points them
 * at the click redirect. Call once per compiled variant, never per recipient.
 */
export async function applyLinkTracking(
  db: Db,
  input: { issueId: number; publicUrl: string; html: string },
): Promise<{ html: string; links: Map<string, number> }> {
  const urls = trackableUrls(input.html, input.publicUrl);
  const sections = await issueSourceSections(db, input.issueId);
  const links = await registerIssueLinks(
    db,
    input.issueId,
    urls.map((url) => ({ url, sectionId: sections.get(url) ?? null })),
  );
  const html = rewriteLinksForTracking(input.html, {
    issueId: input.issueId,
    publicUrl: input.publicUrl,
    linkIdFor: (url) => links.get(url),
  });
  return { html, links };
}
