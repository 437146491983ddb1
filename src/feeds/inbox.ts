import { type SelectQueryBuilder, sql, type Transaction } from 'kysely';
import type { Database, Db, Item } from '../db/schema.js';

/**
 * The editors' inbox: fetched items nobody has decided on yet. Accepting sets 'accepted' and puts
 * the item in a draft; dismissing sets 'dismissed'; removing an item from an issue records an
 * exclusion. The rule for "an editor has already decided on this item" is `awaitingDecision`
 * below, and the assembler (src/issues/assemble.ts) places only items it lets through, so what the
 * inbox offers and what assembling would add are the same items.
 */

export type InboxView = 'new' | 'dismissed';

export interface InboxFilter {
  view: InboxView;
  /** A source id, or 'manual' for items an editor added by URL (no source). */
  source?: number | 'manual';
  /** A section id (the one the source's default section or rules gave the item), or 'none'. */
  section?: number | 'none';
  /** Inclusive start and exclusive end, on the item's publication time (else when it was fetched). */
  from?: Date;
  to?: Date;
  /** Words that must each occur in the title or the summary (substring, case-insensitive). */
  text?: string;
}

export interface InboxCandidate {
  id: number;
  title: string;
  at: Date;
}

/** ILIKE pattern for a literal substring: %, _ and the escape character lose their meaning. */
export function likePattern(term: string): string {
  return `%${term.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
}

/** The search words: whitespace separated (Chinese has no spaces, so a phrase stays one word). */
export function searchTerms(text: string | undefined): string[] {
  return (text ?? '')
    .normalize('NFKC')
    .split(/\s+/)
    .map((t) => t.trim())
    .filter(Boolean)
    .slice(0, 8);
}

/**
 * The one rule for an item still awaiting an editor's decision: its status is 'new' (not dismissed,
 * not accepted by hand) and no live issue (any state but cancelled) holds it or has excluded it.
 * Removing an item from an issue is a decision about the item, not only about that issue: it does
 * not come back in the inbox, nor in another period's draft. Cancelling an issue undoes its
 * decisions: its items, accepted ones too (`releaseItemsOfCancelled`), await a decision again.
 */
export function awaitingDecision<O>(
  q: SelectQueryBuilder<Database, 'items', O>,
): SelectQueryBuilder<Database, 'items', O> {
  return q
    .where('items.status', '=', 'new')
    .where(({ not, exists, selectFrom }) =>
      not(
        exists(
          selectFrom('issue_items as ii')
            .innerJoin('issues as i', 'i.id', 'ii.issue_id')
            .select(sql`1`.as('one'))
            .whereRef('ii.item_id', '=', 'items.id')
            .where('i.state', '!=', 'cancelled'),
        ),
      ),
    )
    .where(({ not, exists, selectFrom }) =>
      not(
        exists(
          selectFrom('issue_item_exclusions as x')
            .innerJoin('issues as i', 'i.id', 'x.issue_id')
            .select(sql`1`.as('one'))
            .whereRef('x.item_id', '=', 'items.id')
            .where('i.state', '!=', 'cancelled'),
        ),
      ),
    );
}

/**
 * Part of cancelling an issue (delivery's cancelIssue, in its transaction): items accepted by hand
 * into it go back to 'new' unless another live issue holds them, so they await a decision again
 * like the items the assembler had placed. Returns how many.
 */
export async function releaseItemsOfCancelled(
  trx: Transaction<Database>,
  issueId: number,
  at: Date,
): Promise<number> {
  const result = await sql`
    UPDATE items SET status = 'new', updated_at = ${at}
    WHERE status = 'accepted'
      AND id IN (SELECT item_id FROM issue_items WHERE issue_id = ${issueId} AND item_id IS NOT NULL)
      AND NOT EXISTS (SELECT 1 FROM issue_items ii JOIN issues i ON i.id = ii.issue_id
                      WHERE ii.item_id = items.id AND i.id <> ${issueId} AND i.state <> 'cancelled')
  `.execute(trx);
  return Number(result.numAffectedRows ?? 0);
}

/** How many inbox items each source has (manual items under null), for the sources page. */
export async function inboxCountsBySource(db: Db): Promise<Map<number | null, number>> {
  const rows = await awaitingDecision(
    db.selectFrom('items').select(['items.source_id', (eb) => eb.fn.countAll<string>().as('n')]),
  )
    .groupBy('items.source_id')
    .execute();
  return new Map(rows.map((r) => [r.source_id, Number(r.n)]));
}

/**
 * Every item matching the filter, newest first, as light rows (id, title, time) for grouping;
 * at most `cap` of them (`truncated` says there were more). Text search is ILIKE: Chinese has
 * no word boundaries, so a substring match is what an editor expects, and it works the same on
 * PostgreSQL and the embedded PGlite (pg_trgm is not installed by our migrations, and its
 * trigrams ignore CJK characters under some locales). An inbox holds hundreds to a few thousand
 * rows, which a sequential scan reads in milliseconds.
 */
export async function listInboxCandidates(
  db: Db,
  filter: InboxFilter,
  cap = 2000,
): Promise<{ rows: InboxCandidate[]; truncated: boolean }> {
  const at = sql<Date>`coalesce(items.published_at, items.fetched_at)`;
  const base = db.selectFrom('items').select(['items.id', 'items.title', at.as('at')]);
  let q = filter.view === 'new' ? awaitingDecision(base) : base.where('items.status', '=', 'dismissed');
  if (filter.source === 'manual') q = q.where('items.source_id', 'is', null);
  else if (filter.source !== undefined) q = q.where('items.source_id', '=', filter.source);
  if (filter.section === 'none') q = q.where('items.section_id', 'is', null);
  else if (filter.section !== undefined) q = q.where('items.section_id', '=', filter.section);
  if (filter.from) q = q.where(at, '>=', filter.from);
  if (filter.to) q = q.where(at, '<', filter.to);
  for (const term of searchTerms(filter.text)) {
    const pattern = likePattern(term);
    q = q.where((eb) =>
      eb.or([eb('items.title', 'ilike', pattern), eb('items.summary_text', 'ilike', pattern)]),
    );
  }
  const rows = await q
    .orderBy(at, 'desc')
    .orderBy('items.id', 'desc')
    .limit(cap + 1)
    .execute();
  return { rows: rows.slice(0, cap), truncated: rows.length > cap };
}

export type InboxItem = Item & {
  source_name: string | null;
  section_key: string | null;
  /** Every distinct URL the item was seen at (one per source that carried it). */
  urls: string[];
  /** How many sources carried it. */
  sightings: number;
};

/** Full rows for the given ids, in the order given. */
export async function loadInboxItems(db: Db, ids: number[]): Promise<InboxItem[]> {
  if (ids.length === 0) return [];
  const rows = await db
    .selectFrom('items')
    .leftJoin('sources', 'sources.id', 'items.source_id')
    .leftJoin('sections', 'sections.id', 'items.section_id')
    .selectAll('items')
    .select(['sources.name as source_name', 'sections.key as section_key'])
    .where('items.id', 'in', ids)
    .execute();
  const sightings = await db
    .selectFrom('item_sightings')
    .select(['item_id', 'url', 'source_id'])
    .where('item_id', 'in', ids)
    .orderBy('id')
    .execute();
  const byId = new Map(rows.map((r) => [r.id, r]));
  return ids.flatMap((id) => {
    const row = byId.get(id);
    if (!row) return [];
    const own = sightings.filter((s) => s.item_id === id);
    return [
      {
        ...row,
        urls: [...new Set(own.map((s) => s.url).filter((u): u is string => !!u))],
        sightings: new Set(own.map((s) => s.source_id ?? `manual:${s.url}`)).size,
      },
    ];
  });
}

/**
 * Moves items from one status to another by conditional update, so two editors acting on the same
 * item at once cannot both win: only rows still in `from` change. Returns the ids that changed.
 */
export async function setItemsStatus(
  db: Db,
  ids: number[],
  from: Item['status'],
  to: Item['status'],
  now: Date,
): Promise<number[]> {
  if (ids.length === 0) return [];
  const rows = await db
    .updateTable('items')
    .set({ status: to, updated_at: now })
    .where('id', 'in', ids)
    .where('status', '=', from)
    .returning('id')
    .execute();
  return rows.map((r) => r.id);
}

// --- near-duplicates (pure) ------------------------------------------------------------------

/** Titles often end with the site's name ("… - 新华网", "… | Reuters"); such a tail is dropped. */
const SITE_TAIL = /\s+[-|—–_]\s+[^-|—–_]{1,20}$/u;

/**
 * A title reduced to what identifies the story: Unicode-normalised (full-width ＡＩ = AI),
 * lower case, without a trailing " - Site" and without anything that is not a letter or digit
 * (spaces, 《》, quotes and punctuation differ between sites reporting the same news).
 */
export function normaliseTitle(title: string): string {
  let t = title.normalize('NFKC').trim();
  const tail = SITE_TAIL.exec(t);
  if (tail && t.length - tail[0].length >= 8) t = t.slice(0, t.length - tail[0].length);
  return t.toLowerCase().replace(/[^\p{L}\p{N}]+/gu, '');
}

function bigrams(s: string): Set<string> {
  const chars = [...s];
  const out = new Set<string>();
  for (let i = 0; i + 1 < chars.length; i++) out.add(`${chars[i]}${chars[i + 1]}`);
  return out;
}

/** Dice coefficient of the two normalised titles' character bigrams (0..1). */
export function titleSimilarity(a: string, b: string): number {
  const x = bigrams(normaliseTitle(a));
  const y = bigrams(normaliseTitle(b));
  if (x.size === 0 || y.size === 0) return 0;
  let shared = 0;
  for (const g of x) if (y.has(g)) shared++;
  return (2 * shared) / (x.size + y.size);
}

export const NEAR_DUPLICATE_THRESHOLD = 0.75;
/** Shorter normalised titles ("通知", "News") only group when equal: two characters say too little. */
const MIN_SIMILAR_LENGTH = 6;

/**
 * Groups near-duplicate items, keeping the input order (each group sits where its first member
 * was). The same canonical URL is already one item (items.canonical_url is unique; a second
 * source carrying it adds a sighting, shown as "seen at N sources"), so what is left to find
 * here is the same story at different addresses. Two items belong together when their
 * normalised titles are equal, or when both have at least six characters and the Dice
 * coefficient of their character bigrams is at least 0.75. Character bigrams suit Chinese,
 * which has no spaces (words are mostly two characters), as well as English; 0.75 joins
 * "欧盟发布《通用人工智能实践准则》" with "欧盟正式发布通用人工智能实践准则" (0.86) and keeps it
 * apart from "欧盟发布《通用人工智能模型提供者义务范围指南》" (0.48). Titles whose numbers
 * differ never group. Grouping is transitive.
 * An inverted index on bigrams means only titles sharing a bigram are compared.
 */
export function groupNearDuplicates<T extends { id: number; title: string }>(
  items: readonly T[],
  threshold = NEAR_DUPLICATE_THRESHOLD,
): T[][] {
  const parent = items.map((_, i) => i);
  const find = (i: number): number => {
    let r = i;
    while (parent[r] !== r) r = parent[r] as number;
    let c = i;
    while (parent[c] !== r) {
      const next = parent[c] as number;
      parent[c] = r;
      c = next;
    }
    return r;
  };
  const union = (a: number, b: number) => {
    const ra = find(a);
    const rb = find(b);
    if (ra !== rb) parent[Math.max(ra, rb)] = Math.min(ra, rb);
  };

  const norms = items.map((it) => normaliseTitle(it.title));
  const grams = norms.map((n) => bigrams(n));
  // Numbers tell parts, issues and articles apart ("… - Part 1" and "… - Part 2" lose their tails
  // alike; "第5条" and "第6条" differ by one bigram): titles with different numbers never group.
  const numbers = items.map((it) => (it.title.normalize('NFKC').match(/\d+/g) ?? []).join(','));
  const exact = new Map<string, number>();
  const index = new Map<string, number[]>();
  const shared = new Uint32Array(items.length);
  const touched: number[] = [];
  for (let i = 0; i < items.length; i++) {
    const norm = norms[i] as string;
    if (norm) {
      const key = `${norm}#${numbers[i]}`;
      const same = exact.get(key);
      if (same !== undefined) union(same, i);
      else exact.set(key, i);
    }
    const mine = grams[i] as Set<string>;
    if ([...norm].length >= MIN_SIMILAR_LENGTH) {
      // Shared bigrams with every earlier title, counted in a typed array (a Map here was ten
      // times slower on an inbox where most titles say 人工智能).
      touched.length = 0;
      for (const g of mine) {
        for (const j of index.get(g) ?? []) {
          if (shared[j] === 0) touched.push(j);
          shared[j] = (shared[j] as number) + 1;
        }
      }
      for (const j of touched) {
        const dice = (2 * (shared[j] as number)) / (mine.size + (grams[j] as Set<string>).size);
        if (dice >= threshold && numbers[j] === numbers[i]) union(j, i);
        shared[j] = 0;
      }
      for (const g of mine) {
        const list = index.get(g);
        if (list) list.push(i);
        else index.set(g, [i]);
      }
    }
  }
  const groups = new Map<number, T[]>();
  for (let i = 0; i < items.length; i++) {
    const root = find(i);
    const group = groups.get(root);
    if (group) group.push(items[i] as T);
    else groups.set(root, [items[i] as T]);
  }
  return [...groups.values()];
}
