import { sql } from 'kysely';
import type { Locale } from '../db/schema.js';
import type { RenderableIssue } from '../rendering/types.js';
import { variantKey } from '../rendering/variant-plan.js';
import type { DeliveryDeps, SendJobData } from './deps.js';
import { enqueueRanges, type SendQueue } from './queue.js';

/** Delivery rows name their variant as `<locale>|<section keys in issue order>`. */
/**
 * The rendering stage's variant key (`zh-CN:cases+industry`: locale, then the section keys in
 * code-point order), so a variant is compiled and stored once under one name. The SQL in
 * prepareIssue builds the same string (ORDER BY key COLLATE "C").
 */
export function deliveryVariantKey(locale: Locale, sectionKeys: string[]): string {
  return variantKey(sectionKeys, locale);
}

/** The locale part of a variant key, cheap enough to call per message. */
export function variantLocale(key: string): Locale {
  return key.slice(0, key.indexOf(':')) as Locale;
}

export function parseDeliveryVariantKey(key: string): { locale: Locale; sectionKeys: string[] } {
  const at = key.indexOf(':');
  const keys = key.slice(at + 1);
  return { locale: key.slice(0, at) as Locale, sectionKeys: keys ? keys.split('+') : [] };
}

export interface PrepareResult {
  issueId: number;
  revision: number;
  queued: number;
  skipped: number;
  variants: string[];
  batches: number;
}

/**
 * Freezes the audience into delivery rows (invariant 6), by keyset over subscriber id so memory
 * stays flat at any list size. Each row gets the variant for the subscriber's sections that have
 * items in this issue and their locale; a subscriber whose chosen sections are all empty is
 * recorded as skipped. Re-running continues where a crash stopped (ON CONFLICT DO NOTHING).
 * With a queue, each batch's rows are enqueued as soon as they exist.
 */
export async function prepareIssue(
  deps: DeliveryDeps,
  issueId: number,
  opts: { queue?: SendQueue; batchSize?: number; issue?: RenderableIssue } = {},
): Promise<PrepareResult> {
  const { db, log, env } = deps;
  const issue = opts.issue ?? (await deps.content.loadIssue(db, issueId));
  const batchSize = opts.batchSize ?? 5000;
  const nonEmpty = issue.sections.filter((s) => s.items.length > 0).map((s) => s.key);
  const sectionRows = nonEmpty.length
    ? await db.selectFrom('sections').select(['id', 'key']).where('key', 'in', nonEmpty).execute()
    : [];
  const idByKey = new Map(sectionRows.map((r) => [r.key, r.id]));
  const keys = nonEmpty.filter((k) => idByKey.has(k));
  const sectionIds = keys.map((k) => idByKey.get(k) as number);

  const variants = new Set<string>();
  let lastId = 0;
  let queued = 0;
  let skipped = 0;
  let batches = 0;
  for (;;) {
    // The batch comes back summarised — send-job ranges, variant keys, counts, the keyset's next
    // start — rather than row by row, so the process handles a few dozen values per batch.
    const { rows } = await sql<{
      kind: 'range' | 'variant' | 'skipped' | 'last';
      key: string | null;
      n: number | null;
      lo: number | null;
      hi: number | null;
    }>`
      WITH batch AS (
        SELECT s.id, s.locale, s.all_sections, s.email_normalized FROM subscribers s
        WHERE s.status = 'active' AND s.id > ${lastId}
        ORDER BY s.id LIMIT ${batchSize}
      ), chosen AS (
        SELECT b.id, b.locale,
          (SELECT string_agg(x.key, '+' ORDER BY x.key COLLATE "C")
             FROM unnest(${keys}::text[], ${sectionIds}::int[]) WITH ORDINALITY AS x(key, sid, ord)
             WHERE b.all_sections
                OR EXISTS (SELECT 1 FROM subscriber_sections ss WHERE ss.subscriber_id = b.id AND ss.section_id = x.sid)
          ) AS keys
        FROM batch b
        WHERE NOT EXISTS (SELECT 1 FROM suppressions x
                          WHERE (x.kind = 'address' AND x.value = b.email_normalized)
                             OR (x.kind = 'domain' AND x.value = split_part(b.email_normalized, '@', 2)))
          AND (b.all_sections OR EXISTS (SELECT 1 FROM subscriber_sections ss WHERE ss.subscriber_id = b.id))
      ), ins AS (
        INSERT INTO deliveries (issue_id, subscriber_id, variant_key, state, skip_reason)
        SELECT ${issueId}, c.id,
          CASE WHEN c.keys IS NULL THEN NULL ELSE c.locale || ':' || c.keys END,
          CASE WHEN c.keys IS NULL THEN 'skipped' ELSE 'queued' END,
          CASE WHEN c.keys IS NULL THEN 'chosen_sections_empty' END
        FROM chosen c
        ON CONFLICT (issue_id, subscriber_id) DO NOTHING
        RETURNING id, variant_key, state
      ), numbered AS (
        SELECT id, (row_number() OVER (ORDER BY id) - 1) / ${env.SEND_BATCH_SIZE} AS grp
        FROM ins WHERE state = 'queued'
      )
      SELECT 'range' AS kind, NULL AS key, count(*) AS n, min(id) AS lo, max(id) AS hi FROM numbered GROUP BY grp
      UNION ALL
      SELECT 'variant', variant_key, count(*), NULL, NULL FROM ins WHERE state = 'queued' GROUP BY variant_key
      UNION ALL
      SELECT 'skipped', NULL, count(*), NULL, NULL FROM ins WHERE state = 'skipped'
      UNION ALL
      SELECT 'last', NULL, NULL, NULL, max(id) FROM batch
    `.execute(db);
    const last = rows.find((r) => r.kind === 'last');
    if (!last || last.hi === null) break;
    lastId = Number(last.hi);
    batches++;
    const ranges: SendJobData[] = [];
    let batchQueued = 0;
    let batchSkipped = 0;
    for (const r of rows) {
      if (r.kind === 'range') {
        ranges.push({ issueId, fromId: Number(r.lo), toId: Number(r.hi) });
        batchQueued += Number(r.n);
      } else if (r.kind === 'variant') variants.add(r.key as string);
      else if (r.kind === 'skipped') batchSkipped += Number(r.n);
    }
    queued += batchQueued;
    skipped += batchSkipped;
    ranges.sort((a, b) => a.fromId - b.fromId);
    // Compile before enqueueing, so a worker never meets a variant that does not exist yet.
    await ensureVariants(deps, issue, variants);
    if (opts.queue) await enqueueRanges(opts.queue, ranges);
    log.debug(
      { event: 'delivery.prepare.batch', issueId, lastId, queued: batchQueued, skipped: batchSkipped },
      'audience batch frozen',
    );
  }
  // A re-run after a crash finds rows inserted earlier: make sure their variants exist too.
  const existing = await db
    .selectFrom('deliveries')
    .select('variant_key')
    .distinct()
    .where('issue_id', '=', issueId)
    .where('variant_key', 'is not', null)
    .execute();
  for (const r of existing) variants.add(r.variant_key as string);
  await ensureVariants(deps, issue, variants);
  await db
    .updateTable('issues')
    .set({ prepared_at: deps.now(), updated_at: deps.now() })
    .where('id', '=', issueId)
    .where('prepared_at', 'is', null)
    .execute();
  log.info(
    { event: 'delivery.prepare.done', issueId, queued, skipped, variants: variants.size },
    'audience frozen',
  );
  return { issueId, revision: issue.revision, queued, skipped, variants: [...variants].sort(), batches };
}

const compiled = new WeakMap<RenderableIssue, Set<string>>();

/** Compiles each variant once per issue revision and keeps it in issue_variants for the workers. */
async function ensureVariants(deps: DeliveryDeps, issue: RenderableIssue, keys: Set<string>): Promise<void> {
  const done = compiled.get(issue) ?? new Set<string>();
  compiled.set(issue, done);
  const missing = [...keys].filter((k) => !done.has(k));
  if (!missing.length) return;
  const present = await deps.db
    .selectFrom('issue_variants')
    .select('variant_key')
    .where('issue_id', '=', issue.id)
    .where('revision', '=', issue.revision)
    .where('variant_key', 'in', missing)
    .execute();
  for (const p of present) done.add(p.variant_key);
  for (const key of missing) {
    if (done.has(key)) continue;
    const { locale, sectionKeys } = parseDeliveryVariantKey(key);
    const v = await deps.content.compileVariant(deps.db, issue, {
      sectionKeys,
      locale,
      publicUrl: deps.env.PUBLIC_URL,
    });
    await deps.db
      .insertInto('issue_variants')
      .values({
        issue_id: issue.id,
        revision: issue.revision,
        variant_key: key,
        locale,
        section_keys: sectionKeys,
        subject: v.subject,
        html: v.html,
        text: v.text,
        html_bytes: v.htmlBytes ?? Buffer.byteLength(v.html),
        text_bytes: v.textBytes ?? Buffer.byteLength(v.text),
        warnings: JSON.stringify(v.warnings ?? []),
      })
      .onConflict((oc) => oc.columns(['issue_id', 'revision', 'variant_key']).doNothing())
      .execute();
    done.add(key);
  }
}
