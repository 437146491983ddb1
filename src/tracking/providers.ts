import { createHmac, timingSafeEqual } from 'node:crypto';
import { type BounceReason, isHardReason } from '../delivery/reasons.js';
import { readReply } from '../delivery/reply-rules.js';
import type { MailFeedback } from './feedback.js';

/**
 * A provider's bounce read like any other: the reason from its status and words; it stays hard
 * only when the provider says permanent and the words do not say something passing (mailbox full,
 * throttled, blocked). A permanent bounce with no readable words keeps the provider's verdict.
 */
function providerBounce(
  permanent: boolean,
  status: string | undefined,
  diagnostic: string | undefined,
  hint?: BounceReason,
): { severity: 'hard' | 'soft'; reason: BounceReason } {
  const read = readReply({ status, text: diagnostic ?? '' }).reason;
  const reason = read === 'undetermined' && hint ? hint : read;
  return {
    severity: permanent && (isHardReason(reason) || reason === 'undetermined') ? 'hard' : 'soft',
    reason,
  };
}

const SES_SUBTYPES: Record<string, BounceReason> = {
  NoEmail: 'user_unknown',
  MailboxFull: 'mailbox_full',
  MessageTooLarge: 'message_too_big',
  ContentRejected: 'spam_content',
  AttachmentRejected: 'spam_content',
};

/**
 * Provider webhooks mapped to the one feedback model (see feedback.ts). Only bounces and
 * complaints are taken: opens and clicks are Gazette's own, and "delivered" adds nothing to the
 * ledger's accepted state.
 */

type Json = Record<string, unknown>;

function obj(v: unknown): Json {
  return v && typeof v === 'object' && !Array.isArray(v) ? (v as Json) : {};
}
function str(v: unknown): string | undefined {
  return typeof v === 'string' && v.trim() ? v.trim() : undefined;
}
function date(v: unknown): Date {
  const d =
    typeof v === 'number' ? new Date(v * 1000) : typeof v === 'string' ? new Date(v) : new Date(Number.NaN);
  return Number.isNaN(d.getTime()) ? new Date() : d;
}

/** The original Message-ID from an SES `mail` object (headers need "include original headers"). */
function sesMessageId(mail: Json): string | undefined {
  const common = str(obj(mail.commonHeaders).messageId);
  if (common) return common;
  const headers = Array.isArray(mail.headers) ? mail.headers : [];
  for (const h of headers) {
    const header = obj(h);
    if (str(header.name)?.toLowerCase() === 'message-id') return str(header.value);
  }
  return undefined;
}

/** An SES notification (SNS `Message`, either notificationType or event-publishing eventType). */
export function feedbackFromSes(message: unknown, snsMessageId: string): MailFeedback[] {
  const m = obj(message);
  const type = str(m.notificationType) ?? str(m.eventType);
  const mail = obj(m.mail);
  const messageId = sesMessageId(mail);
  const base = { channel: 'ses', ...(messageId ? { messageId } : {}) };
  if (type === 'Bounce') {
    const b = obj(m.bounce);
    const permanent = str(b.bounceType) === 'Permanent';
    const hint = SES_SUBTYPES[str(b.bounceSubType) ?? ''];
    const reportId = str(b.feedbackId) ?? snsMessageId;
    const recipients = Array.isArray(b.bouncedRecipients) ? b.bouncedRecipients.map(obj) : [];
    return recipients.map((r) => {
      const recipient = str(r.emailAddress);
      const status = str(r.status);
      const diagnostic = str(r.diagnosticCode);
      return {
        kind: 'bounce' as const,
        ...providerBounce(permanent, status, diagnostic, hint),
        ...base,
        reportId: `${reportId}:${recipient ?? ''}`,
        occurredAt: date(b.timestamp),
        ...(recipient ? { recipient } : {}),
        ...(status ? { status } : {}),
        ...(diagnostic ? { diagnostic } : {}),
      };
    });
  }
  if (type === 'Complaint') {
    const c = obj(m.complaint);
    const reportId = str(c.feedbackId) ?? snsMessageId;
    const recipients = Array.isArray(c.complainedRecipients) ? c.complainedRecipients.map(obj) : [];
    const feedbackType = str(c.complaintFeedbackType) ?? 'abuse';
    return recipients.map((r) => {
      const recipient = str(r.emailAddress);
      return {
        kind: 'complaint' as const,
        ...base,
        feedbackType,
        reportId: `${reportId}:${recipient ?? ''}`,
        occurredAt: date(c.timestamp),
        ...(recipient ? { recipient } : {}),
      };
    });
  }
  return [];
}

/**
 * Mailgun signs each webhook: signature = hex HMAC-SHA256(signing key, timestamp + token).
 * A stale timestamp is refused so a captured request cannot be replayed much later (a replay
 * within the window changes nothing anyway: events are idempotent).
 */
export function verifyMailgunSignature(
  signingKey: string,
  signature: unknown,
  opts: { now?: Date; maxAgeSeconds?: number } = {},
): boolean {
  const s = obj(signature);
  const timestamp = str(s.timestamp);
  const token = str(s.token);
  const given = str(s.signature);
  if (!timestamp || !token || !given || !/^[0-9a-f]{64}$/i.test(given)) return false;
  const age = Math.abs((opts.now ?? new Date()).getTime() / 1000 - Number(timestamp));
  if (!Number.isFinite(age) || age > (opts.maxAgeSeconds ?? 15 * 60)) return false;
  const expected = createHmac('sha256', signingKey)
    .update(timestamp + token)
    .digest();
  return timingSafeEqual(expected, Buffer.from(given, 'hex'));
}

export function feedbackFromMailgun(eventData: unknown): MailFeedback[] {
  const e = obj(eventData);
  const event = str(e.event);
  const recipient = str(e.recipient);
  const messageId = str(obj(obj(e.message).headers)['message-id']);
  const id = str(e.id) ?? `${event}:${String(e.timestamp)}:${recipient ?? ''}`;
  const base = {
    channel: 'mailgun',
    reportId: id,
    occurredAt: date(e.timestamp),
    ...(recipient ? { recipient } : {}),
    ...(messageId ? { messageId } : {}),
  };
  if (event === 'failed') {
    const ds = obj(e['delivery-status']);
    const code = ds.code;
    const diagnostic = str(ds.description) ?? str(ds.message);
    return [
      {
        kind: 'bounce',
        ...providerBounce(
          str(e.severity) === 'permanent',
          /^\d\.\d{1,3}\.\d{1,3}/.exec(str(ds['enhanced-code']) ?? '')?.[0],
          [code, diagnostic].filter((x) => x !== undefined).join(' '),
        ),
        ...base,
        ...(code !== undefined ? { status: String(code) } : {}),
        ...(diagnostic ? { diagnostic } : {}),
      },
    ];
  }
  if (event === 'complained') return [{ kind: 'complaint', feedbackType: 'abuse', ...base }];
  return [];
}
