import { type BounceReason, isHardReason } from './reasons.js';
import { readReply } from './reply-rules.js';

/**
 * What to do with one SMTP outcome (DESIGN.md invariant 5). Pure: the caller applies the decision.
 *
 * - accepted: the relay took the message.
 * - retry: temporary (4xx, or a network error before the message could have reached the relay).
 * - throttle: the relay asks us to slow down (421, 454, or any reply reply-rules.ts reads as a
 *   rate limit, such as QQ's "550 Domain frequency limited"): the row goes back to the queue.
 * - fail: permanent refusal (5xx) that says nothing against the address.
 * - fail-block: refused for our reputation, content or authentication (5.7.x, DT:SPM): fail the
 *   row without suppressing, and rest the relay with an alert; more of the same would fare no better.
 * - fail-suppress: the mailbox does not exist (a hard reason, reasons.ts): fail and suppress.
 * - pause-issue: our side is misconfigured (authentication, TLS): no point sending more.
 * - unknown: the connection broke while the message may already have been on the wire.
 */
export type SmtpDecision =
  | 'accepted'
  | 'retry'
  | 'throttle'
  | 'fail'
  | 'fail-block'
  | 'fail-suppress'
  | 'pause-issue'
  | 'unknown';

export interface SmtpOutcomeLike {
  /** nodemailer error code, e.g. ECONNECTION, EAUTH, ETLS, EENVELOPE, EMESSAGE. */
  code?: string | undefined;
  responseCode?: number | undefined;
  response?: string | undefined;
  /** SMTP command that failed, e.g. CONN, MAIL FROM, RCPT TO, DATA. */
  command?: string | undefined;
  message?: string | undefined;
  /**
   * The failure came before any byte of the message was written (the sender knows it: the
   * connection could not be opened, or broke before DATA), so the relay cannot have the message.
   */
  beforeMessage?: boolean | undefined;
}

export interface Classification {
  decision: SmtpDecision;
  /** Short stable label stored in deliveries.error_class: a reason (reasons.ts) for refusals. */
  errorClass: string | null;
  smtpCode: number | null;
}

/** Reasons that are about us, not the reader: the relay should rest before it sends more. */
const BLOCKS: ReadonlySet<BounceReason> = new Set(['blocked', 'spam_content', 'security']);

/** Errors raised before any connection to the relay existed. */
const NEVER_CONNECTED =
  /ECONNREFUSED|ENOTFOUND|EHOSTUNREACH|ENETUNREACH|EAI_AGAIN|Greeting never received|Connection timeout/i;

export function classifySmtpReply(outcome: SmtpOutcomeLike | null | undefined): Classification {
  if (!outcome) return { decision: 'accepted', errorClass: null, smtpCode: 250 };
  const code = outcome.responseCode ?? parseLeadingCode(outcome.response);
  const text = `${outcome.response ?? ''} ${outcome.message ?? ''}`;

  if (
    outcome.code === 'EAUTH' ||
    outcome.code === 'ENOAUTH' ||
    code === 530 ||
    code === 535 ||
    code === 534
  ) {
    return { decision: 'pause-issue', errorClass: 'auth', smtpCode: code ?? null };
  }
  if (outcome.code === 'ETLS' || /\b(certificate|TLS|SSL)\b/i.test(outcome.message ?? '')) {
    return { decision: 'pause-issue', errorClass: 'tls', smtpCode: code ?? null };
  }
  if (code !== undefined) {
    if (code >= 200 && code < 300) return { decision: 'accepted', errorClass: null, smtpCode: code };
    if (code >= 400 && code < 600) {
      const { reason } = readReply({ code, text });
      if (code === 421 || code === 454 || reason === 'rate_limited')
        return { decision: 'throttle', errorClass: 'rate_limited', smtpCode: code };
      if (code < 500) return { decision: 'retry', errorClass: reason, smtpCode: code };
      if (isHardReason(reason)) return { decision: 'fail-suppress', errorClass: reason, smtpCode: code };
      if (BLOCKS.has(reason)) return { decision: 'fail-block', errorClass: reason, smtpCode: code };
      return { decision: 'fail', errorClass: reason, smtpCode: code };
    }
  }
  // No reply code: a network problem. nodemailer reports a socket dropped mid-DATA as a CONN
  // error, so only failures that prove no connection existed are safe to retry; anything else may
  // have reached the relay and must not be guessed at (invariant 3).
  if (NEVER_CONNECTED.test(text) || outcome.code === 'EDNS' || outcome.beforeMessage === true) {
    return { decision: 'retry', errorClass: 'network', smtpCode: null };
  }
  return { decision: 'unknown', errorClass: 'connection_lost', smtpCode: null };
}

function parseLeadingCode(response: string | undefined): number | undefined {
  const m = response ? /^(\d{3})\b/.exec(response) : null;
  return m ? Number(m[1]) : undefined;
}

/** Exponential backoff with full jitter: attempt 1 waits up to base, attempt 2 up to 2×base, … */
export function retryDelayMs(attempt: number, baseMs: number, random: () => number = Math.random): number {
  const ceiling = baseMs * 2 ** Math.max(0, Math.min(attempt - 1, 20));
  return Math.round(ceiling / 2 + (random() * ceiling) / 2);
}

/**
 * The pool handed the message to a connection the relay had just closed (e.g. right after a
 * 421-and-close) and, with requeues off, gave it back unsent: no command of it reached the relay,
 * so the row goes back to the queue as it is (no attempt, no guess of "unknown").
 */
export function neverSent(outcome: SmtpOutcomeLike | null | undefined): boolean {
  return (
    !!outcome &&
    outcome.responseCode === undefined &&
    /Reached maximum number of retries after connection was closed/.test(outcome.message ?? '')
  );
}
