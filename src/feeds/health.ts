/**
 * A source's health after a poll, decided purely. A success resets it. Each failure is counted;
 * after `failingAfter` in a row the source is marked failing and its next poll backs off,
 * doubling from the polling interval up to `maxBackoffMinutes`, so a dead server is not hammered
 * while an editor can still see why it fails.
 */

export interface HealthPolicy {
  failingAfter: number;
  maxBackoffMinutes: number;
}

export interface HealthBefore {
  consecutive_failures: number;
  poll_interval_minutes: number;
}

export interface HealthUpdate {
  status: 'ok' | 'failing';
  consecutive_failures: number;
  last_polled_at: Date;
  next_poll_at: Date;
  last_success_at?: Date;
  last_error?: string | null;
  last_error_at?: Date;
}

const minutes = (at: Date, m: number) => new Date(at.getTime() + m * 60_000);

export function healthAfterSuccess(source: HealthBefore, now: Date): HealthUpdate {
  return {
    status: 'ok',
    consecutive_failures: 0,
    last_polled_at: now,
    last_success_at: now,
    last_error: null,
    next_poll_at: minutes(now, source.poll_interval_minutes),
  };
}

export function healthAfterFailure(
  source: HealthBefore,
  error: string,
  now: Date,
  policy: HealthPolicy,
): HealthUpdate {
  const failures = source.consecutive_failures + 1;
  const failing = failures >= policy.failingAfter;
  const factor = failing ? 2 ** Math.min(failures - policy.failingAfter + 1, 20) : 1;
  const wait = Math.min(
    source.poll_interval_minutes * factor,
    Math.max(policy.maxBackoffMinutes, source.poll_interval_minutes),
  );
  return {
    status: failing ? 'failing' : 'ok',
    consecutive_failures: failures,
    last_polled_at: now,
    last_error: error.slice(0, 2000),
    last_error_at: now,
    next_poll_at: minutes(now, wait),
  };
}
