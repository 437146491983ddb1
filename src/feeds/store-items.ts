import type { Db, Source } from '../db/schema.js';
import { canonicalUrl, contentHash } from './canonical-url.js';
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
  for (const item of items) if (!byKey.has(sightingKey(item))) byKey.set(sightingKey(item), item);
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

  await db.transaction().execute(async (trx) => {
    for (const key of fresh) {
      const item = byKey.get(key) as NormalizedItem;
      const decision = applyRules(source.rules, item);
      if (!decision.keep) {
        result.filteredItems++;
        continue;
      }
      const sectionId = (decision.sectionKey && sections.get(decision.sectionKey)) || source.section_id;
      const canonical = canonicalUrl(item.link);
      const hash = contentHash(item.title, item.summaryText);
      let itemId: number | undefined;
      const existing = canonical
        ? await trx.selectFrom('items').select('id').where('canonical_url', '=', canonical).executeTakeFirst()
        : await trx
            .selectFrom('items')
            .select('id')
            .where('canonical_url', 'is', null)
            .where('content_hash', '=', hash)
            .executeTakeFirst();
      if (existing) {
        itemId = existing.id;
        result.seenItems++;
      } else {
        const inserted = await trx
          .insertInto('items')
          .values({
            source_id: source.id,
            guid: item.guid,
            canonical_url: canonical,
            link: item.link,
            title: item.title,
            summary_text: item.summaryText,
            content_html: item.contentHtml,
            author: item.author,
            categories: JSON.stringify(item.categories),
            published_at: item.publishedAt,
            published_offset: item.publishedOffset,
            section_id: sectionId,
            content_hash: hash,
            fetched_at: now,
          })
          .onConflict((oc) => oc.column('canonical_url').where('canonical_url', 'is not', null).doNothing())
          .returning('id')
          .executeTakeFirst();
        if (inserted) {
          itemId = inserted.id;
          result.newItems++;
          result.newItemIds.push(inserted.id);
        } else {
          // Another source stored the same article a moment ago.
          const other = await trx
            .selectFrom('items')
            .select('id')
            .where('canonical_url', '=', canonical)
            .executeTakeFirstOrThrow();
          itemId = other.id;
          result.seenItems++;
        }
      }
      await trx
        .insertInto('item_sightings')
        .values({ item_id: itemId, source_id: source.id, guid: key, url: item.link, seen_at: now })
        .onConflict((oc) => oc.columns(['source_id', 'guid']).doNothing())
        .execute();
    }
  });
  return result;
}
