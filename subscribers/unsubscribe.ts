import { sql } from 'kysely';
import type { Db } from '../src/db/schema.js';
import { allSections } from './sections.js';

export interface UnsubscribeContext {
  issueId?: number;
  deliveryId?: number;
  /** How the person left: 'one-click' (List-Unsubscribe-Post), 'page', 'preferences', 'api'. */
  via: string;
  now?: Date;
}

async function recordEvent(db: Db, subscriberId: number, subtype: string, ctx: UnsubscribeContext) {
  // Issue and delivery ids come from a signed link; rows may since have been deleted, so only
  // reference them when they still exist.
  await db
    .insertInto('events')
    .values({
      type: 'unsubscribe',
      subtype,
      subscriber_id: subscriberId,
      issue_id: ctx.issueId ? sql<number>`(SELECT id FROM issues WHERE id = ${ctx.issueId})` : null,
      delivery_id: ctx.deliveryId
        ? sql<number>`(SELECT id FROM deliveries WHERE id = ${ctx.deliveryId})`
        : null,
      detail: JSON.stringify({ via: ctx.via }),
      occurred_at: ctx.now ?? new Date(),
    })
    .execute();
}

/** Leaves everything. Idempotent: returns false when the person had already left. */
export async function unsubscribeAll(
  db: Db,
  subscriberId: number,
  ctx: UnsubscribeContext,
): Promise<boolean> {
  const now = ctx.now ?? new Date();
  const res = await db
    .updateTable('subscribers')
    .set({ status: 'unsubscribed', unsubscribed_at: now, updated_at: now })
    .where('id', '=', subscriberId)
    .where('status', 'in', ['active', 'pending'])
    .executeTakeFirst();
  const changed = Number(res.numUpdatedRows) > 0;
  if (changed) await recordEvent(db, subscriberId, 'all', ctx);
  return changed;
}

/**
 * Stops one section. Someone on "all sections" keeps every other current section; removing the
 * last section they receive unsubscribes them from everything.
 */
export async function unsubscribeFromSection(
  db: Db,
  subscriberId: number,
  sectionKey: string,
  ctx: UnsubscribeContext,
): Promise<'removed' | 'unsubscribed' | 'unchanged'> {
  const sections = await allSections(db);
  const section = sections.find((s) => s.key === sectionKey);
  const sub = await db
    .selectFrom('subscribers')
    .select(['all_sections', 'status'])
    .where('id', '=', subscriberId)
    .executeTakeFirst();
  if (!sub || !section || !['active', 'pending'].includes(sub.status)) return 'unchanged';
  const remaining = await db.transaction().execute(async (trx) => {
    if (sub.all_sections) {
      await trx
        .updateTable('subscribers')
        .set({ all_sections: false })
        .where('id', '=', subscriberId)
        .execute();
      await trx.deleteFrom('subscriber_sections').where('subscriber_id', '=', subscriberId).execute();
      const others = sections.filter((s) => s.id !== section.id);
      if (others.length) {
        await trx
          .insertInto('subscriber_sections')
          .values(others.map((s) => ({ subscriber_id: subscriberId, section_id: s.id })))
          .execute();
      }
      return others.length;
    }
    const res = await trx
      .deleteFrom('subscriber_sections')
      .where('subscriber_id', '=', subscriberId)
      .where('section_id', '=', section.id)
      .executeTakeFirst();
    if (Number(res.numDeletedRows) === 0) return -1;
    const left = await trx
      .selectFrom('subscriber_sections')
      .select((eb) => eb.fn.countAll<string>().as('n'))
      .where('subscriber_id', '=', subscriberId)
      .executeTakeFirstOrThrow();
    return Number(left.n);
  });
  if (remaining === -1) return 'unchanged';
  if (remaining === 0) {
    await unsubscribeAll(db, subscriberId, ctx);
    return 'unsubscribed';
  }
  await recordEvent(db, subscriberId, `section:${sectionKey}`, ctx);
  return 'removed';
}
