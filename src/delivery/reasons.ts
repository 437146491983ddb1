/**
 * Why a message was not delivered: one taxonomy for SMTP replies at send time (classify.ts) and
 * for bounce reports read later (tracking/report-parse.ts). The names follow the reasons sisimai
 * uses, grouped to what Gazette acts on; each says what the remote side told us.
 *
 * Only the reasons in HARD_REASONS mean "this address cannot receive mail": those alone may
 * suppress a reader at once. Every other reason is about the message, the sender, the network or a
 * passing state of the mailbox, and a good reader stays.
 */
export const BOUNCE_REASONS = [
  /** The mailbox does not exist (5.1.1, "user unknown", "mailbox not found"). */
  'user_unknown',
  /** The domain does not exist or accepts no mail (5.1.2, NXDOMAIN, null MX per RFC 7505). */
  'host_unknown',
  /** The address has moved and gives no forwarding (5.1.6, 551). */
  'has_moved',
  /** The domain publishes that it accepts no mail at all (5.1.10, null MX). */
  'not_accepted',
  /** Over quota (5.2.2, 4.2.2, "mailbox full"): passing, the reader empties it. */
  'mailbox_full',
  /** The message (or a header) is larger than the receiver takes (5.3.4, 552 size). */
  'message_too_big',
  /** The receiver asks us to slow down, whatever code it used (QQ 550 "frequency limited", 163 HL:IFQ). */
  'rate_limited',
  /** The sender, its IP or domain is refused by reputation or policy (blocklists, 5.7.1 low reputation). */
  'blocked',
  /** The content was judged spam or refused by a content filter (DT:SPM, 5.7.1 spam). */
  'spam_content',
  /** The message waited too long in a queue and was given up (4.4.7, 5.4.7). */
  'expired',
  /** The mailbox exists but is disabled or inactive (5.2.1, "deactivated mailbox"). */
  'suspended',
  /** Our authentication failed at the receiver (SPF, DKIM, DMARC) or TLS was required. */
  'security',
  /** The server refused to relay for us (5.7.1 "relaying denied", 554 "Local user only"). */
  'relay_refused',
  /** The message itself is malformed (5.6.x, bad headers, bad encoding). */
  'content_error',
  /** A server or network fault on the way (5.3.x, 5.4.x, DNS failures, loops). */
  'system_error',
  /** The report or reply says too little to tell. */
  'undetermined',
] as const;

export type BounceReason = (typeof BOUNCE_REASONS)[number];

/** Reasons that say the address itself cannot receive mail. */
export const HARD_REASONS: ReadonlySet<BounceReason> = new Set([
  'user_unknown',
  'host_unknown',
  'has_moved',
  'not_accepted',
]);

export function isHardReason(reason: BounceReason): boolean {
  return HARD_REASONS.has(reason);
}

export function isBounceReason(value: string): value is BounceReason {
  return (BOUNCE_REASONS as readonly string[]).includes(value);
}

/** Names for editors (statistics, the subscriber's page); the one translation table for reasons. */
export const REASON_LABELS: Record<'en' | 'zh-CN', Record<BounceReason, string>> = {
  en: {
    user_unknown: 'mailbox does not exist',
    host_unknown: 'domain does not exist',
    has_moved: 'address has moved',
    not_accepted: 'domain accepts no mail',
    mailbox_full: 'mailbox full',
    message_too_big: 'message too big',
    rate_limited: 'rate limited (throttled)',
    blocked: 'blocked by reputation or policy',
    spam_content: 'judged as spam',
    expired: 'expired after retries',
    suspended: 'mailbox suspended',
    security: 'sender authentication or TLS',
    relay_refused: 'relaying refused',
    content_error: 'malformed message',
    system_error: 'server or network error',
    undetermined: 'undetermined',
  },
  'zh-CN': {
    user_unknown: '邮箱不存在',
    host_unknown: '域名不存在',
    has_moved: '地址已迁移',
    not_accepted: '域名不接收邮件',
    mailbox_full: '邮箱已满',
    message_too_big: '邮件过大',
    rate_limited: '频率受限（限流）',
    blocked: '因信誉或策略被拦截',
    spam_content: '被判为垃圾邮件',
    expired: '多次重试后过期',
    suspended: '邮箱已停用',
    security: '发件认证或 TLS 问题',
    relay_refused: '拒绝转发',
    content_error: '邮件格式错误',
    system_error: '服务器或网络错误',
    undetermined: '原因不明',
  },
};

export function reasonLabel(reason: string, locale: string): string {
  const table = locale === 'en' ? REASON_LABELS.en : REASON_LABELS['zh-CN'];
  return isBounceReason(reason) ? table[reason] : reason;
}
