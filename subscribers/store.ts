import { type ExpressionBuilder, sql, type Transaction } from 'kysely';
import {
  type ConsentSource,
  type Database,
  type Db,
  type Locale,
  SUBSCRIBER_STATUSES,
  type Subscriber,
  type SubscriberStatus,
} from '../src/db/schema.js';
import { emailHash, normalizeEmail } from './email.js';
import { allSections, sectionIdsForKeys } from './sections.js';
import { isSuppressed, notSuppressedAs } from './suppression.js';
import { stripControl } from './text.js';

export type DbOrTrx = Db | Transaction<Database>;

/** A subscriber with the section keys they receive (every section when all_sections is true). */
export interface SubscriberRecord extends Subscriber {
  sectionKeys: string[];
}

export class SubscriberError extends Error {
  override name = 'SubscriberError';
  readonly userFacing = true;
  constructor(
    readonly code: 'exists' | 'suppressed' | 'erased' | 'not-found' | 'reactivation' | 'invalid',
    message: string,
  ) {
    super(message);
  }
}

/** Statuses a person leaves only by confirming again themselves (never by import, API or editor). */
export const INACTIVE_FOR_GOOD: readonly SubscriberStatus[] = ['unsubscribed', 'bounced', 'complained'];

export interface AddSubscriberInput {
  email: string;
  name?: string | null;
  locale?: Locale;
  /** Omitted: every section, now and later. */
  sectionKeys?: string[];
  status?: SubscriberStatus;
  consentSource: ConsentSource;
}

export function cleanName(name: string | null | undefined): string | null {
  if (name === undefined || name === null) return null;
  // A name goes into greetings and possibly headers: no line breaks or control characters.
  const cleaned = stripControl(name).trim();
  if (cleaned.length > 200) throw new SubscriberError('invalid', 'Name is longer than 200 characters');
  return cleaned || null;
}

export async function setSubscriberSections(
  db: DbOrTrx,
  subscriberId: number,
  sectionKeys: string[] | 'all',
): Promise<void> {
  if (sectionKeys === 'all') {
    await db.deleteFrom('subscriber_sections').where('subscriber_id', '=', subscriberId).execute();
    await db.updateTable('subscribers').set({ all_sections: true }).where('id', '=', subscriberId).execute();
    return;
  }
  const ids = await sectionIdsForKeys(db as Db, sectionKeys);
  await db.deleteFrom('subscriber_sections').where('subscriber_id', '=', subscriberId).execute();
  if (ids.length) {
    await db
      .insertInto('subscriber_sections')
      .values(ids.map((section_id) => ({ subscriber_id: subscriberId, section_id })))
      .execute();
  }
  await db.updateTable('subscribers').set({ all_sections: false }).where('id', '=', subscriberId).execute();
}

async function withSections(db: DbOrTrx, rows: Subscriber[]): Promise<SubscriberRecord[]> {
  if (!rows.length) return [];
  const sections = await allSections(db as Db);
  const chosen = rows.some((r) => !r.all_sections)
    ? await db
        .selectFrom('subscriber_sections')
        .select(['subscriber_id', 'section_id'])
        .where(
          'subscriber_id',
          'in',
          rows.filter((r) => !r.all_sections).map((r) => r.id),
        )
        .execute()
    : [];
  return rows.map((row) => ({
    ...row,
    id: Number(row.id),
    sectionKeys: row.all_sections
      ? sections.map((s) => s.key)
      : sections
          .filter((s) =>
            chosen.some((c) => Number(c.subscriber_id) === Number(row.id) && c.section_id === s.id),
          )
          .map((s) => s.key),
  }));
}

export async function getSubscriber(db: DbOrTrx, id: number): Promise<SubscriberRecord | undefined> {
  const row = await db.selectFrom('subscribers').selectAll().where('id', '=', id).executeTakeFirst();
  return row ? (await withSections(db, [row]))[0] : undefined;
}

export async function getSubscriberByEmail(
  db: DbOrTrx,
  email: string,
): Promise<SubscriberRecord | undefined> {
  const row = await db
    .selectFrom('subscribers')
    .selectAll()
    .where('email_normalized', '=', normalizeEmail(email))
    .executeTakeFirst();
  return row ? (await withSections(db, [row]))[0] : undefined;
}

export async function isErased(db: DbOrTrx, normalized: string): Promise<boolean> {
  const row = await db
    .selectFrom('erased_subscribers')
    .select('email_hash')
    .where('email_hash', '=', emailHash(normalized))
    .executeTakeFirst();
  return !!row;
}

/**
 * Adds one subscriber. Refuses an existing address, a suppressed one, and (unless the person
 * signs up again themselves through the form) an erased one.
 */
export async function addSubscriber(
  db: Db,
  input: AddSubscriberInput,
  opts: { now?: Date } = {},
): Promise<SubscriberRecord> {
  const normalized = normalizeEmail(input.email);
  const now = opts.now ?? new Date();
  const status = input.status ?? (input.consentSource === 'form' ? 'pending' : 'active');
  if (INACTIVE_FOR_GOOD.includes(status)) {
    throw new SubscriberError('invalid', `A new subscriber cannot start as ${status}`);
  }
  if (await isSuppressed(db, normalized)) {
    throw new SubscriberError('suppressed', 'This address is on the suppression list');
  }
  if (input.consentSource !== 'form' && (await isErased(db, normalized))) {
    throw new SubscriberError('erased', 'This address was erased; only the person can sign up again');
  }
  const id = await db.transaction().execute(async (trx) => {
    const row = await trx
      .insertInto('subscribers')
      .values({
        email: input.email.trim(),
        email_normalized: normalized,
        name: cleanName(input.name),
        locale: input.locale ?? 'zh-CN',
        status,
        consent_source: input.consentSource,
        created_at: now,
        updated_at: now,
        confirmed_at: status === 'active' ? now : null,
      })
      .onConflict((oc) => oc.column('email_normalized').doNothing())
      .returning('id')
      .executeTakeFirst();
    if (!row) throw new SubscriberError('exists', 'A subscriber with this address already exists');
    if (input.sectionKeys !== undefined) await setSubscriberSections(trx, Number(row.id), input.sectionKeys);
    return Number(row.id);
  });
  return (await getSubscriber(db, id)) as SubscriberRecord;
}

/** What the editors' list sorts by; ties are broken by id so every page boundary is exact. */
export const SUBSCRIBER_SORTS = ['created', 'email', 'name', 'status'] as const;
export type SubscriberSort = (typeof SUBSCRIBER_SORTS)[number];

export interface SubscriberFilter {
  status?: SubscriberStatus;
  /** Substring of the address or name. */
  search?: string;
  /** Section key: subscribers who receive that section (chosen, or every section). */
  section?: string;
  /** true: only addresses (or domains) on the suppression list; false: only the others. */
  suppressed?: boolean;
}

export interface ListSubscribersOptions extends SubscriberFilter {
  /** Keyset pagination by id (the API and the CLI): rows with id greater than this. */
  afterId?: number;
  limit?: number;
  /** Default: by id, oldest first. */
  sort?: SubscriberSort;
  direction?: 'asc' | 'desc';
  /** Keyset pagination for a sorted list: the `subscriberCursor` of the previous page's last row. */
  cursor?: string;
}

// Lifecycle order, so "by state" groups pending before active before those who left.
const STATUS_RANK = sql.raw(
  `CASE subscribers.status ${SUBSCRIBER_STATUSES.map((st, i) => `WHEN '${st}' THEN ${i}`).join(' ')} END`,
);

function sortExpression(sort: SubscriberSort) {
  switch (sort) {
    case 'created':
      return sql`subscribers.created_at`;
    case 'email':
      return sql`subscribers.email_normalized`;
    case 'name':
      return sql`coalesce(subscribers.name, '')`;
    case 'status':
      return STATUS_RANK;
  }
}

function sortValue(row: Subscriber, sort: SubscriberSort): string | number {
  switch (sort) {
    case 'created':
      return new Date(row.created_at).toISOString();
    case 'email':
      return row.email_normalized;
    case 'name':
      return row.name ?? '';
    case 'status':
      return SUBSCRIBER_STATUSES.indexOf(row.status);
  }
}

/** The opaque position after `row` in a list sorted by `sort` (pass it back as `cursor`). */
export function subscriberCursor(row: Subscriber, sort: SubscriberSort): string {
  return Buffer.from(JSON.stringify([sortValue(row, sort), Number(row.id)])).toString('base64url');
}

function parseCursor(cursor: string, sort: SubscriberSort): [string | number, number] {
  try {
    const [value, id] = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as unknown[];
    const valueOk =
      sort === 'status'
        ? Number.isInteger(value)
        : typeof value === 'string' && (sort !== 'created' || !Number.isNaN(Date.parse(value)));
    if (valueOk && Number.isSafeInteger(id)) return [value as string | number, id as number];
  } catch {}
  throw new SubscriberError('invalid', 'The page position (cursor) is not one this list gave out');
}

/** Adds the filter's conditions to a query over `subscribers` (the list, the count, bulk actions, the export). */
// biome-ignore lint/suspicious/noExplicitAny: one filter for the select and the count query
export function filtered<Q extends { where: (...args: any[]) => Q }>(q: Q, opts: SubscriberFilter): Q {
  let out = q;
  if (opts.status) out = out.where('subscribers.status', '=', opts.status);
  if (opts.search) {
    const like = `%${opts.search.toLowerCase().replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
    out = out.where((eb: ExpressionBuilder<Database, 'subscribers'>) =>
      eb.or([eb('subscribers.email_normalized', 'like', like), eb('subscribers.name', 'ilike', like)]),
    );
  }
  if (opts.section) {
    const key = opts.section;
    out = out.where((eb: ExpressionBuilder<Database, 'subscribers'>) =>
      eb.or([
        eb('subscribers.all_sections', '=', true),
        eb.exists(
          eb
            .selectFrom('subscriber_sections as ss')
            .innerJoin('sections as sec', 'sec.id', 'ss.section_id')
            .select('ss.section_id')
            .whereRef('ss.subscriber_id', '=', 'subscribers.id')
            .where('sec.key', '=', key),
        ),
      ]),
    );
  }
  if (opts.suppressed !== undefined) {
    const clean = notSuppressedAs('subscribers');
    out = out.where((eb: ExpressionBuilder<Database, 'subscribers'>) =>
      opts.suppressed ? eb.not(clean(eb)) : clean(eb),
    );
  }
  return out;
}

/** The filter alone (drops paging and sorting), e.g. to count or to act on the same rows. */
export function filterOf(opts: ListSubscribersOptions): SubscriberFilter {
  const { status, search, section, suppressed } = opts;
  return {
    ...(status ? { status } : {}),
    ...(search ? { search } : {}),
    ...(section ? { section } : {}),
    ...(suppressed !== undefined ? { suppressed } : {}),
  };
}

/** The ids of every subscriber the filter matches (a bulk action's "all n matching"). */
export async function matchingSubscriberIds(db: DbOrTrx, filter: SubscriberFilter): Promise<number[]> {
  const rows = await filtered(
    db.selectFrom('subscribers').select('subscribers.id').orderBy('id'),
    filter,
  ).execute();
  return rows.map((r) => Number(r.id));
}

export async function listSubscribers(
  db: DbOrTrx,
  opts: ListSubscribersOptions = {},
): Promise<SubscriberRecord[]> {
  const limit = Math.min(Math.max(opts.limit ?? 100, 1), 1000);
  let q = filtered(db.selectFrom('subscribers').selectAll().limit(limit), opts);
  if (!opts.sort) {
    q = q.orderBy('id');
    if (opts.afterId !== undefined) q = q.where('id', '>', opts.afterId);
    return withSections(db, await q.execute());
  }
  const desc = opts.direction === 'desc';
  const expr = sortExpression(opts.sort);
  q = q.orderBy(expr, desc ? 'desc' : 'asc').orderBy('subscribers.id', desc ? 'desc' : 'asc');
  if (opts.cursor) {
    const [value, id] = parseCursor(opts.cursor, opts.sort);
    const typed =
      opts.sort === 'created'
        ? sql`${value}::timestamptz`
        : opts.sort === 'status'
          ? sql`${value}::int`
          : sql`${value}::text`;
    // A row comparison walks (value, id) pairs exactly, ties included.
    q = q.where(
      desc
        ? sql<boolean>`(${expr}, subscribers.id) < (${typed}, ${id})`
        : sql<boolean>`(${expr}, subscribers.id) > (${typed}, ${id})`,
    );
  }
  return withSections(db, await q.execute());
}

/** How many subscribers match the same filter as listSubscribers (for "n matches" and paging). */
export async function countSubscribers(db: DbOrTrx, opts: SubscriberFilter = {}): Promise<number> {
  const row = await filtered(
    db.selectFrom('subscribers').select((eb) => eb.fn.countAll<number>().as('n')),
    opts,
  ).executeTakeFirstOrThrow();
  return Number(row.n);
}

export interface SubscriberPatch {
  name?: string | null;
  locale?: Locale;
  sectionKeys?: string[] | 'all';
  status?: SubscriberStatus;
}

/**
 * Changes a subscriber. Status changes follow the lifecycle: someone unsubscribed, bounced or
 * complained is not made active again here (only their own confirmation does that, see opt-in).
 */
export async function updateSubscriber(
  db: Db,
  id: number,
  patch: SubscriberPatch,
  opts: { now?: Date } = {},
): Promise<SubscriberRecord> {
  const now = opts.now ?? new Date();
  await db.transaction().execute(async (trx) => {
    const current = await trx
      .selectFrom('subscribers')
      .selectAll()
      .where('id', '=', id)
      .forUpdate()
      .executeTakeFirst();
    if (!current) throw new SubscriberError('not-found', `No subscriber with id ${id}`);
    const set: Record<string, unknown> = { updated_at: now };
    if (patch.name !== undefined) set.name = cleanName(patch.name);
    if (patch.locale !== undefined) set.locale = patch.locale;
    if (patch.status !== undefined && patch.status !== current.status) {
      if (
        INACTIVE_FOR_GOOD.includes(current.status) &&
        (patch.status === 'active' || patch.status === 'pending')
      ) {
        throw new SubscriberError(
          'reactivation',
          `Subscriber ${id} is ${current.status}; only their own confirmation can make them active again`,
        );
      }
      set.status = patch.status;
      if (patch.status === 'active' && !current.confirmed_at) set.confirmed_at = now;
      if (patch.status === 'unsubscribed') set.unsubscribed_at = now;
    }
    await trx.updateTable('subscribers').set(set).where('id', '=', id).execute();
    if (patch.sectionKeys !== undefined) await setSubscriberSections(trx, id, patch.sectionKeys);
  });
  return (await getSubscriber(db, id)) as SubscriberRecord;
}
