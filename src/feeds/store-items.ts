import type { Db, Source } from '../db/schema.js';
import { canonicalUrl, contentHash, httpLink } from './canonical-url.js';
import type { NormalizedItem } from './parse.js';
import { applyRules } from './rules.js';

/**
 * Stores a poll's items. Within a source an item is known by its guid (else its canonical link,
 * else a hash of its content); across sources by its canonical URL. An item seen again, here or
 * at another source, gains a sighting (every URL it was seen at is kept) instead of a copy.
 */

export interface StoreResult {
  newItems: number;
  seenItems: number;
  filteredItems: number;
  newItemIds: number[];
}

export function sightingKey(item: NormalizedItem): string {
  return item.guid ?? canonicalUrl(item.link) ?? `sha256:${contentHash(item.title, item.summaryText)}`;
}

async function sectionIds(db: Db): Promise<Map<string, number>> {
  const rows = await db.selectFrom('sections').select(['id', 'key']).execute();
  return new Map(rows.map((r) => [r.key, r.id]));
}

export async function storeItems(
  db: Db,
  source: Pick<Source, 'id' | 'section_id' | 'rules'>,
  items: NormalizedItem[],
  now: Date,
): Promise<StoreResult> {
  const result: StoreResult = { newItems: 0, seenItems: 0, filteredItems: 0, newItemIds: [] };
  if (items.length === 0) return result;
  // A feed may repeat an entry; the first occurrence counts.
  const byKey = new Map<string, NormalizedItem>();
  for (const raw of items) {
    // A feed's javascript:, data: or other non-web link is dropped here; the entry itself is kept.
    const item = raw.link === null || httpLink(raw.link) ? raw : { ...raw, link: null };
    if (!byKey.has(sightingKey(item))) byKey.set(sightingKey(item), item);
  }
  const keys = [...byKey.keys()];
  const known = new Set(
    (
      await db
        .selectFrom('item_sightings')
        .select('guid')
        .where('source_id', '=', source.id)
        .where('guid', 'in', keys)
        .execute()
    ).map((r) => r.guid),
  );
  result.seenItems += known.size;
  const fresh = keys.filter((k) => !known.has(k));
  if (fresh.length === 0) return result;
  const sections = source.rules.some((r) => r.sectionKey) ? await sectionIds(db) : new Map<string, number>();

  // Decide first (pure), then write in a few set-wise statements rather than one per item.
  type Planned = {
    key: string;
    item: NormalizedItem;
    canonical: string | null;
    hash: string;
    sectionId: number | null;
  };
  const planned: Planned[] = [];
  for (const key of fresh) {
    const item = byKey.get(key) as NormalizedItem;
    const decision = applyRules(source.rules, item);
    if (!decision.keep) {
      result.filteredItems++;
      continue;
    }
    planned.push({
      key,
      item,
      canonical: canonicalUrl(item.link),
      hash: contentHash(item.title, item.summaryText),
      sectionId: (decision.sectionKey && sections.get(decision.sectionKey)) || source.section_id,
    });
  }
  if (planned.length === 0) return result;

  await db.transaction().execute(async (trx) => {
    const itemIdFor = new Map<Planned, number>();
    // Already stored elsewhere: by canonical URL, or (no link at all) by content hash.
    const canonicals = [...new Set(planned.map((p) => p.canonical).filter((c): c is string => c !== null))];
    const byCanonical = new Map<string, number>();
    if (canonicals.length) {
      for (const row of await trx
        .selectFrom('items')
        .select(['id', 'canonical_url'])
        .where('canonical_url', 'in', canonicals)
        .execute()) {
        byCanonical.set(row.canonical_url as string, row.id);
      }
    }
    const hashes = planned.filter((p) => !p.canonical).map((p) => p.hash);
    const byHash = new Map<string, number>();
    if (hashes.length) {
      for (const row of await trx
        .selectFrom('items')
        .select(['id', 'content_hash'])
        .where('canonical_url', 'is', null)
        .where('content_hash', 'in', hashes)
        .execute()) {
        byHash.set(row.content_hash as string, row.id);
      }
    }
    const toInsert: Planned[] = [];
    for (const p of planned) {
      const known = p.canonical ? byCanonical.get(p.canonical) : byHash.get(p.hash);
      if (known !== undefined) {
        itemIdFor.set(p, known);
        result.seenItems++;
      } else if (p.canonical && toInsert.some((q) => q.canonical === p.canonical)) {
        // Two entries of one feed point at the same article: the first one is stored.
        result.seenItems++;
      } else {
        toInsert.push(p);
      }
    }
    if (toInsert.length) {
      const inserted = await trx
        .insertInto('items')
        .values(
          toInsert.map((p) => ({
            source_id: source.id,
            guid: p.item.guid,
            canonical_url: p.canonical,
            link: p.item.link,
            title: p.item.title,
            summary_text: p.item.summaryText,
            content_html: p.item.contentHtml,
            author: p.item.author,
            categories: JSON.stringify(p.item.categories),
            published_at: p.item.publishedAt,
            published_offset: p.item.publishedOffset,
            section_id: p.sectionId,
            content_hash: p.hash,
            fetched_at: now,
          })),
        )
        .onConflict((oc) => oc.column('canonical_url').where('canonical_url', 'is not', null).doNothing())
        .returning(['id', 'canonical_url', 'content_hash'])
        .execute();
      const insertedByCanonical = new Map(
        inserted.filter((r) => r.canonical_url).map((r) => [r.canonical_url as string, r.id]),
      );
      const insertedByHash = new Map(
        inserted.filter((r) => !r.canonical_url).map((r) => [r.content_hash as string, r.id]),
      );
      const raced: Planned[] = [];
      for (const p of toInsert) {
        const id = p.canonical ? insertedByCanonical.get(p.canonical) : insertedByHash.get(p.hash);
        if (id !== undefined) {
          itemIdFor.set(p, id);
          result.newItems++;
          result.newItemIds.push(id);
        } else raced.push(p);
      }
      // Another source stored the same article a moment ago (its insert won the unique index).
      if (raced.length) {
        const rows = await trx
          .selectFrom('items')
          .select(['id', 'canonical_url'])
          .where(
            'canonical_url',
            'in',
            raced.map((p) => p.canonical as string),
          )
          .execute();
        const ids = new Map(rows.map((r) => [r.canonical_url as string, r.id]));
        for (const p of raced) {
          const id = ids.get(p.canonical as string);
          if (id !== undefined) itemIdFor.set(p, id);
          result.seenItems++;
        }
      }
    }
    // Duplicates within the feed resolve to the item their first occurrence created.
    for (const p of planned) {
      if (!itemIdFor.has(p) && p.canonical) {
        const first = planned.find((q) => q.canonical === p.canonical && itemIdFor.has(q));
        if (first) itemIdFor.set(p, itemIdFor.get(first) as number);
      }
    }
    const sightings = planned
      .filter((p) => itemIdFor.has(p))
      .map((p) => ({
        item_id: itemIdFor.get(p) as number,
        source_id: source.id,
        guid: p.key,
        url: p.item.link,
        seen_at: now,
      }));
    if (sightings.length) {
      await trx
        .insertInto('item_sightings')
        .values(sightings)
        .onConflict((oc) => oc.columns(['source_id', 'guid']).doNothing())
        .execute();
    }
  });
  return result;
}
