import { sql, type Transaction } from 'kysely';
import type { Database, Db, SubscriberBulkAction } from '../src/db/schema.js';
import { allSections, sectionIdsForKeys } from './sections.js';
import { filtered, type SubscriberFilter } from './store.js';
import { stripControl } from './text.js';

/**
 * Acting on many subscribers at once, as listmonk and Ghost let an editor do from the list: the
 * ticked rows, or every subscriber the list's filter matches. Each action runs in one transaction
 * that locks the selected rows, applies the change with set-based statements and writes one
 * subscriber_bulk_actions row (who, what, how selected, which ids), so a bulk change is either
 * wholly there and recorded or not there at all.
 */

/** Ticked rows, or "all n matching" the list's filter (with the n the editor was shown, if any). */
export type BulkSelection = { ids: readonly number[] } | { filter: SubscriberFilter; expected?: number };

export type BulkChange =
  | { action: 'sections-add' | 'sections-remove'; sectionKeys: string[] }
  | { action: 'sections-set'; sectionKeys: string[] | 'all' }
  | { action: 'suppress'; note?: string };

export interface BulkResult {
  auditId: number;
  /** Subscribers in the selection (all of them were given the change). */
  affected: number;
  /** For suppress: addresses newly put on the list (the others were on it already). */
  added?: number;
}

/** A ticked selection larger than this is refused: a page shows far fewer rows; "all matching" has no cap. */
export const MAX_TICKED = 1000;

export class BulkActionError extends Error {
  override name = 'BulkActionError';
  readonly userFacing = true;
  constructor(
    readonly code: 'empty' | 'too-many' | 'changed' | 'no-sections',
    message: string,
    readonly params: Record<string, number> = {},
  ) {
    super(message);
  }
  get problem() {
    return { code: `bulk-${this.code}`, params: this.params };
  }
}

function describeSelection(selection: BulkSelection): Record<string, unknown> {
  return 'ids' in selection
    ? { kind: 'ticked', count: selection.ids.length }
    : { kind: 'filter', filter: selection.filter };
}

/** The selected ids, locked for the rest of the transaction, in id order. */
async function lockSelection(trx: Transaction<Database>, selection: BulkSelection): Promise<number[]> {
  let q = trx.selectFrom('subscribers').select('subscribers.id').orderBy('subscribers.id').forUpdate();
  if ('ids' in selection) {
    const ids = [...new Set(selection.ids.filter((id) => Number.isSafeInteger(id) && id > 0))];
    if (!ids.length) throw new BulkActionError('empty', 'No subscriber was selected');
    if (ids.length > MAX_TICKED)
      throw new BulkActionError('too-many', `At most ${MAX_TICKED} ticked subscribers at once`, {
        max: MAX_TICKED,
      });
    q = q.where('subscribers.id', '=', sql<number>`any(${ids}::bigint[])`);
  } else {
    q = filtered(q, selection.filter);
  }
  const ids = (await q.execute()).map((r) => Number(r.id));
  if (!ids.length) throw new BulkActionError('empty', 'No subscriber matches the selection');
  if ('filter' in selection && selection.expected !== undefined && selection.expected !== ids.length) {
    throw new BulkActionError(
      'changed',
      `The list changed meanwhile: ${ids.length} subscribers match now, not ${selection.expected}`,
      { now: ids.length, expected: selection.expected },
    );
  }
  return ids;
}

async function writeAudit(
  trx: Db | Transaction<Database>,
  entry: {
    actor: string;
    action: SubscriberBulkAction;
    params: Record<string, unknown>;
    selection: BulkSelection;
    ids: number[];
    at: Date;
  },
): Promise<number> {
  const row = await trx
    .insertInto('subscriber_bulk_actions')
    .values({
      actor: entry.actor,
      action: entry.action,
      params: JSON.stringify(entry.params),
      selection: JSON.stringify(describeSelection(entry.selection)),
      affected: entry.ids.length,
      subscriber_ids: entry.ids,
      at: entry.at,
    })
    .returning('id')
    .executeTakeFirstOrThrow();
  return Number(row.id);
}

/** Applies one change to the selection, in one transaction, with its audit row. */
export async function applyBulkAction(
  db: Db,
  selection: BulkSelection,
  change: BulkChange,
  opts: { actor: string; now?: Date },
): Promise<BulkResult> {
  const now = opts.now ?? new Date();
  const keys = change.action === 'suppress' ? [] : change.sectionKeys === 'all' ? [] : change.sectionKeys;
  // An empty choice would do nothing (add, remove) or leave everyone without a section (set).
  if (change.action !== 'suppress' && change.sectionKeys !== 'all' && !keys.length)
    throw new BulkActionError('no-sections', 'Choose at least one section');
  // Unknown keys are refused before anything is locked (UnknownSectionError names them).
  const sectionIds = await sectionIdsForKeys(db, keys);
  return db.transaction().execute(async (trx) => {
    const ids = await lockSelection(trx, selection);
    let added: number | undefined;
    const params: Record<string, unknown> = {};
    // What all_sections becomes, written with updated_at in one pass over the rows (null: unchanged).
    let allSectionsAfter: boolean | null = null;
    switch (change.action) {
      case 'sections-add': {
        params.sections = keys;
        // "Every section" already includes these; only chosen lists grow.
        await sql`
          INSERT INTO subscriber_sections (subscriber_id, section_id)
          SELECT s.id, sec FROM subscribers s CROSS JOIN unnest(${sectionIds}::int[]) AS sec
          WHERE s.id = any(${ids}::bigint[]) AND NOT s.all_sections
          ON CONFLICT DO NOTHING`.execute(trx);
        break;
      }
      case 'sections-remove': {
        params.sections = keys;
        // "Every section" minus some becomes the explicit list of the others.
        const others = (await allSections(db)).map((s) => s.id).filter((id) => !sectionIds.includes(id));
        await sql`
          INSERT INTO subscriber_sections (subscriber_id, section_id)
          SELECT s.id, sec FROM subscribers s CROSS JOIN unnest(${others}::int[]) AS sec
          WHERE s.id = any(${ids}::bigint[]) AND s.all_sections
          ON CONFLICT DO NOTHING`.execute(trx);
        allSectionsAfter = false;
        await sql`DELETE FROM subscriber_sections WHERE subscriber_id = any(${ids}::bigint[])
                  AND section_id = any(${sectionIds}::int[])`.execute(trx);
        break;
      }
      case 'sections-set': {
        params.sections = change.sectionKeys;
        await sql`DELETE FROM subscriber_sections WHERE subscriber_id = any(${ids}::bigint[])`.execute(trx);
        if (change.sectionKeys === 'all') {
          allSectionsAfter = true;
        } else {
          await sql`
            INSERT INTO subscriber_sections (subscriber_id, section_id)
            SELECT s, sec FROM unnest(${ids}::bigint[]) AS s CROSS JOIN unnest(${sectionIds}::int[]) AS sec`.execute(
            trx,
          );
          allSectionsAfter = false;
        }
        break;
      }
      case 'suppress': {
        const note = stripControl(change.note ?? '')
          .trim()
          .slice(0, 500);
        if (note) params.note = note;
        const inserted = await sql<{ id: string }>`
          INSERT INTO suppressions (kind, value, reason, note)
          SELECT 'address', email_normalized, 'manual', ${note || null}::text
          FROM subscribers WHERE id = any(${ids}::bigint[])
          ON CONFLICT (kind, value) DO NOTHING
          RETURNING id`.execute(trx);
        added = inserted.rows.length;
        params.added = added;
        break;
      }
    }
    if (change.action !== 'suppress') {
      await sql`
        UPDATE subscribers SET updated_at = ${now},
          all_sections = coalesce(${allSectionsAfter}::boolean, all_sections)
        WHERE id = any(${ids}::bigint[])`.execute(trx);
    }
    const auditId = await writeAudit(trx, {
      actor: opts.actor,
      action: change.action,
      params,
      selection,
      ids,
      at: now,
    });
    return { auditId, affected: ids.length, ...(added !== undefined ? { added } : {}) };
  });
}

/**
 * Records an export of the selection before it streams (an export hands out addresses, so who
 * took which is kept like any other bulk action) and returns the ids to export.
 */
export async function recordBulkExport(
  db: Db,
  selection: BulkSelection,
  opts: { actor: string; now?: Date },
): Promise<{ auditId: number; ids: number[] }> {
  return db.transaction().execute(async (trx) => {
    const ids = await lockSelection(trx, selection);
    const auditId = await writeAudit(trx, {
      actor: opts.actor,
      action: 'export',
      params: {},
      selection,
      ids,
      at: opts.now ?? new Date(),
    });
    return { auditId, ids };
  });
}

/** The latest bulk actions, newest first (ids counted, not listed). */
export async function listBulkActions(db: Db, opts: { limit?: number } = {}) {
  const rows = await db
    .selectFrom('subscriber_bulk_actions')
    .select(['id', 'actor', 'action', 'params', 'selection', 'affected', 'at'])
    .orderBy('id', 'desc')
    .limit(Math.min(Math.max(opts.limit ?? 20, 1), 200))
    .execute();
  return rows.map((r) => ({ ...r, id: Number(r.id) }));
}
