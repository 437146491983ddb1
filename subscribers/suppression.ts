import { type Expression, type ExpressionBuilder, type SqlBool, sql } from 'kysely';
import type { Database, Db } from '../src/db/schema.js';
import { emailDomain, normalizeEmail } from './email.js';

export type SuppressionKind = 'address' | 'domain';
export type SuppressionReason = 'hard_bounce' | 'complaint' | 'manual' | 'smtp_rejected';

export interface SuppressInput {
  kind: SuppressionKind;
  value: string;
  reason: SuppressionReason;
  note?: string;
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
    .values({ kind: input.kind, value, reason: input.reason, note: input.note ?? null })
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

/** Removes an entry; returns whether one existed. */
export async function unsuppress(db: Db, input: { kind: SuppressionKind; value: string }): Promise<boolean> {
  const value = normalizeSuppressionValue(input.kind, input.value);
  const res = await db
    .deleteFrom('suppressions')
    .where('kind', '=', input.kind)
    .where('value', '=', value)
    .executeTakeFirst();
  return Number(res.numDeletedRows) > 0;
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
