import type { Db } from '../src/db/schema.js';
import { suppress } from './suppression.js';

/**
 * Status changes learned from mail (delivery and tracking stages). Each also suppresses the
 * address, so neither a later import nor an editor can send to it by accident.
 */
async function markAndSuppress(
  db: Db,
  subscriberId: number,
  status: 'bounced' | 'complained',
  reason: 'hard_bounce' | 'complaint',
  now: Date,
): Promise<boolean> {
  const row = await db
    .selectFrom('subscribers')
    .select(['email_normalized', 'status'])
    .where('id', '=', subscriberId)
    .executeTakeFirst();
  if (!row) return false;
  // complained outranks bounced: a complaint is never overwritten by a later bounce.
  if (row.status !== 'complained') {
    await db
      .updateTable('subscribers')
      .set({ status, updated_at: now })
      .where('id', '=', subscriberId)
      .execute();
  }
  await suppress(db, { kind: 'address', value: row.email_normalized, reason });
  return true;
}

export function markBounced(db: Db, subscriberId: number, opts: { now?: Date } = {}): Promise<boolean> {
  return markAndSuppress(db, subscriberId, 'bounced', 'hard_bounce', opts.now ?? new Date());
}

export function markComplained(db: Db, subscriberId: number, opts: { now?: Date } = {}): Promise<boolean> {
  return markAndSuppress(db, subscriberId, 'complained', 'complaint', opts.now ?? new Date());
}
