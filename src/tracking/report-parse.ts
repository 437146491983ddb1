import { type BounceReason, isHardReason } from '../delivery/reasons.js';
import { readReply } from '../delivery/reply-rules.js';
import { plainRecipients } from './plain-bounces.js';
import { type Headers, type ReportMessage, type ReportPart, readMessage } from './report-mime.js';

/**
 * Reads one inbound message and says what it is: a bounce, a complaint (RFC 5965 ARF), a delay
 * notice, an auto-reply, or none of these. Delay notices and auto-replies are recognised so that
 * they are never counted as bounces.
 *
 * Bounces come as RFC 3464 delivery-status parts (inside RFC 3462/6522 multipart/report, or a
 * forward of one), with their field groups in any order, merged, or without the message-level
 * group; or as text written for people, with or without X-Failed-Recipients (plain-bounces.ts).
 * Each failed recipient gets a reason from the one taxonomy (delivery/reasons.ts) read from its
 * status and the remote server's words (delivery/reply-rules.ts), and `hard` only when that reason
 * says the address cannot receive mail.
 */

export type ReportKind = 'bounce' | 'complaint' | 'delay' | 'auto-reply' | 'none';

export interface ReportRecipient {
  address?: string;
  originalRecipient?: string;
  /** RFC 3464 Action: failed, delayed, delivered, relayed, expanded. */
  action: string;
  status?: string;
  diagnostic?: string;
  reason: BounceReason;
  hard: boolean;
}

export interface ParsedReport {
  kind: ReportKind;
  /** How it was read: a delivery-status part, a feedback report, text, or headers only. */
  format: 'dsn' | 'arf' | 'text' | 'none';
  /** For text bounces: the layout found (exim, sendmail, qmail-style blocks, chinese…). */
  family?: string;
  /** The report's own Message-ID (used to recognise a replayed report). */
  reportId?: string;
  date?: Date;
  recipients: ReportRecipient[];
  /** ARF fields. */
  feedbackType?: string;
  userAgent?: string;
  originalMailFrom?: string;
  originalRcptTo?: string;
  /** Message-ID of the message the report is about (from the returned headers). */
  originalMessageId?: string;
  /** Return-Path of the returned message (a VERP address if it was ours). */
  originalReturnPath?: string;
}

/**
 * RFC 3464/5965 fields (`Name: value`, lower-case names, folded lines joined; the first occurrence
 * wins). Delivery-status fields are not a message header, so no MIME library reads them.
 */
function parseFields(block: string): Headers {
  const fields: Headers = new Map();
  let last: string | undefined;
  for (const line of block.split('\n')) {
    if (/^[ \t]/.test(line) && last) {
      fields.set(last, `${fields.get(last)} ${line.trim()}`);
      continue;
    }
    const m = /^([A-Za-z0-9][A-Za-z0-9-]*)\s*:\s*(.*)$/.exec(line);
    last = undefined;
    if (!m) continue;
    const name = (m[1] as string).toLowerCase();
    if (fields.has(name)) continue;
    last = name;
    fields.set(name, (m[2] as string).trim());
  }
  return fields;
}

/** Header-style field groups separated by blank lines, with folded lines joined. */
export function parseFieldGroups(text: string): Map<string, string>[] {
  return text
    .replace(/\r\n?/g, '\n')
    .split(/\n[ \t]*\n/)
    .map(parseFields)
    .filter((g) => g.size > 0);
}

/** `rfc822; someone@example.com` → `someone@example.com`. */
export function addressOf(value: string | undefined): string | undefined {
  if (!value) return undefined;
  const v = value.includes(';') ? value.slice(value.indexOf(';') + 1) : value;
  const angle = /<([^<>]+@[^<>]+)>/.exec(v)?.[1];
  const addr = (angle ?? v).trim().replace(/^<|>$/g, '').trim().toLowerCase();
  return /^[^\s@]+@[^\s@]+$/.test(addr) ? addr : undefined;
}

const stripId = (id: string) => id.trim().replace(/^<|>$/g, '').trim();

const FAILURE_SUBJECT =
  /undeliver|delivery (?:status notification(?! \(delay)|failure|has failed|failed|problem)|returned mail|returned to sender|failure notice|mail delivery failed|could not be delivered|non[- ]?deliver|not delivered|mail system error|mail delivery status|系统退信|退信|投递失败|发送失败|无法投递|未能送达|未送达|退回/i;
const DAEMON_FROM =
  /mailer[-_ ]?daemon|postmaster|courier mail server|mail ?delivery (?:sub)?system|mail administrator|MAILER_DAEMON|系统管理员|邮件系统/i;
const DELAY_SUBJECT =
  /delay|warning: (?:could not send|message .* delayed)|still being retried|not (?:yet )?been delivered|延迟|延时/i;
const DELAY_BODY =
  /will (?:continue to )?(?:be )?retr(?:y|ied)|has been delayed|is delayed|no action is required on your part|still trying|delivery attempts will continue|仍在尝试|将继续尝试/i;
const AUTO_SUBJECT =
  /^(?:auto(?:matic)?[- ]?(?:reply|response|antwort)|out of (?:the )?office|away from (?:my|the) office|vacation|自动回复|自動回覆|自动答复|休假|réponse automatique|abwesenheit)/i;

/** The headers of the returned message (a message/rfc822 part or text/rfc822-headers), if any. */
const returnedHeaders = (m: ReportMessage): Headers | undefined =>
  m.parts.find((p) => p.message)?.message?.headers;

const REPORT_TYPES = new Set([
  'message/delivery-status',
  'message/global-delivery-status',
  'message/feedback-report',
]);

/** The report parts of a message, searching forwarded messages too; the part's message holds the returned message. */
function findReportParts(root: ReportMessage): { parent: ReportMessage; part: ReportPart }[] {
  const visit = (m: ReportMessage): { parent: ReportMessage; part: ReportPart }[] => {
    const own = m.parts.filter((p) => REPORT_TYPES.has(p.type)).map((part) => ({ parent: m, part }));
    if (own.length) return own;
    // A forward: the report is the enclosed message (readMessage bounds the depth).
    for (const p of m.parts) {
      const found = p.message ? visit(p.message) : [];
      if (found.length) return found;
    }
    return [];
  };
  return visit(root);
}

const MESSAGE_LEVEL = new Set([
  'reporting-mta',
  'dsn-gateway',
  'received-from-mta',
  'arrival-date',
  'original-envelope-id',
  'x-original-message-id',
]);

function recipientFrom(fields: Map<string, string>): ReportRecipient | undefined {
  const address = addressOf(fields.get('final-recipient')) ?? addressOf(fields.get('x-actual-recipient'));
  const originalRecipient = addressOf(fields.get('original-recipient'));
  const status = /\d\.\d{1,3}\.\d{1,3}/.exec(fields.get('status') ?? '')?.[0];
  const diagnostic = fields.get('diagnostic-code')?.replace(/^\s*[A-Za-z-]+\s*;\s*/, '');
  let action = fields.get('action')?.toLowerCase().split(/\s/)[0];
  if (!address && !originalRecipient && !action && !status) return undefined;
  action ??= status?.startsWith('4') ? 'delayed' : status?.startsWith('2') ? 'delivered' : 'failed';
  return withReason({
    action,
    ...(address ? { address } : {}),
    ...(originalRecipient ? { originalRecipient } : {}),
    ...(status ? { status } : {}),
    ...(diagnostic ? { diagnostic } : {}),
  });
}

function withReason(r: Omit<ReportRecipient, 'reason' | 'hard'>, context?: string): ReportRecipient {
  const code = /^\s*([45]\d\d)\b/.exec(r.diagnostic ?? '')?.[1];
  let reason = readReply({
    ...(code ? { code: Number(code) } : {}),
    status: r.status,
    text: r.diagnostic ?? '',
  }).reason;
  if (reason === 'undetermined' && context) reason = readReply({ status: r.status, text: context }).reason;
  if (r.action === 'delayed' && reason === 'undetermined') reason = 'system_error';
  const failed = r.action === 'failed';
  return { ...r, reason, hard: failed && isHardReason(reason) };
}

function kindOf(recipients: ReportRecipient[]): ReportKind {
  if (recipients.some((r) => r.action === 'failed')) return 'bounce';
  if (recipients.some((r) => r.action === 'delayed')) return 'delay';
  return 'none';
}

/**
 * Reads one inbound message (see the module comment). Odd input says `none`; only a message past
 * the MIME parser's limits is refused, with an error naming the limit.
 */
export async function parseReport(raw: Buffer | string): Promise<ParsedReport> {
  const root = await readMessage(raw);
  const h = root.headers;
  const report: ParsedReport = { kind: 'none', format: 'none', recipients: [] };
  const reportId = h.get('message-id');
  if (reportId) report.reportId = stripId(reportId);
  const date = h.get('date') ? new Date(h.get('date') as string) : undefined;
  if (date && !Number.isNaN(date.getTime())) report.date = date;

  const parts = findReportParts(root);
  let returned: Map<string, string> | undefined;
  for (const { parent, part } of parts) {
    returned ??= returnedHeaders(parent);
    const groups = parseFieldGroups(part.text);
    if (part.type === 'message/feedback-report') {
      report.format = 'arf';
      report.kind = 'complaint';
      const fields = new Map<string, string>();
      for (const g of groups) for (const [k, v] of g) if (!fields.has(k)) fields.set(k, v);
      report.feedbackType = (fields.get('feedback-type') ?? 'abuse').trim().toLowerCase();
      const ua = fields.get('user-agent');
      if (ua) report.userAgent = ua;
      const mailFrom = addressOf(fields.get('original-mail-from'));
      const rcptTo = addressOf(fields.get('original-rcpt-to')) ?? addressOf(fields.get('removed-recipient'));
      if (mailFrom) report.originalMailFrom = mailFrom;
      if (rcptTo) report.originalRcptTo = rcptTo;
      continue;
    }
    report.format = 'dsn';
    for (const g of groups) {
      const xOriginal = g.get('x-original-message-id');
      if (xOriginal && !report.originalMessageId) report.originalMessageId = stripId(xOriginal);
      // A group with recipient fields is a recipient, whether or not message-level fields share it (AOL).
      const onlyMessageLevel = [...g.keys()].every((k) => MESSAGE_LEVEL.has(k) || k.startsWith('x-'));
      if (onlyMessageLevel && !g.has('x-actual-recipient')) continue;
      const r = recipientFrom(g);
      if (r) report.recipients.push(r);
    }
  }

  const body = () => root.text;
  const failedHeader = h.get('x-failed-recipients');
  if (report.format === 'dsn' && !report.recipients.some((r) => r.address || r.originalRecipient)) {
    // Status without an address (some appliances): the address comes from the header or the text.
    const addrs =
      failedHeader
        ?.split(',')
        .map(addressOf)
        .filter((a): a is string => !!a) ?? [];
    const text = plainRecipients(body());
    const first = report.recipients[0];
    report.recipients = (
      addrs.length ? addrs : (text?.recipients.map((r) => r.address.toLowerCase()) ?? [])
    ).map((address) => withReason({ ...(first ?? { action: 'failed' }), address }, body()));
  }

  if (report.format === 'none') {
    const subject = h.get('subject') ?? '';
    const from = h.get('from') ?? '';
    const bounceLike = !!failedHeader || FAILURE_SUBJECT.test(subject) || DAEMON_FROM.test(from);
    const autoReply =
      /auto-replied|auto-notified/i.test(h.get('auto-submitted') ?? '') ||
      h.has('x-autoreply') ||
      h.has('x-autorespond') ||
      /auto[_-]reply/i.test(h.get('precedence') ?? '') ||
      AUTO_SUBJECT.test(subject.trim());
    if (
      bounceLike &&
      !(autoReply && !failedHeader && !DAEMON_FROM.test(from) && !FAILURE_SUBJECT.test(subject))
    ) {
      readTextBounce(report, root, body(), { subject, failedHeader });
    } else if (autoReply) {
      report.kind = 'auto-reply';
    }
  } else if (report.format === 'dsn') {
    report.kind = kindOf(report.recipients);
  }

  returned ??= returnedHeaders(root);
  if (returned) {
    const mid = returned.get('message-id');
    if (mid && !report.originalMessageId) report.originalMessageId = stripId(mid);
    const rp = addressOf(returned.get('return-path'));
    if (rp) report.originalReturnPath = rp;
    if (report.kind === 'complaint' && !report.originalRcptTo) {
      const to = addressOf(returned.get('to'));
      if (to) report.originalRcptTo = to;
    }
    if (report.kind === 'bounce' && report.recipients.length === 0) {
      const to = addressOf(returned.get('to'));
      if (to) report.recipients.push(withReason({ action: 'failed', address: to }, body()));
    }
  }
  if (!report.originalMessageId && report.kind !== 'none') {
    // Legacy bounces quote the original headers in the text; Exchange and Gmail also thread it.
    const quoted = /^\s*Message-ID:\s*<([^>]+)>/im.exec(body())?.[1];
    const ref = h.get('in-reply-to') ?? h.get('references')?.split(/\s+/).pop();
    const id = quoted ?? (ref ? stripId(ref) : undefined);
    if (id) report.originalMessageId = id;
  }
  return report;
}

function readTextBounce(
  report: ParsedReport,
  root: ReportMessage,
  text: string,
  ctx: { subject: string; failedHeader: string | undefined },
): void {
  report.format = 'text';
  const delayed =
    DELAY_SUBJECT.test(ctx.subject) ||
    (DELAY_BODY.test(text) && !/permanent|fatal|gave up|given up|failed/i.test(text.replace(DELAY_BODY, '')));
  const action = delayed ? 'delayed' : 'failed';
  const found = plainRecipients(text);
  if (found) report.family = found.family;
  const byAddress = new Map((found?.recipients ?? []).map((r) => [r.address.toLowerCase(), r.text]));
  const fromHeader = ctx.failedHeader
    ?.split(',')
    .map(addressOf)
    .filter((a): a is string => !!a);
  const addresses = fromHeader?.length ? fromHeader : [...byAddress.keys()];
  for (const address of addresses) {
    const own = byAddress.get(address) ?? '';
    const status = /\b([245]\.\d{1,3}\.\d{1,3})\b/.exec(own || text)?.[1];
    report.recipients.push(
      withReason(
        {
          action,
          address,
          ...(status ? { status } : {}),
          ...(own ? { diagnostic: own.slice(0, 1000) } : {}),
        },
        text,
      ),
    );
  }
  report.kind = delayed ? 'delay' : 'bounce';
  if (!report.recipients.length && !returnedHeaders(root)) {
    // Says it bounced but names nobody: recorded as nothing rather than guessed.
    report.kind = delayed ? 'delay' : 'none';
  }
}
