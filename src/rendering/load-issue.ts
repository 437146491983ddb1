import type { Db } from '../db/schema.js';
import type { RenderableIssue } from './types.js';

export class IssueNotFoundError extends Error {
  override name = 'IssueNotFoundError';
  readonly userFacing = true;
  constructor(readonly issueId: number) {
    super(`issue ${issueId} not found`);
  }
}

/**
 * Reads an issue from the ledger as the renderer sees it. The editorial stage may provide its
 * own loader; this one only reads the tables the schema defines, for `gazette render`.
 */
export async function loadRenderableIssue(db: Db, issueId: number): Promise<RenderableIssue> {
  const issue = await db.selectFrom('issues').selectAll().where('id', '=', issueId).executeTakeFirst();
  if (!issue) throw new IssueNotFoundError(issueId);
  const publication = await db.selectFrom('publication').selectAll().orderBy('id').executeTakeFirst();
  const sections = await db
    .selectFrom('issue_sections')
    .innerJoin('sections', 'sections.id', 'issue_sections.section_id')
    .select(['sections.id', 'sections.key', 'sections.names'])
    .where('issue_sections.issue_id', '=', issueId)
    .orderBy('issue_sections.position')
    .execute();
  const items = await db
    .selectFrom('issue_items')
    .select(['id', 'section_id', 'title', 'summary', 'sources'])
    .where('issue_id', '=', issueId)
    .orderBy('position')
    .orderBy('id')
    .execute();
  const masthead =
    issue.masthead && Object.keys(issue.masthead).length > 0 ? issue.masthead : (publication?.masthead ?? {});
  return {
    id: issue.id,
    revision: issue.revision,
    period: issue.period,
    periodKind: issue.period_kind,
    title: issue.title,
    subject: issue.subject ?? issue.title,
    preheader: issue.preheader ?? '',
    intro: issue.intro ?? '',
    locale: issue.locale,
    masthead,
    trackingEnabled: issue.tracking_enabled ?? publication?.tracking_enabled ?? false,
    publication: {
      name: publication?.name ?? issue.title,
      timeZone: publication?.time_zone ?? 'UTC',
      postalAddress: publication?.postal_address ?? null,
      branding: publication?.branding ?? {},
      listId: publication?.list_id ?? null,
    },
    sections: sections.map((s) => ({
      key: s.key,
      names: s.names,
      items: items
        .filter((i) => i.section_id === s.id)
        .map((i) => ({ id: i.id, title: i.title, summary: i.summary, sources: i.sources })),
    })),
  };
}
