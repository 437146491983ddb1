import { type HeaderValue, simpleParser } from 'mailparser';

/**
 * Parses bounce reports (RFC 3464 delivery status notifications) and abuse reports (RFC 5965 ARF).
 * mailparser reads the message and its headers; it does not expose the machine-readable
 * message/delivery-status and message/feedback-report parts, so those parts of the
 * multipart/report are split out here and their fields read as RFC 822-style header groups.
 */

export interface DsnRecipient {
  finalRecipient?: string;
  originalRecipient?: string;
  action?: string;
  status?: string;
  diagnostic?: string;
  severity: 'hard' | 'soft' | 'none';
}

export interface ParsedReport {
  kind: 'dsn' | 'arf' | 'other';
  /** The report's own Message-ID (used to recognise a replayed report). */
  reportId?: string;
  date?: Date;
  recipients: DsnRecipient[];
  /** ARF fields. */
  feedbackType?: string;
  originalMailFrom?: string;
  originalRcptTo?: string;
  /** Message-ID of the message the report is about (from the returned headers). */
  originalMessageId?: string;
  /** Return-Path of the returned message (a VERP address if it was ours). */
  originalReturnPath?: string;
}

type Fields = Map<string, string>;

/** Header-style field groups separated by blank lines, with folded lines joined. */
export function parseFieldGroups(text: string): Fields[] {
  const groups: Fields[] = [];
  for (const block of text.replace(/\r\n/g, '\n').split(/\n[ \t]*\n/)) {
    const fields: Fields = new Map();
    let last: string | undefined;
    for (const line of block.split('\n')) {
      if (/^[ \t]/.test(line) && last) {
        fields.set(last, `${fields.get(last)} ${line.trim()}`);
        continue;
      }
      const m = /^([A-Za-z0-9-]+)\s*:\s*(.*)$/.exec(line);
      if (!m) continue;
      last = (m[1] as string).toLowerCase();
      if (!fields.has(last)) fields.set(last, (m[2] as string).trim());
    }
    if (fields.size) groups.push(fields);
  }
  return groups;
}

/** `rfc822; someone@example.com` → `someone@example.com`. */
function addressOf(value: string | undefined): string | undefined {
  if (!value) return undefined;
  const v = value.includes(';') ? value.slice(value.indexOf(';') + 1) : value;
  const addr = v.trim().replace(/^<|>$/g, '').trim().toLowerCase();
  return addr.includes('@') ? addr : undefined;
}

/** RFC 3464: the Status class decides (5 = permanent, 4 = transient); Action says whether it failed at all. */
export function classifyDsn(
  action: string | undefined,
  status: string | undefined,
): 'hard' | 'soft' | 'none' {
  const a = (action ?? '').trim().toLowerCase();
  if (a === 'delivered' || a === 'relayed' || a === 'expanded') return 'none';
  const cls = /^\s*([245])\.\d{1,3}\.\d{1,3}/.exec(status ?? '')?.[1];
  if (a === 'delayed') return 'soft';
  if (cls === '5') return 'hard';
  if (cls === '4') return 'soft';
  if (cls === '2') return 'none';
  return a === 'failed' ? 'hard' : 'soft';
}

interface RawPart {
  contentType: string;
  body: string;
}

function decodeBody(body: string, encoding: string | undefined): string {
  const enc = (encoding ?? '').trim().toLowerCase();
  if (enc === 'base64') return Buffer.from(body.replace(/\s+/g, ''), 'base64').toString('utf8');
  if (enc === 'quoted-printable') {
    const bytes = body
      .replace(/=\r?\n/g, '')
      .replace(/=([0-9A-Fa-f]{2})/g, (_m, h: string) => String.fromCharCode(Number.parseInt(h, 16)));
    return Buffer.from(bytes, 'latin1').toString('utf8');
  }
  return body;
}

/** The direct children of a multipart body (one level: the report parts sit at the top). */
function splitMultipart(raw: string, boundary: string): RawPart[] {
  const text = raw.replace(/\r\n/g, '\n');
  const headerEnd = text.indexOf('\n\n');
  const body = headerEnd >= 0 ? text.slice(headerEnd + 2) : text;
  const delimiter = `--${boundary}`;
  const parts: RawPart[] = [];
  const chunks = body.split(
    new RegExp(`^${delimiter.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}(?:--)?[ \\t]*$`, 'm'),
  );
  for (const chunk of chunks.slice(1)) {
    const c = chunk.replace(/^\n/, '');
    const end = c.indexOf('\n\n');
    const head = end >= 0 ? c.slice(0, end) : c;
    const partBody = end >= 0 ? c.slice(end + 2) : '';
    const headers = parseFieldGroups(head)[0] ?? new Map<string, string>();
    const contentType =
      (headers.get('content-type') ?? 'text/plain').split(';')[0]?.trim().toLowerCase() ?? 'text/plain';
    if (!head.trim() && !partBody.trim()) continue;
    parts.push({ contentType, body: decodeBody(partBody, headers.get('content-transfer-encoding')) });
  }
  return parts;
}

function headerText(value: HeaderValue | undefined): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value === 'string') return value;
  if (value instanceof Date) return value.toISOString();
  if (Array.isArray(value)) return value.map(String).join(', ');
  if (typeof value === 'object' && 'text' in value) return String((value as { text: unknown }).text);
  if (typeof value === 'object' && 'value' in value) return String((value as { value: unknown }).value);
  return String(value);
}

async function originalHeaders(text: string): Promise<{ messageId?: string; returnPath?: string }> {
  // Only the headers matter; parse them as a message on their own.
  const end = text.replace(/\r\n/g, '\n').indexOf('\n\n');
  const head = end >= 0 ? text.slice(0, end + 1) : text;
  const parsed = await simpleParser(`${head}\n`, {
    skipHtmlToText: true,
    skipTextToHtml: true,
    skipImageLinks: true,
  });
  const returnPath = addressOf(headerText(parsed.headers.get('return-path')));
  return {
    ...(parsed.messageId ? { messageId: parsed.messageId.replace(/^<|>$/g, '') } : {}),
    ...(returnPath ? { returnPath } : {}),
  };
}

/**
 * Reads one inbound report. Non-standard bounces (old Exim, some appliances) have no
 * delivery-status part; for those the X-Failed-Recipients header and the text's wording decide.
 */
export async function parseReport(raw: Buffer | string): Promise<ParsedReport> {
  const text = typeof raw === 'string' ? raw : raw.toString('utf8');
  const parsed = await simpleParser(text, {
    skipHtmlToText: true,
    skipTextToHtml: true,
    skipImageLinks: true,
  });
  const ct = parsed.headers.get('content-type') as
    | { value?: string; params?: Record<string, string> }
    | undefined;
  const report: ParsedReport = {
    kind: 'other',
    recipients: [],
    ...(parsed.messageId ? { reportId: parsed.messageId.replace(/^<|>$/g, '') } : {}),
    ...(parsed.date ? { date: parsed.date } : {}),
  };
  const boundary = ct?.params?.boundary;
  const parts =
    ct?.value?.toLowerCase().startsWith('multipart/') && boundary ? splitMultipart(text, boundary) : [];

  for (const part of parts) {
    if (
      part.contentType === 'message/delivery-status' ||
      part.contentType === 'message/global-delivery-status'
    ) {
      report.kind = 'dsn';
      const groups = parseFieldGroups(part.body);
      const perMessage = groups[0];
      const xOriginal = perMessage?.get('x-original-message-id');
      if (xOriginal && !report.originalMessageId) report.originalMessageId = xOriginal.replace(/^<|>$/g, '');
      for (const g of groups.slice(1)) {
        if (!g.has('action') && !g.has('status') && !g.has('final-recipient')) continue;
        const finalRecipient = addressOf(g.get('final-recipient'));
        const originalRecipient = addressOf(g.get('original-recipient'));
        const action = g.get('action')?.toLowerCase();
        const status = g.get('status');
        const diagnostic = g.get('diagnostic-code');
        report.recipients.push({
          severity: classifyDsn(action, status),
          ...(finalRecipient ? { finalRecipient } : {}),
          ...(originalRecipient ? { originalRecipient } : {}),
          ...(action ? { action } : {}),
          ...(status ? { status: status.split(/\s/)[0] as string } : {}),
          ...(diagnostic ? { diagnostic } : {}),
        });
      }
    } else if (part.contentType === 'message/feedback-report') {
      report.kind = 'arf';
      const fields = parseFieldGroups(part.body)[0] ?? new Map<string, string>();
      report.feedbackType = (fields.get('feedback-type') ?? 'abuse').toLowerCase();
      const mailFrom = addressOf(fields.get('original-mail-from'));
      const rcptTo = addressOf(fields.get('original-rcpt-to'));
      if (mailFrom) report.originalMailFrom = mailFrom;
      if (rcptTo) report.originalRcptTo = rcptTo;
    } else if (
      part.contentType === 'message/rfc822' ||
      part.contentType === 'text/rfc822-headers' ||
      part.contentType === 'message/global'
    ) {
      const orig = await originalHeaders(part.body);
      if (orig.messageId) report.originalMessageId = orig.messageId;
      if (orig.returnPath) report.originalReturnPath = orig.returnPath;
    }
  }

  if (report.kind === 'other') {
    const failed = headerText(parsed.headers.get('x-failed-recipients'));
    if (failed) {
      report.kind = 'dsn';
      const body = parsed.text ?? '';
      const temporary = /temporar|delayed|will (?:be )?retr/i.test(body) && !/permanent error/i.test(body);
      const code = /\b([45]\.\d{1,3}\.\d{1,3})\b/.exec(body)?.[1];
      for (const r of failed.split(',')) {
        const finalRecipient = addressOf(r);
        report.recipients.push({
          severity: temporary ? 'soft' : 'hard',
          ...(finalRecipient ? { finalRecipient } : {}),
          action: temporary ? 'delayed' : 'failed',
          ...(code ? { status: code } : {}),
        });
      }
      // Legacy bounces quote the original headers in the text.
      const mid = /^Message-ID:\s*<([^>]+)>/im.exec(body)?.[1];
      if (mid) report.originalMessageId = mid;
    }
  }
  if (!report.originalMessageId) {
    // Exchange and Gmail also thread the bounce to the original.
    const ref = headerText(parsed.headers.get('in-reply-to'));
    if (ref && report.kind !== 'other') report.originalMessageId = ref.replace(/^<|>$/g, '').trim();
  }
  return report;
}
