import type { Db } from '../db/schema.js';

export interface IssueLinkInput {
  url: string;
  sectionId?: number | null;
}

export interface IssueLink {
  id: number;
  issueId: number;
  url: string;
  sectionId: number | null;
}

/**
 * Stores the URLs an issue links to (the only targets its click redirect will go to) and returns
 * url → link id. Idempotent: recompiling a revision reuses the ids already in mail.
 */
export async function registerIssueLinks(
  db: Db,
  issueId: number,
  urls: ReadonlyArray<string | IssueLinkInput>,
): Promise<Map<string, number>> {
  const inputs = new Map<string, number | null>();
  for (const u of urls) {
    const input = typeof u === 'string' ? { url: u } : u;
    if (!isHttpUrl(input.url))
      throw new Error(`issue ${issueId}: link "${input.url.slice(0, 200)}" is not an http(s) URL`);
    if (!inputs.has(input.url) || inputs.get(input.url) == null)
      inputs.set(input.url, input.sectionId ?? null);
  }
  const out = new Map<string, number>();
  if (inputs.size === 0) return out;
  const values = [...inputs].map(([url, sectionId]) => ({ issue_id: issueId, url, section_id: sectionId }));
  for (let i = 0; i < values.length; i += 500) {
    // The no-op update makes RETURNING give existing rows too; a section learned later fills a null.
    const rows = await db
      .insertInto('issue_links')
      .values(values.slice(i, i + 500))
      .onConflict((oc) =>
        oc.columns(['issue_id', 'url']).doUpdateSet((eb) => ({
          section_id: eb.fn.coalesce('issue_links.section_id', 'excluded.section_id'),
        })),
      )
      .returning(['id', 'url'])
      .execute();
    for (const r of rows) out.set(r.url, r.id);
  }
  return out;
}

/** Only web links may become redirect targets (never javascript:, data: or the like). */
export function isHttpUrl(value: string): boolean {
  try {
    const u = new URL(value);
    return u.protocol === 'https:' || u.protocol === 'http:';
  } catch {
    return false;
  }
}

export async function loadIssueLinks(db: Db, issueId: number): Promise<IssueLink[]> {
  const rows = await db
    .selectFrom('issue_links')
    .select(['id', 'issue_id', 'url', 'section_id'])
    .where('issue_id', '=', issueId)
    .execute();
  return rows.map((r) => ({ id: r.id, issueId: r.issue_id, url: r.url, sectionId: r.section_id }));
}
