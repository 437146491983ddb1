import type { BounceReason } from '../delivery/reasons.js';
import { isHardReason } from '../delivery/reasons.js';

/**
 * When a bounce or complaint stops mail to a reader. Pure: feedback.ts gathers the history and
 * applies the answer. A reader wrongly suppressed is a reader lost, so only what says the address
 * cannot receive mail suppresses at once; passing trouble must repeat, without a sign of life in
 * between, before it does.
 */
export interface SoftBounceSettings {
  /** N: soft-bounced issues that suppress (publication.soft_bounce_limit, default 3). */
  limit: number;
  /** M: how many of the reader's latest issues are looked at (publication.soft_bounce_issues, default 3). */
  issues: number;
}

export const DEFAULT_SOFT_BOUNCE: SoftBounceSettings = { limit: 3, issues: 3 };

/** One issue sent to the reader, newest first in the history. */
export interface IssueOutcome {
  /** The relay accepted the message. */
  accepted: boolean;
  /** At least one soft bounce was reported for it (several reports for one issue count once). */
  softBounced: boolean;
  /** The reader opened or clicked it. */
  engaged: boolean;
}

export type BounceVerdict =
  | { suppress: true; why: 'hard_bounce' | 'soft_bounce' }
  | { suppress: false; why: 'soft_below_limit' | 'not_a_bounce'; streak?: number };

/**
 * Soft-bounced issues in a row, newest first, within the last `issues`: an open or click, or an
 * accepted delivery that did not bounce, ends the streak.
 */
export function softBounceStreak(history: readonly IssueOutcome[], issues: number): number {
  let streak = 0;
  for (const h of history.slice(0, issues)) {
    if (h.engaged) break;
    if (h.softBounced) streak++;
    else if (h.accepted) break;
  }
  return streak;
}

/**
 * `hard` is the report's own verdict: for DSNs and text bounces it is isHardReason(reason); a
 * provider (SES, Mailgun) that says "permanent" without a reason we can read is trusted.
 */
export function bounceVerdict(
  bounce: { reason: BounceReason; failed: boolean; hard?: boolean },
  history: readonly IssueOutcome[],
  settings: SoftBounceSettings = DEFAULT_SOFT_BOUNCE,
): BounceVerdict {
  if (!bounce.failed) return { suppress: false, why: 'not_a_bounce' };
  if (bounce.hard ?? isHardReason(bounce.reason)) return { suppress: true, why: 'hard_bounce' };
  const streak = softBounceStreak(history, settings.issues);
  return streak >= settings.limit
    ? { suppress: true, why: 'soft_bounce' }
    : { suppress: false, why: 'soft_below_limit', streak };
}

/** Mailbox providers whose feedback loops send `other` for "this is spam" (RFC 5965 allows it). */
const KNOWN_LOOPS =
  /yahoo|aol|verizon|microsoft|outlook|hotmail|jmrp|comcast|mail\.ru|yandex|fastmail|zoho|cloudmark|returnpath|validity|abusix|qq\.com|tencent|163\.com|netease|coremail|aliyun|alibaba|sina|sohu/i;

export type ComplaintVerdict = { suppress: boolean; why: string };

/**
 * RFC 5965 feedback types: abuse, fraud and virus stop mail; `other` does when a known feedback
 * loop sent it; `auth-failure` (DMARC/DKIM reports), `not-spam` and anything unknown are recorded
 * only, since none of them says the reader wants no more mail.
 */
export function complaintVerdict(feedbackType: string | undefined, source?: string): ComplaintVerdict {
  const type = (feedbackType ?? 'abuse').trim().toLowerCase();
  if (type === 'abuse' || type === 'fraud' || type === 'virus') return { suppress: true, why: type };
  if (type === 'other' && source && KNOWN_LOOPS.test(source))
    return { suppress: true, why: 'other_known_loop' };
  return { suppress: false, why: type };
}
