import { sql } from 'kysely';
import type { Db } from '../db/schema.js';
import { loadIssueSections } from '../issues/load.js';
import { getIssue } from '../issues/store.js';
import { bodyName, jurisdictionName, kindName, legalValues } from '../legal/format.js';
import { loadIssueLegal } from '../legal/load.js';
import { summaryPlain } from '../rendering/summary.js';
import { readSnapshot } from '../snapshots/store.js';
import { ARCHIVED_STATES } from '../snapshots/take.js';
import { documentTokens, queryText } from './tokens.js';

/** Snapshot text beyond this per item adds little to finding it and a lot to the index. */
const MAX_SNAPSHOT_CHARS = 200_000;

/**
 * (Re)builds the search rows of one issue from its settled content: titles, summaries, the legal
 * metadata in both languages, and the text of its sources' snapshots.
 */
export async function indexIssue(db: Db, issueId: number): Promise<number> {
  const issue = await getIssue(db, issueId);
  const sections = await loadIssueSections(db, issueId);
  const legal = await loadIssueLegal(db, issue, sections);
  const snaps = await db
    .selectFrom('source_snapshots')
    .select(['id', 'url'])
    .where('issue_id', '=', issueId)
    .execute();
  const snapshotText = new Map<string, string>();
  for (const s of snaps) {
    const full = await readSnapshot(db, s.id);
    if (full?.text) snapshotText.set(s.url, full.text.slice(0, MAX_SNAPSHOT_CHARS));
  }
  const rows = sections.flatMap(({ items }) =>
    items.map((item) => {
      const meta = legal.get(item.id)?.metadata ?? {};
      const values = legalValues(meta);
      const words = [
        item.title,
        summaryPlain(item.summary),
        values.jurisdiction
          ? `${jurisdictionName(values.jurisdiction, 'zh-CN')} ${jurisdictionName(values.jurisdiction, 'en')}`
          : '',
        values.kind ? `${kindName(values.kind, 'zh-CN')} ${kindName(values.kind, 'en')}` : '',
        ...(values.bodies ?? []).flatMap((b) => [b, bodyName(b, 'en')]),
        values.documentNumber ?? '',
        values.caseNumber ?? '',
        values.court ?? '',
        ...item.sources.map((s) => snapshotText.get(s.url) ?? ''),
      ];
      return { item, values, tokens: documentTokens(words.join('\n')) };
    }),
  );
  await db.transaction().execute(async (trx) => {
    await trx.deleteFrom('issue_item_search').where('issue_id', '=', issueId).execute();
    for (const r of rows) {
      await trx
        .insertInto('issue_item_search')
        .values({
          issue_item_id: r.item.id,
          issue_id: issueId,
          revision: issue.revision,
          legal: JSON.stringify(r.values),
          tokens: sql<string>`array_to_tsvector(${sql.val(r.tokens)}::text[])`,
        })
        .execute();
    }
  });
  return rows.length;
}

/** Settled issues whose search rows are missing or from an older revision. */
export async function issuesToIndex(db: Db, limit = 50): Promise<number[]> {
  const rows = await db
    .selectFrom('issues')
    .select('id')
    .where('state', 'in', [...ARCHIVED_STATES])
    .where((eb) =>
      eb.exists(
        eb
          .selectFrom('issue_items')
          .select('issue_items.id')
          .whereRef('issue_items.issue_id', '=', 'issues.id'),
      ),
    )
    .where((eb) =>
      eb.not(
        eb.exists(
          eb
            .selectFrom('issue_item_search')
            .select('issue_item_search.issue_id')
            .whereRef('issue_item_search.issue_id', '=', 'issues.id')
            .whereRef('issue_item_search.revision', '=', 'issues.revision'),
        ),
      ),
    )
    .orderBy('id')
    .limit(limit)
    .execute();
  return rows.map((r) => r.id);
}

export interface ArchiveQuery {
  q?: string;
  jurisdiction?: string;
  kind?: string;
  body?: string;
  limit?: number;
}

export interface ArchiveHit {
  issueId: number;
  issueItemId: number;
  period: string;
  issueTitle: string;
  title: string;
  summary: string;
  legal: Record<string, unknown>;
}

/** Items of sent issues matching every word of the query and every filter, newest issue first. */
export async function searchArchive(db: Db, query: ArchiveQuery): Promise<ArchiveHit[]> {
  const tsq = query.q ? queryText(query.q) : null;
  if (query.q && !tsq) return [];
  let select = db
    .selectFrom('issue_item_search as s')
    .innerJoin('issue_items as ii', 'ii.id', 's.issue_item_id')
    .innerJoin('issues as i', 'i.id', 's.issue_id')
    .select([
      'i.id as issueId',
      'ii.id as issueItemId',
      'i.period',
      'i.title as issueTitle',
      'ii.title',
      'ii.summary',
      's.legal',
    ])
    .where('i.state', '=', 'sent');
  if (tsq) select = select.where(sql<boolean>`s.tokens @@ ${tsq}::tsquery`);
  if (query.jurisdiction)
    select = select.where(sql<boolean>`s.legal->>'jurisdiction' = ${query.jurisdiction}`);
  if (query.kind) select = select.where(sql<boolean>`s.legal->>'kind' = ${query.kind}`);
  if (query.body)
    select = select.where(sql<boolean>`s.legal->'bodies' @> ${JSON.stringify([query.body])}::jsonb`);
  const rows = await select
    .orderBy('i.sent_at', 'desc')
    .orderBy('i.id', 'desc')
    .orderBy('ii.section_id')
    .orderBy('ii.position')
    .limit(query.limit ?? 100)
    .execute();
  // Hits show the summary as text (search pages print excerpts, not the Markdown source).
  return rows.map((r) => ({ ...r, summary: summaryPlain(r.summary) })) as ArchiveHit[];
}

/** The distinct bodies, kinds and jurisdictions in the archive, for the filter menus. */
export async function archiveFacets(
  db: Db,
): Promise<{ jurisdictions: string[]; kinds: string[]; bodies: string[] }> {
  const rows = await db
    .selectFrom('issue_item_search as s')
    .innerJoin('issues as i', 'i.id', 's.issue_id')
    .select('s.legal')
    .where('i.state', '=', 'sent')
    .execute();
  const j = new Set<string>();
  const k = new Set<string>();
  const b = new Set<string>();
  for (const r of rows) {
    const v = r.legal as { jurisdiction?: string; kind?: string; bodies?: string[] };
    if (v.jurisdiction) j.add(v.jurisdiction);
    if (v.kind) k.add(v.kind);
    for (const x of v.bodies ?? []) b.add(x);
  }
  return { jurisdictions: [...j].sort(), kinds: [...k].sort(), bodies: [...b].sort() };
}
