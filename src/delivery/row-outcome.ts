import {
  type Classification,
  classifySmtpReply,
  neverSent,
  retryDelayMs,
  type SmtpOutcomeLike,
} from './classify.js';
import type { SendResult } from './ledger.js';
import { type RestCause, restCauseOf } from './relay-rest.js';

/**
 * The per-row outcome table (pure): what one SMTP outcome does to its delivery row — the ledger
 * state it is written in, and whether it retries, suppresses the address, pauses the issue, rests
 * the relay or counts against the circuit breaker. The send worker applies it; classify.ts says
 * what the relay's reply means, this says what Gazette does about it (invariant 5).
 */

export interface RowPolicy {
  /** SEND_MAX_ATTEMPTS: the attempt that reaches it fails the row (`retries_exhausted`). */
  maxAttempts: number;
  /** SEND_RETRY_BASE_MS: the backoff base (classify.ts retryDelayMs). */
  retryBaseMs: number;
  /** SEND_BLOCK_REST_SECONDS in ms: a reputation, spam or authentication refusal rests the relay this long at least. */
  blockRestMs: number;
  now: number;
  random?: () => number;
}

/** What the circuit breaker records for the row: nothing, a success, a reply-level failure or a broken connection. */
export type BreakerMark = null | 'ok' | 'failed' | 'connection';

export interface RowOutcome {
  /** The ledger write for the row. */
  result: SendResult;
  decision: Classification['decision'] | 'unsent' | 'unaddressable';
  /** Suppress this address (the mailbox does not exist). */
  suppress?: string;
  /** A delayed retry job for the row. */
  retry?: { at: Date; attempt: number };
  /** Pause the issue: misconfigured on our side (authentication, TLS). */
  pause?: { reason: string; reply: string | null };
  /** The relay, not the message, is the trouble: rest it. */
  rest?: RestCause;
  /** The rest lasts at least this long (a block). */
  restMinMs?: number;
  /** The pool gave the message back unsent: claim the row again. */
  unsent?: boolean;
  /** The outcome says nothing about the relay (a connection lost mid-message). */
  inconclusive?: boolean;
  breaker: BreakerMark;
}

export interface RowOnWire {
  id: number;
  email: string;
  /** Attempts the row has used before this one. */
  attempts: number;
}

/** The table itself: one SMTP outcome (null: accepted without a reply object) for one row on the wire. */
export function rowOutcome(
  row: RowOnWire,
  messageId: string,
  outcome: SmtpOutcomeLike | null,
  policy: RowPolicy,
): RowOutcome {
  const c = classifySmtpReply(outcome);
  const base = {
    id: row.id,
    smtpCode: c.smtpCode,
    smtpResponse: outcome?.response ?? outcome?.message ?? null,
    errorClass: c.errorClass,
    messageId,
  };
  const result = (state: SendResult['state'], attempted: boolean, more: Partial<SendResult> = {}) => ({
    ...base,
    state,
    nextAttemptAt: null,
    attempted,
    ...more,
  });
  if (neverSent(outcome))
    return { decision: 'unsent', unsent: true, result: result('queued', false), breaker: null };
  const rest = restCauseOf(c, outcome);
  if (rest) {
    // Nothing reached the relay, or it refused before taking the message: the row goes back to
    // the queue unattempted, and the relay rests.
    return {
      decision: c.decision,
      rest,
      result: result('queued', false, { refused: true }),
      breaker: null,
    };
  }
  const failed: BreakerMark = 'failed';
  switch (c.decision) {
    case 'accepted':
      return { decision: c.decision, result: result('accepted', true), breaker: 'ok' };
    case 'retry': {
      const attempt = row.attempts + 1;
      if (attempt >= policy.maxAttempts)
        return {
          decision: c.decision,
          result: result('failed', true, { errorClass: 'retries_exhausted' }),
          breaker: failed,
        };
      const at = new Date(policy.now + retryDelayMs(attempt, policy.retryBaseMs, policy.random));
      return {
        decision: c.decision,
        retry: { at, attempt },
        result: result('deferred', true, { nextAttemptAt: at, refused: true }),
        breaker: failed,
      };
    }
    case 'fail':
      return { decision: c.decision, result: result('failed', true), breaker: failed };
    case 'fail-block':
      // Refused for our reputation, content or authentication: the row fails (the reader stays),
      // and the relay rests at least SEND_BLOCK_REST_SECONDS.
      return {
        decision: c.decision,
        rest: { reason: c.errorClass ?? 'blocked', reply: base.smtpResponse, smtpCode: c.smtpCode },
        restMinMs: policy.blockRestMs,
        result: result('failed', true),
        breaker: failed,
      };
    case 'fail-suppress':
      return { decision: c.decision, suppress: row.email, result: result('failed', true), breaker: failed };
    case 'pause-issue':
      return {
        decision: c.decision,
        pause: { reason: `smtp_${c.errorClass}`, reply: base.smtpResponse },
        result: result('queued', false),
        breaker: null,
      };
    case 'unknown':
      return {
        decision: c.decision,
        inconclusive: true,
        result: result('unknown', true),
        breaker: 'connection',
      };
    case 'throttle':
      // restCauseOf rests every throttle; kept for the compiler's exhaustiveness.
      return { decision: c.decision, result: result('queued', false, { refused: true }), breaker: null };
  }
}

/**
 * A row that went back without reaching the relay (its relay rests, its chunk stopped, or the
 * relay had closed the connection before the message began): queued again, no attempt.
 */
export function unsentRow(id: number, messageId: string | null): RowOutcome {
  return {
    decision: 'unsent',
    unsent: true,
    result: {
      id,
      state: 'queued',
      smtpCode: null,
      smtpResponse: null,
      errorClass: null,
      messageId,
      nextAttemptAt: null,
      attempted: false,
    },
    breaker: null,
  };
}

/** A row whose message cannot be addressed (the renderer refused it): failed, never on the wire. */
export function unaddressable(id: number, reason: string): RowOutcome {
  return {
    decision: 'unaddressable',
    result: {
      id,
      state: 'failed',
      smtpCode: null,
      smtpResponse: reason,
      errorClass: 'bad_address',
      messageId: null,
      nextAttemptAt: null,
      attempted: false,
    },
    breaker: null,
  };
}

/** What one group of rows came to, for the chunk loop to act on after the wire window is free. */
export interface GroupOutcome {
  results: SendResult[];
  suppress: string[];
  retries: { id: number; at: Date; attempt: number }[];
  pauseReason: string | null;
  /** The relay's own words behind the pause. */
  pauseReply: string | null;
  /** The relay asked to rest (throttled, unreachable, blocked): the first such outcome of the group. */
  rest: RestCause | null;
  /** When the group went on the wire (a refusal of an older message belongs to a rest already counted). */
  startedAt: number;
  /** Some outcome said nothing about the relay (a connection lost mid-message). */
  inconclusive: boolean;
  /** The lowest id the pool gave back unsent (it goes round again); Infinity when none. */
  unsentMin: number;
  /** A block rests the relay at least this long (0: the usual rest). */
  restMinMs: number;
  /** markSending took fewer rows than asked: the issue was paused or cancelled. */
  stopped: boolean;
  /** Rows the relay accepted. */
  accepted: number;
}

export function emptyGroup(startedAt: number): GroupOutcome {
  return {
    results: [],
    suppress: [],
    retries: [],
    pauseReason: null,
    pauseReply: null,
    rest: null,
    startedAt,
    inconclusive: false,
    unsentMin: Number.POSITIVE_INFINITY,
    restMinMs: 0,
    stopped: false,
    accepted: 0,
  };
}

/** Adds one row's outcome to its group: the first rest cause wins; a pause from a reply replaces a breaker's. */
export function addToGroup(group: GroupOutcome, o: RowOutcome): void {
  group.results.push(o.result);
  if (o.unsent) group.unsentMin = Math.min(group.unsentMin, o.result.id);
  if (o.rest) group.rest ??= o.rest;
  if (o.restMinMs) group.restMinMs = o.restMinMs;
  if (o.suppress) group.suppress.push(o.suppress);
  if (o.retry) group.retries.push({ id: o.result.id, ...o.retry });
  if (o.pause) {
    group.pauseReason = o.pause.reason;
    group.pauseReply = o.pause.reply;
  }
  if (o.inconclusive) group.inconclusive = true;
  if (o.result.state === 'accepted') group.accepted++;
}
