import type { Db } from '../src/db/schema.js';
import { type SuppressInput, suppress } from './suppression.js';

/** What a bounce or complaint suppression keeps as its evidence. */
export type SuppressionEvidence = Pick<SuppressInput, 'bounceReason' | 'evidence' | 'eventId'>;

/**
 * Status changes learned from mail (delivery and tracking stages). Each also suppresses the
 * address, so neither a later import nor an editor can send to it by accident.
 */
async function markAndSuppress(
  db: Db,
  subscriberId: number,
  status: 'bounced' | 'complained',
  reason: 'hard_bounce' | 'soft_bounce' | 'complaint',
  now: Date,
  evidence: SuppressionEvidence = {},
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
  await suppress(db, { kind: 'address', value: row.email_normalized, reason, ...evidence });
  return true;
}

export function markBounced(
  db: Db,
  subscriberId: number,
  opts: { now?: Date; soft?: boolean } & SuppressionEvidence = {},
): Promise<boolean> {
  const { now, soft, ...evidence } = opts;
  return markAndSuppress(
    db,
    subscriberId,
    'bounced',
    soft ? 'soft_bounce' : 'hard_bounce',
    now ?? new Date(),
    evidence,
  );
}

export function markComplained(
  db: Db,
  subscriberId: number,
  opts: { now?: Date } & SuppressionEvidence = {},
): Promise<boolean> {
  const { now, ...evidence } = opts;
  return markAndSuppress(db, subscriberId, 'complained', 'complaint', now ?? new Date(), evidence);
}
