import type { Db, IssueItem, Section } from '../db/schema.js';
import { getPublication } from '../publication/publication.js';
import { defaultSubject } from '../rendering/locale-format.js';
import type { RenderableIssue } from '../rendering/types.js';
import type { IssueDocument } from './markdown-export.js';
import { type Executor, getIssue } from './store.js';

export interface IssueSectionContent {
  section: Section;
  items: IssueItem[];
}

/**
 * The issue's sections in its own order (issue_sections), each with its items in position order.
 * Sections holding items but missing from issue_sections follow, in the publication's order.
 */
export async function loadIssueSections(db: Executor, issueId: number): Promise<IssueSectionContent[]> {
  const [order, sections, items] = await Promise.all([
    db.selectFrom('issue_sections').selectAll().where('issue_id', '=', issueId).execute(),
    db.selectFrom('sections').selectAll().orderBy('position').orderBy('id').execute(),
    db
      .selectFrom('issue_items')
      .selectAll()
      .where('issue_id', '=', issueId)
      .orderBy('position')
      .orderBy('id')
      .execute(),
  ]);
  const rank = new Map(order.map((o) => [o.section_id, o.position]));
  const used = new Set([...rank.keys(), ...items.map((i) => i.section_id)]);
  return sections
    .filter((s) => used.has(s.id))
    .sort((a, b) => (rank.get(a.id) ?? 1e9 + a.position) - (rank.get(b.id) ?? 1e9 + b.position))
    .map((section) => ({ section, items: items.filter((i) => i.section_id === section.id) }));
}

function sectionTitle(section: Section, locale: string): string {
  const names = section.names as Record<string, string | undefined>;
  return names[locale] ?? names['zh-CN'] ?? names.en ?? section.key;
}

/** The issue as the Markdown exporter (and the import JSON) shows it. */
export async function loadIssueDocument(
  db: Executor,
  issueId: number,
): Promise<IssueDocument & { id: number }> {
  const issue = await getIssue(db, issueId);
  const sections = await loadIssueSections(db, issueId);
  return {
    id: issue.id,
    title: issue.title,
    period: issue.period,
    periodKind: issue.period_kind,
    masthead: issue.masthead,
    sections: sections.map(({ section, items }) => ({
      key: section.key,
      title: sectionTitle(section, issue.locale),
      items: items.map((i) => ({
        title: i.title,
        summary: i.summary,
        sources: i.sources.map((s) => (s.label ? { url: s.url, label: s.label } : { url: s.url })),
      })),
    })),
  };
}

/** Default subject when the editor set none: the title and the period (rendering/locale-format.ts). */
export { defaultSubject };

/** Everything the renderer needs, as plain data (src/rendering/types.ts). */
export async function loadRenderableIssue(db: Db, issueId: number): Promise<RenderableIssue> {
  const issue = await getIssue(db, issueId);
  // Issues are only created after ensurePublication (assembly, import), so the row exists.
  const publication = await getPublication(db);
  if (!publication) throw new Error('No publication row: run `gazette publication show` to create it');
  const sections = await loadIssueSections(db, issueId);
  return {
    id: issue.id,
    revision: issue.revision,
    period: issue.period,
    periodKind: issue.period_kind,
    title: issue.title,
    subject: issue.subject ?? defaultSubject(issue.title, issue.period, issue.period_kind, issue.locale),
    preheader: issue.preheader ?? '',
    intro: issue.intro ?? '',
    locale: issue.locale,
    masthead: issue.masthead,
    trackingEnabled: issue.tracking_enabled ?? publication.tracking_enabled,
    publication: {
      name: publication.name,
      timeZone: publication.time_zone,
      postalAddress: publication.postal_address,
      branding: publication.branding,
      listId: publication.list_id,
    },
    sections: sections.map(({ section, items }) => ({
      key: section.key,
      names: section.names,
      items: items.map((i) => ({ id: i.id, title: i.title, summary: i.summary, sources: i.sources })),
    })),
  };
}
