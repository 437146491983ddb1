import type { IssueState } from '../db/schema.js';
import type { IssueStats } from './ledger.js';

/**
 * Send progress as the operator sees it (`gazette issue send <id> --wait`): pure functions from
 * ledger samples to figures and to one line of text, so they are tested without a terminal.
 */

export interface ProgressSample {
  /** Milliseconds (any clock, as long as samples share it). */
  at: number;
  stats: IssueStats;
  state: IssueState;
}

export interface Progress {
  state: IssueState;
  total: number;
  accepted: number;
  deferred: number;
  failed: number;
  unknown: number;
  skipped: number;
  /** Rows in a final state (accepted, failed, unknown, skipped). */
  done: number;
  /** Messages that left the queue per second over the recent window (accepted, failed, unknown). */
  perSecond: number;
  /** Seconds until every row is final at that rate; null while the rate says nothing. */
  etaSeconds: number | null;
}

const finished = (s: IssueStats) => s.byState.accepted + s.byState.failed + s.byState.unknown;

/**
 * The latest sample's figures, with the rate measured from the oldest sample no older than
 * `windowMs` (a few seconds smooth out batched ledger writes without hiding a stall for long).
 */
export function progressOf(samples: ProgressSample[], windowMs = 10_000): Progress {
  const last = samples[samples.length - 1];
  if (!last) throw new Error('progressOf needs at least one sample');
  const s = last.stats.byState;
  const done = s.accepted + s.failed + s.unknown + s.skipped;
  const first = samples.find((x) => last.at - x.at <= windowMs) ?? last;
  const seconds = (last.at - first.at) / 1000;
  const perSecond = seconds > 0 ? Math.max(0, finished(last.stats) - finished(first.stats)) / seconds : 0;
  const remaining = last.stats.total - done;
  return {
    state: last.state,
    total: last.stats.total,
    accepted: s.accepted,
    deferred: s.deferred,
    failed: s.failed,
    unknown: s.unknown,
    skipped: s.skipped,
    done,
    perSecond,
    etaSeconds: remaining === 0 ? 0 : perSecond > 0 ? remaining / perSecond : null,
  };
}

/** `0:42`, `12:05`, `1:02:03`; `--:--` when unknown. */
export function formatDuration(seconds: number | null): string {
  if (seconds === null || !Number.isFinite(seconds)) return '--:--';
  const t = Math.max(0, Math.round(seconds));
  const h = Math.floor(t / 3600);
  const m = Math.floor((t % 3600) / 60);
  const sec = String(t % 60).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${sec}` : `${m}:${sec}`;
}

/**
 * One line: state, a bar of `width` cells for final rows, the counts an operator watches, the
 * rate and the ETA. Unknown and skipped appear only when there are any.
 */
export function formatProgress(p: Progress, width = 24): string {
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
    `${Math.round(p.perSecond)} msg/s`,
    `ETA ${formatDuration(p.etaSeconds)}`,
  ].join(' · ');
}
