import { describe, expect, it } from 'vitest';
import { classifySmtpReply } from '../../src/delivery/classify.js';
import { BOUNCE_REASONS, isHardReason, REASON_LABELS } from '../../src/delivery/reasons.js';
import { readReply } from '../../src/delivery/reply-rules.js';

/**
 * Replies as the providers' help pages and postmaster sites word them. What matters most: a
 * throttle or a block never suppresses a reader; only "this mailbox does not exist" does.
 */
const replies: Array<[provider: string, reply: string, reason: string, decision: string]> = [
  // QQ Mail / Tencent Exmail
  ['qq', '550 Mailbox unavailable or access denied', 'rate_limited', 'throttle'],
  ['qq', '550 Domain frequency limited', 'rate_limited', 'throttle'],
  ['qq', '550 Sender frequency limited', 'rate_limited', 'throttle'],
  ['qq', '550 Connection frequency limited', 'rate_limited', 'throttle'],
  ['qq', '550 Ip frequency limited [http://service.mail.qq.com/detail/122/172]', 'rate_limited', 'throttle'],
  ['qq', '550 Mailbox not found. http://service.mail.qq.com/detail/122/169', 'user_unknown', 'fail-suppress'],
  ['qq', '550 Suspected spam ip, please contact the administrator', 'blocked', 'fail-block'],
  ['qq', '550 Mail content denied. http://service.mail.qq.com/detail/122/171', 'spam_content', 'fail-block'],
  ['qq', '550 Message too large', 'message_too_big', 'fail'],
  ['qq', '550 DMARC check failed', 'security', 'fail-block'],
  ['exmail', '550 someone@firm.cn is a deactivated mailbox', 'suspended', 'fail'],
  // NetEase 163/126 and Coremail
  ['163', '554 HL:IFQ 发送频率过高 http://mail.163.com/help/help_spam_16.htm', 'rate_limited', 'throttle'],
  ['163', '554 HL:ICC too many concurrent connections from this IP', 'rate_limited', 'throttle'],
  ['163', '451 RP:QRC daily recipient quota of this sender exceeded', 'rate_limited', 'throttle'],
  ['163', '550 MI:STC sender connections today over the limit', 'rate_limited', 'throttle'],
  ['163', '554 DT:SPM 163 mx14,QMCowAD3 content judged as spam', 'spam_content', 'fail-block'],
  ['126', '554 HL:IHU sending IP suspended for unusual behaviour', 'blocked', 'fail-block'],
  ['163', '550 MI:SPF sender IP not authorised by the SPF record', 'security', 'fail-block'],
  ['163', '550 User not found: reader@163.com', 'user_unknown', 'fail-suppress'],
  ['126', '550 User suspended: reader@126.com', 'suspended', 'fail'],
  ['coremail', '550 5.1.1 用户不存在', 'user_unknown', 'fail-suppress'],
  ['coremail', '552 邮箱空间不足 mailbox full', 'mailbox_full', 'fail'],
  ['coremail', '553 Requested action not taken: Local user only', 'relay_refused', 'fail'],
  // Alibaba Mail
  ['alibaba', '550 Mailbox not found.', 'user_unknown', 'fail-suppress'],
  ['alibaba', '554 5.7.1 IP in blacklist', 'blocked', 'fail-block'],
  ['alibaba', '450 Too frequent sending, try again later', 'rate_limited', 'throttle'],
  ['alibaba', '551 virus infected mail rejected', 'spam_content', 'fail-block'],
  // Sina / Sohu
  [
    'sina',
    '550 5.1.1 <reader@sina.com>: Recipient address rejected: User unknown in local recipient table',
    'user_unknown',
    'fail-suppress',
  ],
  ['sina', '554 5.7.1 frequency limit, try later', 'rate_limited', 'throttle'],
  ['sohu', '552 5.2.2 user over quota', 'mailbox_full', 'fail'],
  // Gmail
  [
    'gmail',
    "550 5.1.1 The email account that you tried to reach does not exist. Please try double-checking the recipient's email address",
    'user_unknown',
    'fail-suppress',
  ],
  ['gmail', '550 5.2.1 The email account that you tried to reach is inactive.', 'suspended', 'fail'],
  ['gmail', "552 5.2.2 The recipient's inbox is out of storage space and inactive.", 'mailbox_full', 'fail'],
  [
    'gmail',
    '550 5.7.1 Our system has detected that this message is likely suspicious due to the very low reputation of the sending IP address.',
    'blocked',
    'fail-block',
  ],
  [
    'gmail',
    '550 5.7.1 Our system has detected that this message is likely unsolicited mail.',
    'spam_content',
    'fail-block',
  ],
  [
    'gmail',
    "550 5.7.26 Unauthenticated email from example.org is not accepted due to domain's DMARC policy.",
    'security',
    'fail-block',
  ],
  [
    'gmail',
    '421 4.7.28 Gmail has detected an unusual rate of mail originating from your IP address.',
    'rate_limited',
    'throttle',
  ],
  ['gmail', "552 5.3.4 Your message exceeded Google's message size limits.", 'message_too_big', 'fail'],
  // Outlook.com / Office 365
  [
    'outlook',
    '550 5.5.0 Requested action not taken: mailbox unavailable (S2017062302)',
    'user_unknown',
    'fail-suppress',
  ],
  [
    'o365',
    '550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient not found by SMTP address lookup',
    'user_unknown',
    'fail-suppress',
  ],
  [
    'o365',
    '550 5.4.1 Recipient address rejected: Access denied. AS(201806281)',
    'user_unknown',
    'fail-suppress',
  ],
  [
    'outlook',
    "550 5.7.1 Unfortunately, messages from [192.0.2.1] weren't sent. Please contact your Internet service provider since part of their network is on our block list (S3150).",
    'blocked',
    'fail-block',
  ],
  [
    'outlook',
    '451 4.7.650 The mail server [192.0.2.5] has been temporarily rate limited due to IP reputation.',
    'rate_limited',
    'throttle',
  ],
  ['o365', '550 5.7.606 Access denied, banned sending IP [192.0.2.1]', 'blocked', 'fail-block'],
  [
    'o365',
    '554 5.2.2 mailbox full; STOREDRV.Deliver.Exception:QuotaExceededException',
    'mailbox_full',
    'fail',
  ],
  // Yahoo / AOL
  [
    'yahoo',
    "554 delivery error: dd This user doesn't have a yahoo.com account (reader@yahoo.com) [0]",
    'user_unknown',
    'fail-suppress',
  ],
  [
    'yahoo',
    '554 delivery error: dd Sorry your message to reader@yahoo.com cannot be delivered. This mailbox is disabled (554.30).',
    'suspended',
    'fail',
  ],
  [
    'yahoo',
    '421 4.7.0 [TSS04] Messages from 192.0.2.1 temporarily deferred due to unexpected volume or user complaints',
    'rate_limited',
    'throttle',
  ],
  [
    'yahoo',
    '553 5.7.2 [TSS09] All messages from 192.0.2.1 will be permanently deferred',
    'blocked',
    'fail-block',
  ],
  [
    'yahoo',
    '554 Message not allowed - [PH01] Email not accepted for policy reasons.',
    'blocked',
    'fail-block',
  ],
  ['aol', '552 1 Requested mail action aborted, mailbox not found', 'user_unknown', 'fail-suppress'],
  // Generic enhanced codes and bare codes
  ['generic', '550 5.1.2 Host unknown', 'host_unknown', 'fail-suppress'],
  ['generic', '556 5.1.10 Recipient address has null MX', 'not_accepted', 'fail-suppress'],
  ['generic', '550 5.1.6 Recipient has moved', 'has_moved', 'fail-suppress'],
  ['generic', '552 5.2.2 Over the quota', 'mailbox_full', 'fail'],
  ['generic', '554 5.6.0 Message content error', 'content_error', 'fail'],
  [
    'generic',
    '550 5.7.1 Service unavailable; client host [192.0.2.9] blocked using zen.spamhaus.org',
    'blocked',
    'fail-block',
  ],
  ['generic', '554 5.7.1 <reader@example.com>: Relay access denied', 'relay_refused', 'fail'],
  ['generic', '550 Requested action not taken: mailbox unavailable', 'undetermined', 'fail'],
  ['generic', '550', 'undetermined', 'fail'],
  ['generic', '554 Transaction failed', 'undetermined', 'fail'],
  ['generic', '451 4.3.0 Try again later', 'system_error', 'retry'],
  ['generic', '452 4.2.2 Mailbox full', 'mailbox_full', 'retry'],
  ['generic', '421 Service not available, closing transmission channel', 'rate_limited', 'throttle'],
];

describe('provider reply table', () => {
  it.each(replies)('%s: %s → %s, %s', (_provider, reply, reason, decision) => {
    const code = Number(reply.slice(0, 3));
    expect(readReply({ code, text: reply }).reason).toBe(reason);
    const c = classifySmtpReply({ responseCode: code, response: reply });
    expect(c.decision).toBe(decision);
    if (decision !== 'throttle') expect(c.errorClass).toBe(reason);
  });

  it('suppresses only for the reasons that say the address cannot receive mail', () => {
    const hard = BOUNCE_REASONS.filter(isHardReason);
    expect(hard).toEqual(['user_unknown', 'host_unknown', 'has_moved', 'not_accepted']);
    for (const [, reply, reason, decision] of replies) {
      if (decision === 'fail-suppress') expect(hard, reply).toContain(reason);
    }
  });

  it('names every reason in both languages', () => {
    for (const r of BOUNCE_REASONS) {
      expect(REASON_LABELS.en[r]).toBeTruthy();
      expect(REASON_LABELS['zh-CN'][r]).toBeTruthy();
    }
  });
});
