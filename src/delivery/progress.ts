import { sql } from 'kysely';
import type { Db, IssueState } from '../db/schema.js';
import { type IssueStats, issueStats } from './ledger.js';

/**
 * An issue's send progress, the one derivation that the send page and `gazette issue send --wait`
 * both show: counts from the ledger, the rate the relay answers at, the ETA. Pure functions from
 * the ledger's numbers, plus the one read of those numbers (`loadSendProgress`).
 */

/** The send rate is measured over the last minute: long enough to be steady, short enough to follow a throttle. */
export const RATE_WINDOW_SECONDS = 60;

export interface SendProgress {
  issueId: number;
  state: IssueState;
  pauseReason: string | null;
  holdReason: string | null;
  total: number;
  accepted: number;
  deferred: number;
  failed: number;
  unknown: number;
  skipped: number;
  /** Not yet answered by the relay: queued, claimed or on the wire. */
  pending: number;
  /** Rows with a final state (accepted, failed, unknown, skipped). */
  done: number;
  /** Rows that may still be sent: pending and deferred. */
  remaining: number;
  percent: number;
  /** Messages answered by the relay (accepted or failed) per second, over the last minute of answers. */
  ratePerSecond: number;
  /** Seconds until the remaining rows are sent at the current rate; null when not sending or no rate yet. */
  etaSeconds: number | null;
  /** True while the page should keep polling. */
  live: boolean;
}

export interface ProgressInput {
  issueId: number;
  state: IssueState;
  pauseReason: string | null;
  holdReason: string | null;
  stats: IssueStats;
  /** Rows that reached accepted or failed within the rate window. */
  recentFinished: number;
  /**
   * Seconds those answers span: from the first answer in the last minute to now while sending, to
   * the last answer once the send stopped; null before the relay answered anything. Not the time
   * since the send started: preparing the audience and compiling variants answer nothing.
   */
  windowSeconds: number | null;
}

/** The shortest span a rate is divided by: one answer is "1 a second", not a thousand. */
function measuredSpan(answers: number, seconds: number): number {
  return Math.max(seconds, answers <= 1 ? 1 : 0.1);
}

const LIVE: IssueState[] = ['scheduled', 'sending', 'paused'];

/** Counts, rate and ETA from the ledger's numbers (pure). */
export function sendProgress(input: ProgressInput): SendProgress {
  const s = input.stats.byState;
  const pending = s.queued + s.claimed + s.sending;
  const remaining = pending + s.deferred;
  const done = s.accepted + s.failed + s.unknown + s.skipped;
  const ratePerSecond =
    input.windowSeconds === null || input.recentFinished === 0
      ? 0
      : Math.round((input.recentFinished / measuredSpan(input.recentFinished, input.windowSeconds)) * 10) /
        10;
  const etaSeconds =
    input.state === 'sending' && ratePerSecond > 0 && remaining > 0
      ? Math.ceil(remaining / ratePerSecond)
      : input.state === 'sending' && remaining === 0
        ? 0
        : null;
  return {
    issueId: input.issueId,
    state: input.state,
    pauseReason: input.pauseReason,
    holdReason: input.holdReason,
    total: input.stats.total,
    accepted: s.accepted,
    deferred: s.deferred,
    failed: s.failed,
    unknown: s.unknown,
    skipped: s.skipped,
    pending,
    done,
    remaining,
    percent: input.stats.total ? Math.floor((done / input.stats.total) * 1000) / 10 : 0,
    ratePerSecond,
    etaSeconds,
    live: LIVE.includes(input.state),
  };
}

export interface DurationUnits {
  h: string;
  min: string;
  s: string;
}

const ENGLISH_UNITS: DurationUnits = { h: 'h', min: 'min', s: 's' };

/** "1 h 5 min", "3 min 20 s", "45 s"; "–" when unknown (pure; a page passes its language's unit words). */
export function formatDuration(seconds: number | null, units: DurationUnits = ENGLISH_UNITS): string {
  if (seconds === null || !Number.isFinite(seconds)) return '–';
  const t = Math.max(0, Math.round(seconds));
  const h = Math.floor(t / 3600);
  const m = Math.floor((t % 3600) / 60);
  const s = t % 60;
  if (h) return `${h} ${units.h} ${m} ${units.min}`;
  if (m) return `${m} ${units.min} ${s} ${units.s}`;
  return `${s} ${units.s}`;
}

/**
 * One line for a terminal: state, a bar of `width` cells for final rows, the counts an operator
 * watches, the rate and the ETA. Unknown and skipped appear only when there are any.
 */
export function formatProgress(p: SendProgress, width = 24): string {
  const share = p.total > 0 ? p.done / p.total : 1;
  const full = Math.min(width, Math.floor(share * width));
  const bar = `${'█'.repeat(full)}${'░'.repeat(width - full)}`;
  const extra = [
    ...(p.unknown ? [`unknown ${p.unknown}`] : []),
    ...(p.skipped ? [`skipped ${p.skipped}`] : []),
  ];
  return [
    `${p.state} |${bar}| ${p.done}/${p.total} ${Math.floor(share * 100)}%`,
    [`accepted ${p.accepted}`, `deferred ${p.deferred}`, `failed ${p.failed}`, ...extra].join(' '),
    `${p.ratePerSecond} msg/s`,
    `ETA ${formatDuration(p.etaSeconds)}`,
  ].join(' · ');
}

/**
 * Reads an issue's send progress: the counts by state, and the rate the relay answers at, measured
 * over the answers themselves (accepted_at, else updated_at, both the database clock): the last
 * minute of them, ending now while the issue is sending and at the last answer once it stopped,
 * so a finished send keeps the rate it ran at. Null when there is no such issue.
 */
export async function loadSendProgress(db: Db, issueId: number): Promise<SendProgress | null> {
  const issue = await db
    .selectFrom('issues')
    .select(['id', 'state', 'pause_reason', 'hold_reason'])
    .where('id', '=', issueId)
    .executeTakeFirst();
  if (!issue) return null;
  const stats = await issueStats(db, issueId);
  const measured = await sql<{ recent: string; span: string | null }>`
    WITH answered AS (
      SELECT coalesce(accepted_at, updated_at) AS at FROM deliveries
       WHERE issue_id = ${issueId} AND state IN ('accepted', 'failed')
    ), bounds AS (
      SELECT min(at) AS first_at, CASE WHEN ${issue.state === 'sending'} THEN now() ELSE max(at) END AS end_at
        FROM answered
    ), w AS (
      SELECT greatest(first_at, end_at - make_interval(secs => ${RATE_WINDOW_SECONDS})) AS start_at, end_at
        FROM bounds
    )
    SELECT (SELECT count(*) FROM answered, w WHERE answered.at BETWEEN w.start_at AND w.end_at) AS recent,
           (SELECT extract(epoch FROM end_at - start_at) FROM w) AS span
  `.execute(db);
  const row = measured.rows[0];
  return sendProgress({
    issueId,
    state: issue.state,
    pauseReason: issue.pause_reason,
    holdReason: issue.hold_reason,
    stats,
    recentFinished: Number(row?.recent ?? 0),
    windowSeconds: row?.span === null || row?.span === undefined ? null : Math.max(0, Number(row.span)),
  });
}
