import { sql } from 'kysely';
import type { Db } from '../db/schema.js';
import { reasonLabel } from '../delivery/reasons.js';

/**
 * Why an issue's messages did not get through, for editors: refusals at send time (the row's
 * error_class is a reason from delivery/reasons.ts) and bounces reported later (the event's
 * reason), by reason and by the recipient's domain (qq.com, 163.com, gmail.com…); and the issue's
 * reconciliation: every delivery is accepted, failed (by reason), unknown or never attempted, and
 * how many of its readers have been suppressed since it was prepared.
 */
export interface BounceStatistics {
  byReason: Array<{ reason: string; refused: number; bounced: number; hard: number }>;
  byDomain: Array<{ domain: string; refused: number; bounced: number; hard: number; accepted: number }>;
  /** Rows a relay refused for now (throttled, deferred, resting) and later accepted, by domain and last reason. */
  refusedThenAccepted: Array<{ domain: string; reason: string; rows: number; refusals: number }>;
  reconciliation: {
    prepared: number;
    accepted: number;
    failed: number;
    failedByReason: Record<string, number>;
    unknown: number;
    /** Rows that never went to a relay: still queued, skipped, or refused before the wire. */
    neverAttempted: number;
    pending: number;
    suppressedSince: number;
  };
}

const n = (v: unknown) => Number(v ?? 0);

export async function bounceStatistics(
  db: Db,
  issueId: number,
  opts: { domains?: number } = {},
): Promise<BounceStatistics> {
  const reasons = await sql<{ reason: string; refused: string; bounced: string; hard: string }>`
    WITH refused AS (
      SELECT coalesce(error_class, 'undetermined') AS reason, count(*) AS n FROM deliveries
      WHERE issue_id = ${issueId} AND state = 'failed' GROUP BY 1
    ), bounced AS (
      SELECT coalesce(detail->>'reason', CASE WHEN subtype = 'hard' THEN 'user_unknown' ELSE 'undetermined' END) AS reason,
        count(DISTINCT delivery_id) AS n,
        count(DISTINCT delivery_id) FILTER (WHERE subtype = 'hard') AS hard
      FROM events WHERE issue_id = ${issueId} AND type = 'bounce' GROUP BY 1
    )
    SELECT coalesce(r.reason, b.reason) AS reason, coalesce(r.n, 0) AS refused, coalesce(b.n, 0) AS bounced,
      coalesce(b.hard, 0) AS hard
    FROM refused r FULL JOIN bounced b ON b.reason = r.reason
    ORDER BY coalesce(r.n, 0) + coalesce(b.n, 0) DESC, 1`.execute(db);

  const domains = await sql<Record<string, unknown>>`
    WITH b AS (
      SELECT delivery_id, bool_or(subtype = 'hard') AS hard FROM events
      WHERE issue_id = ${issueId} AND type = 'bounce' GROUP BY delivery_id
    )
    SELECT split_part(s.email_normalized, '@', 2) AS domain,
      count(*) FILTER (WHERE d.state = 'failed') AS refused,
      count(b.delivery_id) AS bounced,
      count(*) FILTER (WHERE b.hard) AS hard,
      count(*) FILTER (WHERE d.state = 'accepted') AS accepted
    FROM deliveries d JOIN subscribers s ON s.id = d.subscriber_id LEFT JOIN b ON b.delivery_id = d.id
    WHERE d.issue_id = ${issueId}
    GROUP BY 1
    HAVING count(*) FILTER (WHERE d.state = 'failed') + count(b.delivery_id) > 0
    ORDER BY count(*) FILTER (WHERE d.state = 'failed') + count(b.delivery_id) DESC, 1
    LIMIT ${opts.domains ?? 20}`.execute(db);

  const retried = await sql<Record<string, unknown>>`
    SELECT split_part(s.email_normalized, '@', 2) AS domain, d.last_refusal_reason AS reason,
      count(*) AS rows, sum(d.refusals) AS refusals
    FROM deliveries d JOIN subscribers s ON s.id = d.subscriber_id
    WHERE d.issue_id = ${issueId} AND d.state = 'accepted' AND d.refusals > 0
    GROUP BY 1, 2
    ORDER BY count(*) DESC, 1, 2
    LIMIT ${opts.domains ?? 20}`.execute(db);

  const rec = await sql<Record<string, unknown>>`
    SELECT count(*) AS prepared,
      count(*) FILTER (WHERE d.state = 'accepted') AS accepted,
      count(*) FILTER (WHERE d.state = 'failed') AS failed,
      count(*) FILTER (WHERE d.state = 'unknown') AS unknown,
      count(*) FILTER (WHERE d.state = 'skipped' OR (d.attempts = 0 AND d.state IN ('queued', 'claimed', 'failed'))) AS never,
      count(*) FILTER (WHERE d.state IN ('queued', 'claimed', 'sending', 'deferred')) AS pending,
      count(*) FILTER (WHERE EXISTS (
        SELECT 1 FROM suppressions x WHERE x.kind = 'address' AND x.value = s.email_normalized AND x.created_at >= d.created_at
      )) AS suppressed_since
    FROM deliveries d JOIN subscribers s ON s.id = d.subscriber_id
    WHERE d.issue_id = ${issueId}`.execute(db);
  const r = rec.rows[0] ?? {};
  const failedByReason: Record<string, number> = {};
  for (const row of reasons.rows) if (n(row.refused) > 0) failedByReason[row.reason] = n(row.refused);
  return {
    byReason: reasons.rows.map((row) => ({
      reason: row.reason,
      refused: n(row.refused),
      bounced: n(row.bounced),
      hard: n(row.hard),
    })),
    byDomain: domains.rows.map((row) => ({
      domain: String(row.domain),
      refused: n(row.refused),
      bounced: n(row.bounced),
      hard: n(row.hard),
      accepted: n(row.accepted),
    })),
    refusedThenAccepted: retried.rows.map((row) => ({
      domain: String(row.domain),
      reason: String(row.reason ?? 'undetermined'),
      rows: n(row.rows),
      refusals: n(row.refusals),
    })),
    reconciliation: {
      prepared: n(r.prepared),
      accepted: n(r.accepted),
      failed: n(r.failed),
      failedByReason,
      unknown: n(r.unknown),
      neverAttempted: n(r.never),
      pending: n(r.pending),
      suppressedSince: n(r.suppressed_since),
    },
  };
}

/** The plain-text form for `gazette stats` (reasons in the operator's language). */
export function formatBounceStatistics(b: BounceStatistics, locale: string): string {
  const r = b.reconciliation;
  const failed = Object.entries(r.failedByReason)
    .map(([k, v]) => `${reasonLabel(k, locale)} ${v}`)
    .join(', ');
  const lines = [
    `  reconciliation: prepared ${r.prepared} = accepted ${r.accepted} + failed ${r.failed} + unknown ${r.unknown} + pending ${r.pending} + other ${r.prepared - r.accepted - r.failed - r.unknown - r.pending}; never attempted ${r.neverAttempted}; suppressed since ${r.suppressedSince}`,
  ];
  if (failed) lines.push(`  failed by reason: ${failed}`);
  if (b.byReason.length) {
    lines.push('  refused / bounced by reason:');
    for (const x of b.byReason)
      lines.push(
        `    ${reasonLabel(x.reason, locale)}: refused ${x.refused}, bounced ${x.bounced} (hard ${x.hard})`,
      );
  }
  if (b.byDomain.length) {
    lines.push('  by recipient domain:');
    for (const d of b.byDomain)
      lines.push(
        `    ${d.domain}: refused ${d.refused}, bounced ${d.bounced} (hard ${d.hard}), accepted ${d.accepted}`,
      );
  }
  if (b.refusedThenAccepted.length) {
    lines.push('  refused, retried and accepted:');
    for (const x of b.refusedThenAccepted)
      lines.push(
        `    ${x.domain}: ${reasonLabel(x.reason, locale)} ${x.rows} (${x.refusals} refusals), accepted`,
      );
  }
  return lines.join('\n');
}
