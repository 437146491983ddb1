import type { Env } from '../config/env.js';
import type { Db, Item } from '../db/schema.js';
import type { Logger } from '../log.js';
import { privatePolicy } from './address-guard.js';
import { canonicalUrl, contentHash } from './canonical-url.js';
import { decodeBody } from './charset.js';
import { parseFeedDate } from './dates.js';
import { fetchWithLimits, limitsFromEnv, PAGE_ACCEPT } from './fetch.js';
import { extractPageMetadata } from './page-metadata.js';
import { SourceInputError, sectionIdForKey } from './sources.js';

/**
 * Items outside feeds: an editor adds an article by URL (a site with no feed); Gazette fetches
 * the page under the same limits and address guard as feeds and fills title, description and date
 * from its metadata. Every field stays editable afterwards.
 */

export interface AddUrlInput {
  url: string;
  sectionKey?: string;
  /** Editor's values win over the page's. */
  title?: string;
  summary?: string;
  publishedAt?: string;
  allowPrivate?: boolean;
}

export interface AddUrlResult {
  item: Item;
  created: boolean;
}

export async function addItemFromUrl(
  deps: { db: Db; log: Logger; env: Env; now?: () => Date },
  input: AddUrlInput,
): Promise<AddUrlResult> {
  const { db, env, log } = deps;
  const now = deps.now?.() ?? new Date();
  const canonical = canonicalUrl(input.url);
  if (!canonical)
    throw new SourceInputError(`"${input.url}" is not an http(s) URL`, 'item-url', { url: input.url });
  const existing = await db
    .selectFrom('items')
    .selectAll()
    .where('canonical_url', '=', canonical)
    .executeTakeFirst();
  if (existing) return { item: existing, created: false };
  const sectionId = input.sectionKey ? await sectionIdForKey(db, input.sectionKey) : null;

  const limits = limitsFromEnv(
    env,
    privatePolicy(env.FETCH_ALLOW_PRIVATE, input.allowPrivate ?? false),
    PAGE_ACCEPT,
  );
  const res = await fetchWithLimits(input.url, limits);
  const page = decodeBody(res.body, res.headers['content-type']);
  const meta = extractPageMetadata(page.text, res.url, env.DEFAULT_TIME_ZONE);
  const editorDate = input.publishedAt ? parseFeedDate(input.publishedAt, env.DEFAULT_TIME_ZONE) : null;
  if (input.publishedAt && !editorDate)
    throw new SourceInputError(`"${input.publishedAt}" is not a date`, 'item-date', {
      date: input.publishedAt,
    });
  const title = input.title?.trim() || meta.title || res.url;
  const summary = input.summary?.trim() ?? meta.description ?? '';
  const inserted = await db
    .insertInto('items')
    .values({
      source_id: null,
      guid: null,
      canonical_url: canonical,
      link: input.url,
      title,
      summary_text: summary,
      content_html: '',
      author: meta.author,
      categories: '[]',
      published_at: editorDate ? editorDate.utc : meta.publishedAt,
      published_offset: editorDate ? editorDate.offset : meta.publishedOffset,
      section_id: sectionId,
      content_hash: contentHash(title, summary),
      fetched_at: now,
    })
    .onConflict((oc) => oc.column('canonical_url').where('canonical_url', 'is not', null).doNothing())
    .returningAll()
    .executeTakeFirst();
  if (!inserted) {
    const raced = await db
      .selectFrom('items')
      .selectAll()
      .where('canonical_url', '=', canonical)
      .executeTakeFirstOrThrow();
    return { item: raced, created: false };
  }
  await db
    .insertInto('item_sightings')
    .values({ item_id: inserted.id, source_id: null, guid: canonical, url: res.url, seen_at: now })
    .execute();
  log.info({ event: 'item.added_from_url', itemId: inserted.id }, 'item added from a page');
  return { item: inserted, created: true };
}

export interface ItemUpdate {
  title?: string;
  summaryText?: string;
  publishedAt?: string | null;
  sectionKey?: string | null;
  status?: 'new' | 'accepted' | 'dismissed';
}

export async function updateItem(
  db: Db,
  id: number,
  update: ItemUpdate,
  defaultZone = 'Asia/Shanghai',
): Promise<Item> {
  const set: Record<string, unknown> = { updated_at: new Date() };
  if (update.title !== undefined) {
    if (!update.title.trim()) throw new SourceInputError('an item needs a title', 'item-title');
    set.title = update.title.trim();
  }
  if (update.summaryText !== undefined) set.summary_text = update.summaryText;
  if (update.publishedAt !== undefined) {
    if (update.publishedAt === null) Object.assign(set, { published_at: null, published_offset: null });
    else {
      const d = parseFeedDate(update.publishedAt, defaultZone);
      if (!d)
        throw new SourceInputError(`"${update.publishedAt}" is not a date`, 'item-date', {
          date: update.publishedAt,
        });
      Object.assign(set, { published_at: d.utc, published_offset: d.offset });
    }
  }
  if (update.sectionKey !== undefined)
    set.section_id = update.sectionKey ? await sectionIdForKey(db, update.sectionKey) : null;
  if (update.status !== undefined) set.status = update.status;
  const row = await db.updateTable('items').set(set).where('id', '=', id).returningAll().executeTakeFirst();
  if (!row) throw new SourceInputError(`no item with id ${id}`, 'item-missing', { id });
  return row;
}

export interface ListItemsOptions {
  sourceId?: number;
  sectionKey?: string;
  status?: 'new' | 'accepted' | 'dismissed';
  limit?: number;
}

export type ListedItem = Item & { section_key: string | null; source_name: string | null; urls: string[] };

/** Newest first, with the section key, the source name and every URL the item was seen at. */
export async function listItems(db: Db, opts: ListItemsOptions = {}): Promise<ListedItem[]> {
  let q = db
    .selectFrom('items')
    .leftJoin('sections', 'sections.id', 'items.section_id')
    .leftJoin('sources', 'sources.id', 'items.source_id')
    .selectAll('items')
    .select(['sections.key as section_key', 'sources.name as source_name']);
  if (opts.sourceId !== undefined) q = q.where('items.source_id', '=', opts.sourceId);
  if (opts.sectionKey !== undefined) q = q.where('sections.key', '=', opts.sectionKey);
  if (opts.status !== undefined) q = q.where('items.status', '=', opts.status);
  const rows = await q
    .orderBy('items.published_at', (ob) => ob.desc().nullsLast())
    .orderBy('items.id', 'desc')
    .limit(opts.limit ?? 50)
    .execute();
  if (rows.length === 0) return [];
  const sightings = await db
    .selectFrom('item_sightings')
    .select(['item_id', 'url'])
    .where(
      'item_id',
      'in',
      rows.map((r) => r.id),
    )
    .orderBy('id')
    .execute();
  return rows.map((r) => ({
    ...r,
    urls: [...new Set(sightings.filter((s) => s.item_id === r.id && s.url).map((s) => s.url as string))],
  }));
}
