import { sql } from 'kysely';
import type { Db } from '../db/schema.js';

/**
 * Per-issue statistics from the ledger (deliveries) and the events table. "Accepted" is what the
 * relay took, not what arrived; bounces and complaints are learned later and counted per delivery.
 * Opens are unique per delivery; `openedDirect` leaves out opens seen only through a mail-privacy
 * proxy (Apple MPP, Google image proxy), which say little about reading.
 */
export interface Counts {
  prepared: number;
  pending: number;
  accepted: number;
  deferred: number;
  failed: number;
  unknown: number;
  skipped: number;
  bounced: number;
  softBounced: number;
  complained: number;
  opened: number;
  openedDirect: number;
  clickedUnique: number;
  clicksTotal: number;
  unsubscribed: number;
}

export interface IssueStatistics {
  issueId: number;
  title: string | null;
  state: string | null;
  totals: Counts & {
    rates: { open: number | null; click: number | null; bounce: number | null; complaint: number | null };
  };
  /** One row per variant: a choice of sections in one locale (zh-CN and en of the same choice are two). */
  variants: Array<
    Counts & { variantKey: string | null; sectionKeys: string[] | null; locale: string | null }
  >;
  sections: Array<{
    sectionId: number;
    key: string;
    names: Record<string, string>;
    /** Deliveries whose variant includes the section (null when the variants are not known). */
    recipients: number | null;
    links: number;
    clickedUnique: number;
    clicksTotal: number;
  }>;
  topLinks: Array<{
    linkId: number;
    url: string;
    sectionId: number | null;
    /** The issue item the link is a source of (its title as sent), if it is one. */
    itemTitle: string | null;
    clicksTotal: number;
    clickedUnique: number;
  }>;
  /** Hourly buckets (UTC), only hours with activity. */
  timeline: Array<{ hour: string; opens: number; opensDirect: number; clicks: number }>;
}

const EMPTY: Counts = {
  prepared: 0,
  pending: 0,
  accepted: 0,
  deferred: 0,
  failed: 0,
  unknown: 0,
  skipped: 0,
  bounced: 0,
  softBounced: 0,
  complained: 0,
  opened: 0,
  openedDirect: 0,
  clickedUnique: 0,
  clicksTotal: 0,
  unsubscribed: 0,
};

const n = (v: unknown): number => Number(v ?? 0);
const rate = (part: number, whole: number): number | null =>
  whole > 0 ? Math.round((part / whole) * 10_000) / 10_000 : null;

export async function issueStatistics(
  db: Db,
  issueId: number,
  opts: { topLinks?: number } = {},
): Promise<IssueStatistics> {
  const issue = await db
    .selectFrom('issues')
    .select(['title', 'state'])
    .where('id', '=', issueId)
    .executeTakeFirst();

  const perVariant = await sql<Record<string, unknown>>`
    WITH ev AS (
      SELECT delivery_id,
        bool_or(type = 'open') AS opened,
        bool_or(type = 'open' AND NOT proxied) AS opened_direct,
        bool_or(type = 'click') AS clicked,
        count(*) FILTER (WHERE type = 'click') AS clicks,
        bool_or(type = 'bounce' AND subtype = 'hard') AS hard,
        bool_or(type = 'bounce' AND subtype IS DISTINCT FROM 'hard') AS soft,
        bool_or(type = 'complaint') AS complained,
        bool_or(type = 'unsubscribe') AS unsubscribed
      FROM events WHERE issue_id = ${issueId} AND delivery_id IS NOT NULL
      GROUP BY delivery_id
    )
    SELECT d.variant_key,
      count(*) AS prepared,
      count(*) FILTER (WHERE d.state IN ('queued', 'claimed', 'sending')) AS pending,
      count(*) FILTER (WHERE d.state = 'accepted') AS accepted,
      count(*) FILTER (WHERE d.state = 'deferred') AS deferred,
      count(*) FILTER (WHERE d.state = 'failed') AS failed,
      count(*) FILTER (WHERE d.state = 'unknown') AS unknown,
      count(*) FILTER (WHERE d.state = 'skipped') AS skipped,
      count(*) FILTER (WHERE ev.hard) AS bounced,
      count(*) FILTER (WHERE ev.soft AND NOT ev.hard) AS soft_bounced,
      count(*) FILTER (WHERE ev.complained) AS complained,
      count(*) FILTER (WHERE ev.opened) AS opened,
      count(*) FILTER (WHERE ev.opened_direct) AS opened_direct,
      count(*) FILTER (WHERE ev.clicked) AS clicked_unique,
      coalesce(sum(ev.clicks), 0) AS clicks_total,
      count(*) FILTER (WHERE ev.unsubscribed) AS unsubscribed
    FROM deliveries d LEFT JOIN ev ON ev.delivery_id = d.id
    WHERE d.issue_id = ${issueId}
    GROUP BY d.variant_key
    ORDER BY d.variant_key NULLS LAST
  `.execute(db);

  const variantSections = await sql<{ variant_key: string; section_keys: string[]; locale: string }>`
    SELECT DISTINCT ON (variant_key) variant_key, section_keys, locale
    FROM issue_variants WHERE issue_id = ${issueId}
    ORDER BY variant_key, revision DESC
  `.execute(db);
  const sectionsOf = new Map(variantSections.rows.map((r) => [r.variant_key, r.section_keys]));
  const localeOf = new Map(variantSections.rows.map((r) => [r.variant_key, r.locale]));

  const variants = perVariant.rows.map((r) => {
    const variantKey = (r.variant_key as string | null) ?? null;
    return {
      variantKey,
      sectionKeys: variantKey !== null ? (sectionsOf.get(variantKey) ?? null) : null,
      // The compiled variant says; else the key's own prefix (`zh-CN:cases+industry`).
      locale:
        variantKey === null
          ? null
          : (localeOf.get(variantKey) ??
            (variantKey.includes(':') ? variantKey.slice(0, variantKey.indexOf(':')) : null)),
      prepared: n(r.prepared),
      pending: n(r.pending),
      accepted: n(r.accepted),
      deferred: n(r.deferred),
      failed: n(r.failed),
      unknown: n(r.unknown),
      skipped: n(r.skipped),
      bounced: n(r.bounced),
      softBounced: n(r.soft_bounced),
      complained: n(r.complained),
      opened: n(r.opened),
      openedDirect: n(r.opened_direct),
      clickedUnique: n(r.clicked_unique),
      clicksTotal: n(r.clicks_total),
      unsubscribed: n(r.unsubscribed),
    };
  });

  const totals: Counts = { ...EMPTY };
  for (const v of variants) for (const k of Object.keys(EMPTY) as (keyof Counts)[]) totals[k] += v[k];
  // Unsubscribes from a page without a delivery (e.g. a forwarded web version) still belong to the issue.
  const unsub = await sql<{ c: string }>`
    SELECT count(DISTINCT subscriber_id) AS c FROM events WHERE issue_id = ${issueId} AND type = 'unsubscribe'
  `.execute(db);
  totals.unsubscribed = Math.max(totals.unsubscribed, n(unsub.rows[0]?.c));

  const sectionRows = await sql<Record<string, unknown>>`
    SELECT s.id, s.key, s.names, s.position,
      count(DISTINCT l.id) AS links,
      count(DISTINCT e.delivery_id) AS clicked_unique,
      count(e.id) AS clicks_total
    FROM sections s
    JOIN issue_links l ON l.section_id = s.id AND l.issue_id = ${issueId}
    LEFT JOIN events e ON e.link_id = l.id AND e.type = 'click'
    GROUP BY s.id
    ORDER BY s.position, s.id
  `.execute(db);
  const sections = sectionRows.rows.map((r) => {
    const key = r.key as string;
    const known = variants.filter((v) => v.sectionKeys !== null);
    return {
      sectionId: n(r.id),
      key,
      names: (r.names ?? {}) as Record<string, string>,
      recipients: known.length
        ? known.filter((v) => v.sectionKeys?.includes(key)).reduce((a, v) => a + v.prepared, 0)
        : null,
      links: n(r.links),
      clickedUnique: n(r.clicked_unique),
      clicksTotal: n(r.clicks_total),
    };
  });

  // A link that is an item's source is named by that item (the one in the link's own section first).
  const linkRows = await sql<Record<string, unknown>>`
    SELECT top.*, item.title AS item_title FROM (
      SELECT l.id, l.url, l.section_id, l.click_count, count(DISTINCT e.delivery_id) AS clicked_unique
      FROM issue_links l LEFT JOIN events e ON e.link_id = l.id AND e.type = 'click'
      WHERE l.issue_id = ${issueId}
      GROUP BY l.id
      HAVING l.click_count > 0
      ORDER BY l.click_count DESC, l.id
      LIMIT ${opts.topLinks ?? 10}
    ) top
    LEFT JOIN LATERAL (
      SELECT i.title FROM issue_items i, jsonb_array_elements(i.sources) src
       WHERE i.issue_id = ${issueId} AND src->>'url' = top.url
       ORDER BY (i.section_id IS NOT DISTINCT FROM top.section_id) DESC, i.position, i.id
       LIMIT 1
    ) item ON true
    ORDER BY top.click_count DESC, top.id
  `.execute(db);
  const topLinks = linkRows.rows.map((r) => ({
    linkId: n(r.id),
    url: r.url as string,
    sectionId: r.section_id === null ? null : n(r.section_id),
    itemTitle: (r.item_title as string | null) ?? null,
    clicksTotal: n(r.click_count),
    clickedUnique: n(r.clicked_unique),
  }));

  const timelineRows = await sql<Record<string, unknown>>`
    SELECT to_char(date_trunc('hour', occurred_at AT TIME ZONE 'UTC'), 'YYYY-MM-DD"T"HH24:00:00"Z"') AS hour,
      count(*) FILTER (WHERE type = 'open') AS opens,
      count(*) FILTER (WHERE type = 'open' AND NOT proxied) AS opens_direct,
      count(*) FILTER (WHERE type = 'click') AS clicks
    FROM events WHERE issue_id = ${issueId} AND type IN ('open', 'click')
    GROUP BY 1 ORDER BY 1
  `.execute(db);
  const timeline = timelineRows.rows.map((r) => ({
    hour: r.hour as string,
    opens: n(r.opens),
    opensDirect: n(r.opens_direct),
    clicks: n(r.clicks),
  }));

  return {
    issueId,
    title: issue?.title ?? null,
    state: issue?.state ?? null,
    totals: {
      ...totals,
      rates: {
        open: rate(totals.opened, totals.accepted),
        click: rate(totals.clickedUnique, totals.accepted),
        bounce: rate(totals.bounced, totals.accepted),
        complaint: rate(totals.complained, totals.accepted),
      },
    },
    variants,
    sections,
    topLinks,
    timeline,
  };
}

/** A short plain-text rendering for `gazette stats` without --json. */
export function formatIssueStatistics(s: IssueStatistics): string {
  const t = s.totals;
  const pct = (r: number | null) => (r === null ? '–' : `${(r * 100).toFixed(1)}%`);
  const lines = [
    `Issue ${s.issueId}${s.title ? ` — ${s.title}` : ''}${s.state ? ` (${s.state})` : ''}`,
    `  prepared ${t.prepared}  accepted ${t.accepted}  deferred ${t.deferred}  failed ${t.failed}  unknown ${t.unknown}  pending ${t.pending}  skipped ${t.skipped}`,
    `  bounced ${t.bounced} (soft ${t.softBounced})  complained ${t.complained}  unsubscribed ${t.unsubscribed}`,
    `  opened ${t.opened} (${pct(t.rates.open)}; without proxies ${t.openedDirect})  clicked ${t.clickedUnique} (${pct(t.rates.click)}), ${t.clicksTotal} clicks`,
  ];
  if (s.variants.length > 1) {
    lines.push('  variants:');
    for (const v of s.variants) {
      lines.push(
        `    ${v.variantKey ?? '(none)'}: prepared ${v.prepared}, accepted ${v.accepted}, opened ${v.opened}, clicked ${v.clickedUnique}`,
      );
    }
  }
  if (s.sections.length) {
    lines.push('  sections:');
    for (const sec of s.sections)
      lines.push(`    ${sec.key}: ${sec.clicksTotal} clicks by ${sec.clickedUnique}`);
  }
  if (s.topLinks.length) {
    lines.push('  top links:');
    for (const l of s.topLinks) lines.push(`    ${l.clicksTotal} (${l.clickedUnique})  ${l.url}`);
  }
  return lines.join('\n');
}
