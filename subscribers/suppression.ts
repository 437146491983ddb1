import { type Expression, type ExpressionBuilder, type SqlBool, sql } from 'kysely';
import type { Database, Db } from '../src/db/schema.js';
import { emailDomain, normalizeEmail } from './email.js';

export type SuppressionKind = 'address' | 'domain';
export type SuppressionReason = 'hard_bounce' | 'soft_bounce' | 'complaint' | 'manual' | 'smtp_rejected';

export interface SuppressInput {
  kind: SuppressionKind;
  value: string;
  reason: SuppressionReason;
  note?: string;
  /** For bounces: the reason from delivery/reasons.ts. */
  bounceReason?: string;
  /** What the report or reply said (status, diagnostic text, channel, feedback type). */
  evidence?: Record<string, unknown>;
  eventId?: number;
}

const DOMAIN = /^(?!-)[a-z0-9-]{1,63}(?<!-)(?:\.(?!-)[a-z0-9-]{1,63}(?<!-))+$/;

/** Normalises an address (like subscribers) or a domain (lower case, no leading @). */
export function normalizeSuppressionValue(kind: SuppressionKind, value: string): string {
  if (kind === 'address') return normalizeEmail(value);
  const domain = value.trim().replace(/^@/, '').toLowerCase();
  if (!DOMAIN.test(domain)) throw new Error(`"${value}" is not a domain name`);
  return domain;
}

/** Adds an entry; adding one that exists keeps the first reason and returns the existing row. */
export async function suppress(db: Db, input: SuppressInput) {
  const value = normalizeSuppressionValue(input.kind, input.value);
  const inserted = await db
    .insertInto('suppressions')
    .values({
      kind: input.kind,
      value,
      reason: input.reason,
      note: input.note ?? null,
      bounce_reason: input.bounceReason ?? null,
      evidence: input.evidence ? JSON.stringify(input.evidence) : null,
      event_id: input.eventId ?? null,
    })
    .onConflict((oc) => oc.columns(['kind', 'value']).doNothing())
    .returningAll()
    .executeTakeFirst();
  return (
    inserted ??
    (await db
      .selectFrom('suppressions')
      .selectAll()
      .where('kind', '=', input.kind)
      .where('value', '=', value)
      .executeTakeFirstOrThrow())
  );
}

/**
 * Lifts an entry; returns whether one existed. The lifted entry (its reason and evidence) stays in
 * suppression_audit with who lifted it.
 */
export async function unsuppress(
  db: Db,
  input: { kind: SuppressionKind; value: string; actor?: string },
): Promise<boolean> {
  const value = normalizeSuppressionValue(input.kind, input.value);
  return db.transaction().execute(async (trx) => {
    const removed = await trx
      .deleteFrom('suppressions')
      .where('kind', '=', input.kind)
      .where('value', '=', value)
      .returning(['reason', 'bounce_reason', 'evidence'])
      .executeTakeFirst();
    if (!removed) return false;
    await trx
      .insertInto('suppression_audit')
      .values({
        kind: input.kind,
        value,
        action: 'lift',
        reason: removed.reason,
        bounce_reason: removed.bounce_reason,
        evidence: removed.evidence ? JSON.stringify(removed.evidence) : null,
        actor: input.actor ?? 'unknown',
      })
      .execute();
    return true;
  });
}

/** Lifted suppressions of one address, newest first. */
export function suppressionAudit(db: Db, kind: SuppressionKind, value: string) {
  return db
    .selectFrom('suppression_audit')
    .selectAll()
    .where('kind', '=', kind)
    .where('value', '=', normalizeSuppressionValue(kind, value))
    .orderBy('id', 'desc')
    .execute();
}

export async function listSuppressions(
  db: Db,
  opts: { kind?: SuppressionKind; limit?: number; afterId?: number } = {},
) {
  let q = db
    .selectFrom('suppressions')
    .selectAll()
    .orderBy('id')
    .limit(opts.limit ?? 1000);
  if (opts.kind) q = q.where('kind', '=', opts.kind);
  if (opts.afterId !== undefined) q = q.where('id', '>', opts.afterId);
  return q.execute();
}

/** The entries (address and/or domain) that stop mail to this address; empty when none does. */
export async function suppressionsFor(db: Db, email: string) {
  const normalized = normalizeEmail(email);
  return db
    .selectFrom('suppressions')
    .selectAll()
    .where((eb) =>
      eb.or([
        eb.and([eb('kind', '=', 'address'), eb('value', '=', normalized)]),
        eb.and([eb('kind', '=', 'domain'), eb('value', '=', emailDomain(normalized))]),
      ]),
    )
    .orderBy('id')
    .execute();
}

/** True when the address or its domain is suppressed. */
export async function isSuppressed(db: Db, email: string): Promise<boolean> {
  const normalized = normalizeEmail(email);
  const row = await db
    .selectFrom('suppressions')
    .select('id')
    .where((eb) =>
      eb.or([
        eb.and([eb('kind', '=', 'address'), eb('value', '=', normalized)]),
        eb.and([eb('kind', '=', 'domain'), eb('value', '=', emailDomain(normalized))]),
      ]),
    )
    .executeTakeFirst();
  return !!row;
}

/**
 * The suppression rule as SQL, for audience queries over `subscribers` (delivery stage):
 *
 *   db.selectFrom('subscribers').where('status', '=', 'active').where(notSuppressed)
 *
 * which adds exactly:
 *   NOT EXISTS (SELECT 1 FROM suppressions x
 *     WHERE (x.kind = 'address' AND x.value = subscribers.email_normalized)
 *        OR (x.kind = 'domain'  AND x.value = split_part(subscribers.email_normalized, '@', 2)))
 * Pass the table alias when the query aliases subscribers: `.where(notSuppressedAs('s'))`.
 */
export function notSuppressedAs(alias = 'subscribers') {
  return (_eb: ExpressionBuilder<Database, 'subscribers'>): Expression<SqlBool> => {
    const col = sql.ref(`${alias}.email_normalized`);
    return sql<SqlBool>`NOT EXISTS (SELECT 1 FROM suppressions x WHERE (x.kind = 'address' AND x.value = ${col}) OR (x.kind = 'domain' AND x.value = split_part(${col}, '@', 2)))`;
  };
}

export const notSuppressed = notSuppressedAs('subscribers');

/** The same condition as raw SQL text, for hand-written queries (alias of the subscribers table). */
export function notSuppressedSql(alias = 'subscribers'): string {
  return `NOT EXISTS (SELECT 1 FROM suppressions x WHERE (x.kind = 'address' AND x.value = ${alias}.email_normalized) OR (x.kind = 'domain' AND x.value = split_part(${alias}.email_normalized, '@', 2)))`;
}
