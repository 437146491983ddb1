import type { Db, Issue } from '../db/schema.js';
import { httpLink } from '../feeds/canonical-url.js';
import { plainToMarkdown } from '../rendering/summary.js';
import { addIssueItem } from './edit.js';
import { type EditorialDeps, EditorialInputError } from './store.js';

/**
 * Accepting fetched items into a draft from the editors' inbox. The current draft is the newest
 * issue in the draft state; approved or scheduled issues are not edited from the inbox (editing
 * them would send them back to draft behind the back of whoever approved them).
 */

export async function newestDraft(db: Db): Promise<Issue | undefined> {
  return db
    .selectFrom('issues')
    .selectAll()
    .where('state', '=', 'draft')
    .orderBy('created_at', 'desc')
    .orderBy('id', 'desc')
    .executeTakeFirst();
}

export interface Acceptance {
  itemId: number;
  sectionKey: string;
}

export type AcceptOutcome =
  | { itemId: number; accepted: true; issueItemId: number }
  | { itemId: number; accepted: false; reason: 'not-new' | 'no-section' };

/**
 * Accepts one item into the issue's section: the item's status moves from new to accepted by
 * conditional update first (so two editors accepting it at once add it once), then the entry is
 * added as the assembler would add it (title, summary, the canonical URL as its source). If the
 * add fails (the issue left draft meanwhile, an unknown section) the item goes back to new.
 */
export async function acceptItem(
  deps: EditorialDeps,
  issueId: number,
  acceptance: Acceptance,
  actor: string,
): Promise<AcceptOutcome> {
  const { db } = deps;
  const { itemId } = acceptance;
  if (!acceptance.sectionKey) return { itemId, accepted: false, reason: 'no-section' };
  const item = await db
    .updateTable('items')
    .set({ status: 'accepted', updated_at: deps.now() })
    .where('id', '=', itemId)
    .where('status', '=', 'new')
    .returningAll()
    .executeTakeFirst();
  if (!item) return { itemId, accepted: false, reason: 'not-new' };
  try {
    const url = item.canonical_url ?? httpLink(item.link);
    const issueItemId = await addIssueItem(
      deps,
      issueId,
      {
        sectionKey: acceptance.sectionKey,
        title: item.title,
        // Feed text is plain; the summary is Markdown (rendering/summary.ts).
        summary: plainToMarkdown(item.summary_text),
        sources: url ? [{ url }] : [],
        itemId,
      },
      actor,
      { states: ['draft'] },
    );
    deps.log.info({ event: 'item.accepted', itemId, issueId, issueItemId }, 'item accepted into draft');
    return { itemId, accepted: true, issueItemId };
  } catch (err) {
    await db
      .updateTable('items')
      .set({ status: 'new' })
      .where('id', '=', itemId)
      .where('status', '=', 'accepted')
      .execute();
    throw err;
  }
}

/**
 * Accepts several items in order. An item whose section no longer exists is skipped like one with
 * no section; any other error (the issue left draft meanwhile) stops the rest, and those before it
 * stay accepted.
 */
export async function acceptItems(
  deps: EditorialDeps,
  issueId: number,
  acceptances: Acceptance[],
  actor: string,
): Promise<AcceptOutcome[]> {
  const out: AcceptOutcome[] = [];
  for (const a of acceptances) {
    try {
      out.push(await acceptItem(deps, issueId, a, actor));
    } catch (err) {
      if (!(err instanceof EditorialInputError && err.code === 'no-section')) throw err;
      out.push({ itemId: a.itemId, accepted: false, reason: 'no-section' });
    }
  }
  return out;
}
