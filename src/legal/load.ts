import type { Kysely } from 'kysely';
import type { Database, IssueItem } from '../db/schema.js';
import { summaryPlain } from '../rendering/summary.js';
import { extractLegalMetadata } from './extract.js';
import { applyLegalEdits } from './format.js';
import type { ItemLegal } from './types.js';

type Executor = Kysely<Database>;

/**
 * Every item's legal metadata for one issue: the rules run on title, summary, source URLs and the
 * snapshots' text (when taken), then the editor's edits apply. Computed on read, so an edited
 * title or a new snapshot is reflected at once; only the editor's word is stored.
 */
export async function loadIssueLegal(
  db: Executor,
  issue: { id: number; period: string },
  sections: { section: { key: string }; items: IssueItem[] }[],
): Promise<Map<number, ItemLegal>> {
  const snapshots = await db
    .selectFrom('source_snapshots')
    .select(['url', 'excerpt'])
    .where('issue_id', '=', issue.id)
    .where('excerpt', '!=', '')
    .execute();
  const excerpt = new Map(snapshots.map((s) => [s.url, s.excerpt]));
  const out = new Map<number, ItemLegal>();
  for (const { section, items } of sections) {
    for (const item of items) {
      const urls = item.sources.map((s) => s.url);
      const snapshotText = urls
        .map((u) => excerpt.get(u))
        .filter(Boolean)
        .join('\n\n');
      const extracted = extractLegalMetadata({
        title: item.title,
        summary: summaryPlain(item.summary),
        urls,
        sectionKey: section.key,
        period: issue.period,
        ...(snapshotText ? { snapshotText } : {}),
      });
      out.set(item.id, applyLegalEdits(extracted, item.legal));
    }
  }
  return out;
}
