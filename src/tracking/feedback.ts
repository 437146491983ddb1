import { createHash } from 'node:crypto';
import { sql } from 'kysely';
import { normalizeEmail } from '../../subscribers/email.js';
import { markBounced, markComplained } from '../../subscribers/lifecycle.js';
import type { Db } from '../db/schema.js';
import { isBounceReason } from '../delivery/reasons.js';
import type { Logger } from '../log.js';
import {
  bounceVerdict,
  complaintVerdict,
  DEFAULT_SOFT_BOUNCE,
  type IssueOutcome,
  type SoftBounceSettings,
} from './suppression-policy.js';

/**
 * Bounces and complaints from every channel (inbound DSN/ARF, SES, Mailgun) in one model, so a
 * hard bounce reported by both the MTA and the provider is one event and one suppression.
 */
export interface MailFeedback {
  kind: 'bounce' | 'complaint';
  /** bounce: hard (permanent, 5.x.x) or soft (temporary, 4.x.x); complaint: the feedback type. */
  severity?: 'hard' | 'soft';
  /** Where it came from: 'dsn', 'arf', 'ses', 'mailgun'. */
  channel: string;
  /** A stable id of the report itself (DSN Message-ID, SNS MessageId, provider event id). */
  reportId: string;
  /** Ways to find the delivery, tried in order. */
  deliveryId?: number;
  messageId?: string;
  recipient?: string;
  status?: string;
  diagnostic?: string;
  feedbackType?: string;
  /** Bounces: the reason (delivery/reasons.ts); a `hard` severity means the reason is a hard one. */
  reason?: string;
  /** Complaints: the feedback loop's User-Agent (tells known loops' `other` reports apart). */
  userAgent?: string;
  occurredAt: Date;
}

export interface DeliveryRef {
  id: number;
  issueId: number;
  subscriberId: number;
  email: string;
}

export type FeedbackOutcome =
  | { result: 'recorded'; deliveryId: number; suppressed: boolean }
  | { result: 'duplicate'; deliveryId: number }
  | { result: 'unmatched'; reason: string };

function stripAngles(id: string): string {
  return id.trim().replace(/^<|>$/g, '');
}

/** Our own Message-IDs name the delivery: `<g{issue}.{delivery}.{variant}@domain>` (delivery/mime.ts). */
export function deliveryIdFromMessageId(messageId: string | undefined): number | undefined {
  if (!messageId) return undefined;
  const m = /^g\d+\.(\d+)\./.exec(stripAngles(messageId));
  return m ? Number(m[1]) : undefined;
}

async function loadDelivery(
  db: Db,
  where: { id?: number; messageId?: string },
): Promise<DeliveryRef | undefined> {
  let q = db
    .selectFrom('deliveries as d')
    .innerJoin('subscribers as s', 's.id', 'd.subscriber_id')
    .select(['d.id', 'd.issue_id', 'd.subscriber_id', 's.email_normalized']);
  if (where.id !== undefined) q = q.where('d.id', '=', where.id);
  else if (where.messageId !== undefined) q = q.where('d.message_id', '=', where.messageId);
  else return undefined;
  const row = await q.executeTakeFirst();
  return row
    ? {
        id: Number(row.id),
        issueId: row.issue_id,
        subscriberId: Number(row.subscriber_id),
        email: row.email_normalized,
      }
    : undefined;
}

/**
 * The delivery a report is about. A VERP id is not secret, so when the report also names the
 * recipient, that must be the delivery's subscriber or the returned Message-ID must be the
 * delivery's: a forged bounce cannot suppress someone else.
 */
export async function findDelivery(db: Db, fb: MailFeedback): Promise<DeliveryRef | { unmatched: string }> {
  const messageId = fb.messageId ? stripAngles(fb.messageId) : undefined;
  const idFromMessage = deliveryIdFromMessageId(messageId);
  const candidates: Array<{ id?: number; messageId?: string }> = [];
  if (fb.deliveryId !== undefined) candidates.push({ id: fb.deliveryId });
  if (messageId) candidates.push({ messageId });
  if (idFromMessage !== undefined) candidates.push({ id: idFromMessage });
  if (!candidates.length)
    return { unmatched: 'the report names no delivery (no VERP address or Message-ID)' };
  let mismatch = false;
  for (const c of candidates) {
    const d = await loadDelivery(db, c);
    if (!d) continue;
    const recipientMatches = !fb.recipient || sameAddress(fb.recipient, d.email);
    const messageMatches = c.messageId !== undefined || idFromMessage === d.id;
    if (recipientMatches || messageMatches) return d;
    mismatch = true;
  }
  return {
    unmatched: mismatch
      ? 'the reported recipient is not the delivery’s subscriber'
      : 'no delivery matches the report',
  };
}

function sameAddress(a: string, normalized: string): boolean {
  try {
    return normalizeEmail(a) === normalized;
  } catch {
    return a.trim().toLowerCase() === normalized;
  }
}

/** Events dedupe keys: one hard bounce and one complaint per delivery; each soft bounce report once. */
export function feedbackDedupeKey(fb: MailFeedback, deliveryId: number): string {
  if (fb.kind === 'complaint') return `complaint:${deliveryId}`;
  if (fb.severity === 'hard') return `bounce-hard:${deliveryId}`;
  const ref = createHash('sha256').update(`${fb.channel}\n${fb.reportId}`).digest('base64url').slice(0, 22);
  return `bounce-soft:${deliveryId}:${ref}`;
}

/**
 * Records the event and, for a hard bounce or a complaint, marks the subscriber and suppresses the
 * address. Written directly (not through the EventWriter): reports are few, and the caller (an
 * SMTP session or a webhook) should only answer "ok" once the report is safely stored.
 */
export async function recordFeedback(db: Db, log: Logger, fb: MailFeedback): Promise<FeedbackOutcome> {
  const found = await findDelivery(db, fb);
  if ('unmatched' in found) {
    log.warn(
      { event: 'tracking.feedback.unmatched', channel: fb.channel, kind: fb.kind, reason: found.unmatched },
      'report not matched',
    );
    return { result: 'unmatched', reason: found.unmatched };
  }
  const dedupeKey = feedbackDedupeKey(fb, found.id);
  const inserted = await db
    .insertInto('events')
    .values({
      type: fb.kind,
      subtype: fb.kind === 'bounce' ? (fb.severity ?? 'soft') : (fb.feedbackType ?? 'abuse'),
      delivery_id: found.id,
      issue_id: found.issueId,
      subscriber_id: found.subscriberId,
      dedupe_key: dedupeKey,
      detail: JSON.stringify(evidenceOf(fb)) as unknown as Record<string, unknown>,
      occurred_at: fb.occurredAt,
    })
    .onConflict((oc) => oc.column('dedupe_key').doNothing())
    .returning('id')
    .executeTakeFirst();
  if (!inserted) {
    log.info(
      { event: 'tracking.feedback.duplicate', channel: fb.channel, deliveryId: found.id },
      'report already recorded',
    );
    return { result: 'duplicate', deliveryId: found.id };
  }
  const evidence = { evidence: evidenceOf(fb), eventId: Number(inserted.id) };
  let suppressed = false;
  let why: string;
  if (fb.kind === 'complaint') {
    const verdict = complaintVerdict(fb.feedbackType, fb.userAgent ?? fb.channel);
    why = verdict.why;
    if (verdict.suppress)
      suppressed = await markComplained(db, found.subscriberId, { now: fb.occurredAt, ...evidence });
  } else {
    const reason = fb.reason && isBounceReason(fb.reason) ? fb.reason : 'undetermined';
    const settings = await softBounceSettings(db);
    const hard = fb.severity === 'hard';
    const history = hard ? [] : await issueHistory(db, found.subscriberId, settings.issues);
    const verdict = bounceVerdict({ reason, failed: true, hard }, history, settings);
    why = verdict.why;
    if (verdict.suppress) {
      suppressed = await markBounced(db, found.subscriberId, {
        now: fb.occurredAt,
        soft: verdict.why === 'soft_bounce',
        bounceReason: reason,
        ...evidence,
      });
    }
  }
  log.info(
    {
      event: `tracking.${fb.kind}.recorded`,
      channel: fb.channel,
      severity: fb.severity,
      deliveryId: found.id,
      subscriberId: found.subscriberId,
      reason: fb.reason,
      suppressed,
      why,
    },
    `${fb.kind} recorded`,
  );
  return { result: 'recorded', deliveryId: found.id, suppressed };
}

/** What a suppression keeps as evidence and the event records as its detail. */
function evidenceOf(fb: MailFeedback): Record<string, unknown> {
  return {
    channel: fb.channel,
    ...(fb.reason ? { reason: fb.reason } : {}),
    ...(fb.status ? { status: fb.status } : {}),
    ...(fb.diagnostic ? { diagnostic: fb.diagnostic.slice(0, 500) } : {}),
    ...(fb.feedbackType ? { feedbackType: fb.feedbackType } : {}),
  };
}

async function softBounceSettings(db: Db): Promise<SoftBounceSettings> {
  const row = await db
    .selectFrom('publication')
    .select(['soft_bounce_limit', 'soft_bounce_issues'])
    .executeTakeFirst();
  return row ? { limit: row.soft_bounce_limit, issues: row.soft_bounce_issues } : DEFAULT_SOFT_BOUNCE;
}

/** The reader's latest issues, newest first: accepted, soft-bounced (reported or refused at send), engaged. */
async function issueHistory(db: Db, subscriberId: number, issues: number): Promise<IssueOutcome[]> {
  const rows = await sql<{ accepted: boolean; soft: boolean; engaged: boolean }>`
    SELECT d.state = 'accepted' AS accepted,
      (d.state = 'failed' AND d.error_class IS NOT NULL AND d.error_class <> 'bad_address')
        OR EXISTS (SELECT 1 FROM events e WHERE e.delivery_id = d.id AND e.type = 'bounce') AS soft,
      EXISTS (SELECT 1 FROM events e WHERE e.delivery_id = d.id AND e.type IN ('open', 'click')) AS engaged
    FROM deliveries d
    WHERE d.subscriber_id = ${subscriberId} AND d.state IN ('accepted', 'failed')
    ORDER BY d.issue_id DESC, d.id DESC
    LIMIT ${issues}`.execute(db);
  return rows.rows.map((r) => ({ accepted: r.accepted, softBounced: r.soft, engaged: r.engaged }));
}
