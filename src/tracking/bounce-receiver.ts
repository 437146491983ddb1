import type { AddressInfo } from 'node:net';
import { SMTPServer, type SMTPServerDataStream, type SMTPServerSession } from 'smtp-server';
import type { SecretKeys } from '../config/secret.js';
import type { Db } from '../db/schema.js';
import type { Logger } from '../log.js';
import { type FeedbackOutcome, type MailFeedback, recordFeedback } from './feedback.js';
import { type ParsedReport, parseReport } from './report-parse.js';
import { handleUnsubscribeMail, isUnsubscribeAddress } from './unsubscribe-mail.js';

/** `bounce+<deliveryId>@<domain>` → the delivery id (any domain when none is given). */
export function deliveryIdFromVerp(address: string | undefined, domain?: string): number | undefined {
  if (!address) return undefined;
  const m = /^bounce\+(\d{1,15})@(.+)$/i.exec(address.trim().replace(/^<|>$/g, ''));
  if (!m) return undefined;
  if (domain && (m[2] as string).toLowerCase() !== domain.toLowerCase()) return undefined;
  return Number(m[1]);
}

/** Turns a parsed report into the feedback records it implies (none for delays, auto-replies, notices). */
export function feedbackFromReport(
  report: ParsedReport,
  envelopeTo: string[],
  bounceDomain?: string,
): MailFeedback[] {
  const verp =
    envelopeTo.map((a) => deliveryIdFromVerp(a, bounceDomain)).find((id) => id !== undefined) ??
    deliveryIdFromVerp(report.originalReturnPath, bounceDomain) ??
    deliveryIdFromVerp(report.originalMailFrom, bounceDomain);
  const reportId =
    report.reportId ?? `${report.kind}:${report.date?.toISOString() ?? ''}:${report.originalMessageId ?? ''}`;
  const common = {
    reportId,
    occurredAt: report.date ?? new Date(),
    ...(verp !== undefined ? { deliveryId: verp } : {}),
    ...(report.originalMessageId ? { messageId: report.originalMessageId } : {}),
  };
  if (report.kind === 'complaint') {
    return [
      {
        kind: 'complaint',
        channel: 'arf',
        feedbackType: report.feedbackType ?? 'abuse',
        ...(report.userAgent ? { userAgent: report.userAgent } : {}),
        ...common,
        ...(report.originalRcptTo ? { recipient: report.originalRcptTo } : {}),
      },
    ];
  }
  if (report.kind !== 'bounce') return [];
  return report.recipients
    .filter((r) => r.action === 'failed')
    .map((r) => {
      const recipient = r.originalRecipient ?? r.address;
      return {
        kind: 'bounce' as const,
        severity: r.hard ? ('hard' as const) : ('soft' as const),
        reason: r.reason,
        channel: report.format === 'text' ? 'text' : 'dsn',
        ...common,
        ...(recipient ? { recipient } : {}),
        ...(r.status ? { status: r.status } : {}),
        ...(r.diagnostic ? { diagnostic: r.diagnostic } : {}),
      };
    });
}

/** Parses one inbound message and records what it reports. */
export async function handleInboundReport(
  deps: { db: Db; log: Logger; bounceDomain?: string },
  raw: Buffer | string,
  envelopeTo: string[],
): Promise<FeedbackOutcome[]> {
  const report = await parseReport(raw);
  const feedback = feedbackFromReport(report, envelopeTo, deps.bounceDomain);
  if (!feedback.length) {
    deps.log.info(
      { event: 'tracking.inbound.ignored', kind: report.kind, format: report.format },
      'inbound message is not a bounce or complaint (delay notices and auto-replies are not bounces)',
    );
  }
  const out: FeedbackOutcome[] = [];
  for (const fb of feedback) out.push(await recordFeedback(deps.db, deps.log, fb));
  return out;
}

export interface BounceReceiverOptions {
  db: Db;
  log: Logger;
  /** Only mail to this domain is accepted (BOUNCE_DOMAIN); unset accepts any bounce+N address. */
  bounceDomain?: string;
  host?: string;
  port?: number;
  /** Largest report accepted; reports carry at most the returned message. */
  maxBytes?: number;
  /** With the link keys, mail to unsubscribe@<bounce domain> (List-Unsubscribe's mailto:) unsubscribes. */
  secrets?: SecretKeys;
}

export interface BounceReceiver {
  port: number;
  url: string;
  close(): Promise<void>;
}

/**
 * The inbound SMTP server for VERP bounces and feedback-loop reports. It accepts a message only
 * after it is recorded, so a database failure makes the sending MTA retry (451) rather than lose it.
 */
export async function startBounceReceiver(opts: BounceReceiverOptions): Promise<BounceReceiver> {
  const { db, log } = opts;
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['AUTH', 'STARTTLS'],
    hideSTARTTLS: true,
    size: opts.maxBytes ?? 10 * 1024 * 1024,
    logger: false,
    banner: 'Gazette bounce receiver',
    onRcptTo(address, _session, callback) {
      const addr = address.address.toLowerCase();
      const domain = addr.slice(addr.lastIndexOf('@') + 1);
      if (isUnsubscribeAddress(addr, opts.bounceDomain)) {
        if (opts.secrets) return callback();
      } else if (
        opts.bounceDomain
          ? domain === opts.bounceDomain.toLowerCase()
          : deliveryIdFromVerp(addr) !== undefined
      ) {
        return callback();
      }
      const err = new Error('5.1.1 No such recipient here') as Error & { responseCode: number };
      err.responseCode = 550;
      return callback(err);
    },
    onData(stream: SMTPServerDataStream, session: SMTPServerSession, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        if (stream.sizeExceeded) {
          const err = new Error('5.3.4 Message too big') as Error & { responseCode: number };
          err.responseCode = 552;
          return callback(err);
        }
        const to = session.envelope.rcptTo.map((r) => r.address);
        const raw = Buffer.concat(chunks);
        const secrets = opts.secrets;
        const work =
          secrets && to.some((a) => isUnsubscribeAddress(a, opts.bounceDomain))
            ? // One answer whatever the outcome: a forger learns nothing from it.
              handleUnsubscribeMail({ db, log, secrets }, raw).then(() => 'Accepted')
            : handleInboundReport(
                { db, log, ...(opts.bounceDomain ? { bounceDomain: opts.bounceDomain } : {}) },
                raw,
                to,
              ).then((outcomes) => `Recorded ${outcomes.filter((o) => o.result === 'recorded').length}`);
        work.then(
          (answer) => callback(null, answer),
          (err: Error) => {
            log.error({ event: 'tracking.inbound.failed', err: err.message }, 'inbound report not recorded');
            const e = new Error('4.3.0 Try again later') as Error & { responseCode: number };
            e.responseCode = 451;
            callback(e);
          },
        );
      });
    },
  });
  await new Promise<void>((ok, fail) => {
    server.once('error', fail);
    server.listen(opts.port ?? 0, opts.host ?? '127.0.0.1', () => ok());
  });
  const { port } = server.server.address() as AddressInfo;
  log.info({ event: 'tracking.inbound.listening', port }, 'bounce receiver listening');
  return {
    port,
    url: `smtp://${opts.host ?? '127.0.0.1'}:${port}`,
    close: () => new Promise<void>((ok) => server.close(() => ok())),
  };
}
