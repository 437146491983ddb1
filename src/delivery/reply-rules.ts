import type { BounceReason } from './reasons.js';

/**
 * What a remote server's words mean: one table for SMTP replies at send time and for the
 * Diagnostic-Code / text of bounce reports. Learned from the providers' published reply lists
 * and sisimai's Rhost modules; written for the servers our readers use (QQ/Tencent Exmail,
 * NetEase 163/126/Coremail, Alibaba, Sina/Sohu) and the large western ones.
 *
 * Order of trust: a provider's own wording first (QQ sends rate limits as "550 ... frequency
 * limited", 163 as "554 HL:IFQ"), then general wording, then the RFC 3463 enhanced status, then
 * the bare reply code. A bare 5xx says too little to suppress anyone: it is `undetermined`.
 */
export interface ReplyRule {
  /** Whose wording it is ('generic' for anyone's). */
  provider: string;
  pattern: RegExp;
  reason: BounceReason;
}

const rule = (provider: string, pattern: RegExp, reason: BounceReason): ReplyRule => ({
  provider,
  pattern,
  reason,
});

export const PROVIDER_RULES: readonly ReplyRule[] = [
  // QQ Mail / Tencent Exmail (service.mail.qq.com/detail/122).
  rule('tencent', /\b(?:ip|domain|sender|connection) frequency limited/i, 'rate_limited'),
  rule('tencent', /mailbox unavailable or access deni(?:n)?ed/i, 'rate_limited'),
  rule('tencent', /suspected bounce attacks|suspected spam ip|connection denied/i, 'blocked'),
  rule('tencent', /spam is embedded in the email|mail content denied|suspected spam/i, 'spam_content'),
  rule('tencent', /mail is rejected by recipients/i, 'blocked'),
  rule('tencent', /is a deactivated mailbox/i, 'suspended'),
  rule('tencent', /(?:spf|dmarc) check failed/i, 'security'),
  // NetEase 163/126/yeah and Coremail: a two-part code such as HL:IFQ (help.mail.163.com).
  rule('netease', /\b(?:HL:(?:IFQ|ICC|IFC|RCC)|MI:(?:STC|SFQ|DMC)|RP:(?:QRC|RCL|TRC|DQC))\b/, 'rate_limited'),
  rule('netease', /\bDT:SPM\b|\bIllegal Attachment\b/i, 'spam_content'),
  rule(
    'netease',
    /\b(?:HL:(?:IHU|IPB|REP|ODH|MEP)|DT:(?:RBL|SUM)|MI:(?:CEL|NHD|IMF|SPB)|RP:CEL)\b/,
    'blocked',
  ),
  rule('netease', /\bMI:(?:SPF|DMA)\b/, 'security'),
  rule('netease', /\bRP:FRL\b|Local user only/i, 'relay_refused'),
  rule('netease', /\bUser suspended\b|被冻结|已停用|已被禁用/i, 'suspended'),
  // Alibaba Mail (qiye.aliyun.com) and Sina/Sohu: their own wording for limits and blocks.
  rule(
    'alibaba',
    /too (?:frequent|many) (?:sending|mails|messages|connections)|发送频率过高/i,
    'rate_limited',
  ),
  rule('alibaba', /\bIP in blacklist\b|ip address is blocked/i, 'blocked'),
  rule('sina', /\bfrequency (?:limit|too high)|over the limit of sending/i, 'rate_limited'),
  // Gmail (support.google.com/a/answer/3726730).
  rule(
    'google',
    /very low reputation|unusual rate of unsolicited mail|not authorized to send email directly/i,
    'blocked',
  ),
  rule('google', /likely unsolicited mail|has been identified as spam/i, 'spam_content'),
  rule('google', /unusual rate of mail|temporarily rate limited/i, 'rate_limited'),
  rule('google', /account that you tried to reach does not exist/i, 'user_unknown'),
  rule(
    'google',
    /account that you tried to reach is (?:inactive|disabled)|account has been disabled/i,
    'suspended',
  ),
  rule('google', /out of storage space|is over quota|email quota exceeded/i, 'mailbox_full'),
  rule(
    'google',
    /exceeded google's message size limits|exceeds google's message size limit/i,
    'message_too_big',
  ),
  rule(
    'google',
    /senders to authenticate|dmarc policy|fails to pass (?:spf|authentication) checks/i,
    'security',
  ),
  // Outlook.com / Office 365 / Exchange (learn.microsoft.com NDR list).
  rule('microsoft', /temporarily rate limited due to ip reputation|\b4\.7\.[5-8]\d\d\b/i, 'rate_limited'),
  rule(
    'microsoft',
    /RESOLVER\.ADR\.(?:RecipNotFound|RecipientNotFound|ExRecipNotFound)|Recipient not found by SMTP address lookup/i,
    'user_unknown',
  ),
  rule('microsoft', /\b5\.4\.1 Recipient address rejected: Access denied/i, 'user_unknown'),
  rule('microsoft', /\b5\.5\.0 Requested action not taken: mailbox unavailable/i, 'user_unknown'),
  rule('microsoft', /RESOLVER\.ST\.OverQuota|mailbox (?:is )?full/i, 'mailbox_full'),
  rule(
    'microsoft',
    /on our block list|banned sending ip|banned sender|using customer block list|traffic not accepted from this ip/i,
    'blocked',
  ),
  rule('microsoft', /does not pass dmarc verification|sender policy framework violation/i, 'security'),
  // Yahoo / AOL (senders.yahooinc.com/smtp-error-codes).
  rule(
    'yahoo',
    /\[TS0[1-4]\]|temporarily deferred due to unexpected volume or user complaints/i,
    'rate_limited',
  ),
  rule('yahoo', /\[TSS0[59]\]|permanently deferred|not accepted for policy reasons/i, 'blocked'),
  rule('yahoo', /\[PH0\d\]/i, 'spam_content'),
  rule('yahoo', /doesn't have a (?:yahoo|ymail|aol)\.com account|mailbox not found/i, 'user_unknown'),
  rule('yahoo', /this mailbox is disabled/i, 'suspended'),
];

/** Wording anyone may use; earlier rules win. */
export const GENERIC_RULES: readonly ReplyRule[] = [
  rule(
    'generic',
    /rate limit|too many (?:messages|mails|emails|connections|concurrent|recipients|sessions)|frequency limit|slow down|throttl|sending too fast|频率|过于频繁|发送过快|发信过快/i,
    'rate_limited',
  ),
  rule(
    'generic',
    /user (?:unknown|not found|doesn'?t exist|does not exist)|unknown (?:user|recipient|local part|mailbox)|no such (?:user|mailbox|recipient|address|person)|mailbox (?:not found|does not exist|doesn'?t exist|unknown)|recipient (?:not found|unknown|does not exist)|invalid (?:recipient|mailbox|user)\b|address (?:does not exist|unknown|not found)|account (?:does not exist|not found|doesn'?t exist)|unrouteable address|not a valid mailbox|not listed in (?:the )?(?:Domino )?(?:public )?(?:directory|address book|Name & Address Book)|用户不存在|收件人不存在|邮箱不存在|地址不存在|帐号不存在|账号不存在|账户不存在|无此用户|查无此人/i,
    'user_unknown',
  ),
  rule(
    'generic',
    /host (?:unknown|not found)|domain (?:not found|does not exist|unknown)|Host or domain name not found|unrouteable mail domain|name service error|no mx (?:record|host)|域名不存在/i,
    'host_unknown',
  ),
  rule('generic', /null mx|does not accept (?:e-?)?mail/i, 'not_accepted'),
  rule('generic', /user has moved|address has moved|no longer (?:valid|in use|available)/i, 'has_moved'),
  rule(
    'generic',
    /mailbox (?:is )?(?:disabled|deactivated|inactive|suspended|locked|frozen)|account (?:is )?(?:disabled|suspended|inactive|locked)|邮箱.{0,6}(?:冻结|停用|禁用)/i,
    'suspended',
  ),
  rule(
    'generic',
    /(?:mailbox|inbox|quota|storage|mail ?box).{0,20}(?:full|exceeded)|over ?quota|over (?:its |the |the allowed |allowed )?quota|quota exceed|insufficient (?:system )?storage|not enough (?:disk )?space|邮箱已满|邮箱空间不足|容量不足|超出.{0,4}容量|空间已满/i,
    'mailbox_full',
  ),
  rule(
    'generic',
    /message (?:size )?(?:is )?too (?:big|large)|size limit|exceeds? (?:the )?(?:maximum )?(?:message )?size|邮件(?:过大|太大|大小超)/i,
    'message_too_big',
  ),
  rule('generic', /\b(?:SPF|DKIM|DMARC)\b|TLS (?:is )?required|must issue a STARTTLS/i, 'security'),
  rule(
    'generic',
    /relay(?:ing)? (?:access )?(?:denied|not permitted|not allowed|prohibited)|not permitted to relay|we do not relay|unable to relay/i,
    'relay_refused',
  ),
  rule(
    'generic',
    /block ?list|black ?list|deny ?list|blocked using|reputation|\bRBL\b|\bDNSBL\b|spamhaus|spamcop|barracuda|黑名单/i,
    'blocked',
  ),
  rule(
    'generic',
    /spam|junk|unsolicited|content (?:denied|rejected|filter)|virus|垃圾邮件|内容.{0,4}(?:违规|拒绝)/i,
    'spam_content',
  ),
  rule('generic', /blocked|policy|access denied|not allowed|refused|拒绝|拦截/i, 'blocked'),
  rule(
    'generic',
    /expired|too long in (?:the )?queue|retry time(?:out)? (?:not )?(?:reached|exceeded)|gave up|过期/i,
    'expired',
  ),
];

/** RFC 3463 enhanced status → reason (subject.detail; the class is told apart by the caller). */
export function reasonOfStatus(status: string | undefined): BounceReason | undefined {
  const m = /^\s*([245])\.(\d{1,3})\.(\d{1,3})/.exec(status ?? '');
  if (!m) return undefined;
  const [subject, detail] = [Number(m[2]), Number(m[3])];
  if (m[1] === '2') return undefined;
  switch (subject) {
    case 1:
      if (detail === 1 || detail === 3) return 'user_unknown';
      if (detail === 2) return 'host_unknown';
      if (detail === 6) return 'has_moved';
      if (detail === 10) return 'not_accepted';
      if (detail === 7 || detail === 8) return 'blocked'; // our sender address or domain refused
      return 'undetermined';
    case 2:
      if (detail === 1) return 'suspended';
      if (detail === 2) return 'mailbox_full';
      if (detail === 3) return 'message_too_big';
      return 'undetermined';
    case 3:
      return detail === 4 ? 'message_too_big' : 'system_error';
    case 4:
      return detail === 7 ? 'expired' : 'system_error';
    case 5:
      return detail === 3 ? 'rate_limited' : 'system_error';
    case 6:
      return 'content_error';
    case 7:
      if (detail >= 23 && detail <= 27) return 'security'; // SPF, DKIM, DMARC, reverse DNS
      if (detail === 8 || detail === 9 || detail === 10 || detail === 11) return 'security';
      if (detail === 28) return 'blocked';
      return 'blocked';
    default:
      return 'undetermined';
  }
}

export interface ReplyReading {
  reason: BounceReason;
  /** Which rule said so: a provider name, 'generic', 'status' or 'code'. */
  source: string;
}

const STATUS_IN_TEXT = /\b([245])\.(\d{1,3})\.(\d{1,3})\b/;

/**
 * The reason a reply (or a report's diagnostic text) gives. `status` is the DSN Status field when
 * there is one; otherwise the enhanced code is looked for in the text.
 */
export function readReply(input: {
  code?: number | undefined;
  status?: string | undefined;
  text?: string | undefined;
}): ReplyReading {
  const text = input.text ?? '';
  for (const r of PROVIDER_RULES) if (r.pattern.test(text)) return { reason: r.reason, source: r.provider };
  for (const r of GENERIC_RULES) if (r.pattern.test(text)) return { reason: r.reason, source: 'generic' };
  const status = input.status ?? STATUS_IN_TEXT.exec(text)?.[0];
  const fromStatus = reasonOfStatus(status);
  if (fromStatus && fromStatus !== 'undetermined') return { reason: fromStatus, source: 'status' };
  const code = input.code ?? leadingCode(text);
  if (code === 421) return { reason: 'rate_limited', source: 'code' };
  if (code === 452 || code === 552) return { reason: 'mailbox_full', source: 'code' };
  return { reason: 'undetermined', source: fromStatus ? 'status' : 'code' };
}

function leadingCode(text: string): number | undefined {
  const m = /^\s*([245]\d\d)\b/.exec(text);
  return m ? Number(m[1]) : undefined;
}
