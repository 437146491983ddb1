import { sql, type Transaction } from 'kysely';
import { type Database, type Db, DELIVERY_STATES, type DeliveryState } from '../db/schema.js';

/**
 * The delivery ledger's state changes. Every change is a conditional update (invariant 1): a row
 * moves only from the state (and lease owner) the caller expects, so duplicated jobs, stalled
 * workers and concurrent scans cannot send a row twice.
 */

/** States from which a row can still change by itself; the issue is finished when none are left. */
export const LIVE_STATES: DeliveryState[] = ['queued', 'claimed', 'sending', 'deferred'];

export interface ClaimedRow {
  id: number;
  subscriberId: number;
  variantKey: string;
  attempts: number;
  email: string;
  name: string | null;
  eligible: boolean;
  ineligibleReason: string | null;
}

/**
 * Claims up to `limit` sendable rows of an issue in [fromId, toId] for `owner`: queued rows,
 * deferred rows whose retry time has come, and claimed rows whose lease ran out (they never
 * reached the relay). Only while the issue is sending. SKIP LOCKED keeps concurrent workers apart.
 */
export async function claimRows(
  db: Db,
  p: { issueId: number; fromId: number; toId: number; limit: number; owner: string; leaseSeconds: number },
): Promise<ClaimedRow[]> {
  const { rows } = await sql<{
    id: number;
    subscriber_id: number;
    variant_key: string;
    attempts: number;
    email: string;
    name: string | null;
    status: string;
    suppressed: boolean;
  }>`
    WITH pick AS (
      SELECT d.id FROM deliveries d
      WHERE d.issue_id = ${p.issueId} AND d.id BETWEEN ${p.fromId} AND ${p.toId}
        AND (d.state = 'queued'
          OR (d.state = 'deferred' AND d.next_attempt_at <= now())
          OR (d.state = 'claimed' AND d.lease_until < now()))
        AND EXISTS (SELECT 1 FROM issues i WHERE i.id = ${p.issueId} AND i.state = 'sending')
      ORDER BY d.id
      LIMIT ${p.limit}
      FOR UPDATE OF d SKIP LOCKED
    )
    UPDATE deliveries d
    SET state = 'claimed', lease_owner = ${p.owner},
        lease_until = now() + make_interval(secs => ${p.leaseSeconds}), updated_at = now()
    FROM pick, subscribers s
    WHERE d.id = pick.id AND s.id = d.subscriber_id
    RETURNING d.id, d.subscriber_id, d.variant_key, d.attempts, s.email, s.name, s.status,
      EXISTS (SELECT 1 FROM suppressions x
              WHERE (x.kind = 'address' AND x.value = s.email_normalized)
                 OR (x.kind = 'domain' AND x.value = split_part(s.email_normalized, '@', 2))) AS suppressed
  `.execute(db);
  return rows
    .map((r) => {
      const reason =
        r.status !== 'active' ? r.status : r.suppressed ? 'suppressed' : !r.variant_key ? 'no_variant' : null;
      return {
        id: Number(r.id),
        subscriberId: Number(r.subscriber_id),
        variantKey: r.variant_key,
        attempts: r.attempts,
        email: r.email,
        name: r.name,
        eligible: reason === null,
        ineligibleReason: reason,
      };
    })
    .sort((a, b) => a.id - b.id);
}

/** Rows whose subscriber left or was suppressed after the audience was frozen (invariant 6). */
export async function skipClaimed(
  db: Db,
  owner: string,
  rows: { id: number; reason: string }[],
): Promise<void> {
  if (!rows.length) return;
  await sql`
    UPDATE deliveries d SET state = 'skipped', skip_reason = v.reason, lease_owner = NULL, lease_until = NULL,
      updated_at = now()
    FROM (VALUES ${sql.join(rows.map((r) => sql`(${r.id}::bigint, ${r.reason}::text)`))}) AS v(id, reason)
    WHERE d.id = v.id AND d.state = 'claimed' AND d.lease_owner = ${owner}
  `.execute(db);
}

/**
 * claimed → sending, just before the rows go on the wire; only while the issue is still sending
 * (a pause or cancel stops here). Returns the ids that may now be handed to SMTP. Idempotent for
 * its owner: tried again after a lost connection (the update may have committed), it returns the
 * same rows.
 */
export async function markSending(
  db: Db,
  p: { issueId: number; ids: number[]; owner: string; leaseSeconds: number; relay: string },
): Promise<Set<number>> {
  if (!p.ids.length) return new Set();
  const { rows } = await sql<{ id: number }>`
    UPDATE deliveries SET state = 'sending', relay = ${p.relay},
      lease_until = now() + make_interval(secs => ${p.leaseSeconds}), updated_at = now()
    WHERE id = ANY(${p.ids}::bigint[]) AND state IN ('claimed', 'sending') AND lease_owner = ${p.owner}
      AND EXISTS (SELECT 1 FROM issues i WHERE i.id = ${p.issueId} AND i.state = 'sending')
    RETURNING id
  `.execute(db);
  return new Set(rows.map((r) => Number(r.id)));
}

/** claimed → queued for rows this owner holds (pause, shutdown, throttle): they never reached the relay. */
export async function releaseClaimed(db: Db, owner: string, ids?: number[]): Promise<number> {
  if (ids && !ids.length) return 0;
  const result = await sql`
    UPDATE deliveries SET state = 'queued', lease_owner = NULL, lease_until = NULL, updated_at = now()
    WHERE state = 'claimed' AND lease_owner = ${owner}
      ${ids ? sql`AND id = ANY(${ids}::bigint[])` : sql``}
  `.execute(db);
  return Number(result.numAffectedRows ?? 0);
}

export interface SendResult {
  id: number;
  state: 'accepted' | 'deferred' | 'failed' | 'unknown' | 'queued';
  smtpCode: number | null;
  smtpResponse: string | null;
  errorClass: string | null;
  messageId: string | null;
  nextAttemptAt: Date | null;
  /** Count this as an attempt (throttled rows are not). */
  attempted: boolean;
  /** The relay refused the row for now (deferred, throttled, resting): counted in `refusals`. */
  refused?: boolean;
}

/**
 * Writes a chunk's SMTP outcomes in one statement (sending → final/deferred/queued). A final
 * outcome also lands on a row a resume scan marked unknown meanwhile (its lease ran out while the
 * database was away): the relay's answer is better than a guess, and nobody re-sends an unknown
 * row without the operator.
 */
export async function recordResults(db: Db, owner: string, results: SendResult[]): Promise<number> {
  if (!results.length) return 0;
  const values = results.map(
    (r) =>
      sql`(${r.id}::bigint, ${r.state}::text, ${r.smtpCode}::int, ${truncate(r.smtpResponse)}::text, ${r.errorClass}::text,
           ${r.messageId}::text, ${r.nextAttemptAt ? r.nextAttemptAt.toISOString() : null}::timestamptz, ${r.attempted ? 1 : 0}::int, ${r.refused ? 1 : 0}::int)`,
  );
  const result = await sql`
    UPDATE deliveries d SET
      state = v.state,
      smtp_code = v.code,
      smtp_response = v.response,
      error_class = v.error_class,
      message_id = COALESCE(v.message_id, d.message_id),
      next_attempt_at = v.next_attempt_at,
      attempts = d.attempts + v.attempted,
      -- Not cleared on acceptance: the refusals before it are what the statistics report.
      refusals = d.refusals + v.refused,
      last_refusal_reason = CASE WHEN v.refused = 1 THEN coalesce(v.error_class, 'undetermined') ELSE d.last_refusal_reason END,
      accepted_at = CASE WHEN v.state = 'accepted' THEN now() ELSE d.accepted_at END,
      lease_owner = NULL, lease_until = NULL, updated_at = now()
    FROM (VALUES ${sql.join(values)}) AS v(id, state, code, response, error_class, message_id, next_attempt_at, attempted, refused)
    WHERE d.id = v.id AND ((d.state = 'sending' AND d.lease_owner = ${owner})
      OR (d.state = 'unknown' AND d.error_class = 'crash_while_sending' AND v.state IN ('accepted', 'failed')))
  `.execute(db);
  return Number(result.numAffectedRows ?? 0);
}

function truncate(s: string | null): string | null {
  return s === null ? null : s.length > 500 ? `${s.slice(0, 500)}…` : s;
}

/**
 * Whether an issue's send is over (the lifecycle's 'finish' may run): its audience was fully
 * prepared and no row can still change (none queued, claimed, sending or deferred).
 */
export async function noRowCanChange(db: Db | Transaction<Database>, issueId: number): Promise<boolean> {
  const { rows } = await sql<{ done: boolean }>`
    SELECT (i.prepared_at IS NOT NULL
      AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.issue_id = ${issueId}
                      AND d.state IN ('queued', 'claimed', 'sending', 'deferred'))) AS done
    FROM issues i WHERE i.id = ${issueId}
  `.execute(db);
  return rows[0]?.done === true;
}

export interface IssueStats {
  total: number;
  byState: Record<DeliveryState, number>;
}

/** Counts of an issue's deliveries by state. */
export async function issueStats(db: Db, issueId: number): Promise<IssueStats> {
  const rows = await db
    .selectFrom('deliveries')
    .select(['state', db.fn.countAll<number>().as('n')])
    .where('issue_id', '=', issueId)
    .groupBy('state')
    .execute();
  return statsOf(Object.fromEntries(rows.map((r) => [r.state, Number(r.n)])));
}

/** Counts by state, every state present (0 when absent), and their total (pure). */
export function statsOf(counts: Partial<Record<DeliveryState, number>>): IssueStats {
  const byState = Object.fromEntries(DELIVERY_STATES.map((s) => [s, counts[s] ?? 0])) as Record<
    DeliveryState,
    number
  >;
  return { total: Object.values(byState).reduce((a, b) => a + b, 0), byState };
}
