import { randomBytes } from 'node:crypto';
import { type Job, Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import pLimit from 'p-limit';
import { QUEUES } from '../queue/names.js';
import { createRedis } from '../queue/redis.js';
import { recipientName } from '../rendering/recipient-name.js';
import { CircuitBreaker } from './circuit-breaker.js';
import { classifySmtpReply, retryDelayMs, type SmtpOutcomeLike } from './classify.js';
import { pauseIssue } from './control.js';
import type { DeliveryDeps, QueueConnection, SendJobData } from './deps.js';
import {
  type ClaimedRow,
  claimRows,
  finishIfDone,
  markSending,
  recordResults,
  releaseClaimed,
  type SendResult,
  skipClaimed,
} from './ledger.js';
import { BadRecipientError, buildMimeTemplate, type MimeTemplate, type RenderedMessage } from './mime.js';
import { variantLocale } from './prepare.js';
import { enqueueRanges, openSendQueue, type SendQueue } from './queue.js';
import { TransportRateLimiter } from './rate-limit.js';
import { leaseOwnerId, resumeScan } from './resume.js';
import {
  dkimFromEnv,
  openTransport,
  parseTransportSpecs,
  pickWeighted,
  type Transport,
  type TransportSpec,
} from './transports.js';

export interface SendWorkerOptions {
  connection: QueueConnection;
  /** SMTP relay URLs (weights in the fragment) or parsed specs; default env.SMTP_URL. */
  transports?: (string | TransportSpec)[];
  /** Jobs run at once by this process. */
  concurrency?: number;
  /** Rows claimed and put on the wire together. */
  chunkSize?: number;
  /** First pause after a 421/454 (doubles while the relay keeps asking, up to a minute). */
  throttleMs?: number;
  /** Resume scan period; 0 disables the periodic scan (the start scan still runs). */
  scanIntervalMs?: number;
  /** Run a resume scan when the worker starts (default true). */
  scanOnStart?: boolean;
}

export interface SendWorker {
  owner: string;
  worker: Worker<SendJobData>;
  queue: SendQueue;
  transports: Transport[];
  /** Runs a resume scan now. */
  scan(force?: boolean): ReturnType<typeof resumeScan>;
  /** Graceful stop: finishes the chunk on the wire, releases claimed rows, hands the rest to a new job. */
  close(): Promise<void>;
}

interface IssueInfo {
  revision: number;
  from: string;
  fromAddress: string;
  replyTo: string | null;
  listId: string | null;
  feedbackId: string;
  domain: string;
}

/** BullMQ worker for QUEUES.send: claim → sending → SMTP (pooled) → ledger, a chunk at a time. */
export async function createSendWorker(deps: DeliveryDeps & SendWorkerOptions): Promise<SendWorker> {
  const { db, log, env } = deps;
  const owner = leaseOwnerId(randomBytes(4).toString('hex'));
  const specs = (deps.transports ?? env.SMTP_URL ?? []).map((t) =>
    typeof t === 'string'
      ? (parseTransportSpecs([t], {
          perSecond: env.SMTP_RATE_PER_SECOND,
          perHour: env.SMTP_RATE_PER_HOUR,
        })[0] as TransportSpec)
      : t,
  );
  if (!specs.length) throw new Error('No SMTP transport: set SMTP_URL (or pass transports).');
  const dkim = dkimFromEnv(env);
  const transports = await Promise.all(
    specs.map((spec) => openTransport(spec, { connections: env.SMTP_POOL_CONNECTIONS, dkim })),
  );
  // Messages handed to each transport at once, across this process's jobs: enough to keep every
  // pooled connection busy, few enough that memory holds only a handful of rendered messages.
  const flights = new Map(transports.map((t) => [t, pLimit(env.SMTP_POOL_CONNECTIONS * 2)]));
  const inFlight = <T>(t: Transport, fn: () => Promise<T>): Promise<T> =>
    (flights.get(t) as ReturnType<typeof pLimit>)(fn);
  const queue = openSendQueue(deps.connection);
  const redis: Redis = createRedis(deps.connection.url);
  const limiter = new TransportRateLimiter(redis, deps.connection.prefix);
  const chunkSize = deps.chunkSize ?? env.SEND_CONCURRENCY;
  const leaseSeconds = env.SEND_LEASE_SECONDS;
  const baseThrottle = deps.throttleMs ?? 5000;
  let throttleMs = baseThrottle;
  let stopping = false;

  const issueInfo = new Map<number, IssueInfo>();
  const templates = new Map<string, MimeTemplate>();
  const breakers = new Map<number, CircuitBreaker>();

  async function infoFor(issueId: number): Promise<IssueInfo> {
    const cached = issueInfo.get(issueId);
    if (cached) return cached;
    const issue = await db
      .selectFrom('issues')
      .select(['revision'])
      .where('id', '=', issueId)
      .executeTakeFirstOrThrow();
    const pub = await db.selectFrom('publication').selectAll().orderBy('id').limit(1).executeTakeFirst();
    const from = pub ? `${pub.from_name} <${pub.from_email}>` : env.MAIL_FROM;
    const fromAddress = (/<([^>]+)>/.exec(from)?.[1] ?? from).trim();
    const domain = fromAddress.split('@')[1] ?? 'localhost';
    const info: IssueInfo = {
      revision: issue.revision,
      from,
      fromAddress,
      replyTo: pub?.reply_to ?? null,
      listId: pub?.list_id
        ? `${pub.name} <${pub.list_id}>`
        : `${pub?.name ?? 'Gazette'} <newsletter.${domain}>`,
      // Gmail's Feedback-ID: campaign:customer:type:sender.
      feedbackId: `${issueId}:${pub?.id ?? 0}:newsletter:${env.FEEDBACK_ID_SENDER ?? domain}`,
      domain,
    };
    issueInfo.set(issueId, info);
    return info;
  }

  async function templateFor(
    issueId: number,
    info: IssueInfo,
    variantKey: string,
    eightBit: boolean,
  ): Promise<MimeTemplate> {
    const key = `${issueId}/${info.revision}/${variantKey}/${eightBit ? 8 : 64}`;
    const cached = templates.get(key);
    if (cached) return cached;
    const v = await db
      .selectFrom('issue_variants')
      .select(['subject', 'html', 'text'])
      .where('issue_id', '=', issueId)
      .where('revision', '=', info.revision)
      .where('variant_key', '=', variantKey)
      .executeTakeFirst();
    if (!v)
      throw new Error(`issue ${issueId} revision ${info.revision}: variant ${variantKey} was never compiled`);
    const t = buildMimeTemplate(
      { variantKey, subject: v.subject, html: v.html, text: v.text },
      {
        issueId,
        from: info.from,
        replyTo: info.replyTo,
        listId: info.listId,
        feedbackId: info.feedbackId,
        messageIdDomain: info.domain,
        eightBit,
      },
    );
    templates.set(key, t);
    return t;
  }

  function breakerFor(issueId: number): CircuitBreaker {
    let b = breakers.get(issueId);
    if (!b) {
      b = new CircuitBreaker(env.SEND_BREAKER_WINDOW, env.SEND_BREAKER_RATIO);
      breakers.set(issueId, b);
    }
    return b;
  }

  function send(
    transport: Transport,
    envelopeFrom: string,
    to: string,
    msg: RenderedMessage,
  ): Promise<SmtpOutcomeLike | null> {
    return new Promise((resolve) => {
      transport.mailer.sendMail(
        {
          envelope: { from: envelopeFrom, to: [to], use8BitMime: transport.eightBit } as unknown as {
            from: string;
            to: string[];
          },
          raw: msg.raw,
        },
        (err, info) => {
          if (err) resolve(err as SmtpOutcomeLike);
          else resolve({ response: (info as { response?: string }).response ?? '250 OK', responseCode: 250 });
        },
      );
    });
  }

  async function processJob(job: Job<SendJobData>): Promise<{ sent: number }> {
    const { issueId, toId } = job.data;
    let cursor = job.data.fromId;
    let sent = 0;
    const info = await infoFor(issueId);
    for (;;) {
      if (stopping) {
        // Hand the rest of the range to a new job; nothing claimed is left behind.
        if (cursor <= toId)
          await enqueueRanges(queue, [{ issueId, fromId: cursor, toId }], {
            tag: `cont${Date.now().toString(36)}`,
          });
        break;
      }
      const transport = pickWeighted(transports.map((t) => ({ weight: t.spec.weight, t }))).t;
      const limits = { perSecond: transport.spec.perSecond, perHour: transport.spec.perHour };
      const grant = await limiter.acquire(transport.spec.name, limits, chunkSize);
      if (grant.granted === 0) {
        if (grant.hourly) {
          await queue.rateLimit(grant.retryInMs);
          throw Worker.RateLimitError();
        }
        await new Promise((r) => setTimeout(r, grant.retryInMs));
        continue;
      }
      const rows = await claimRows(db, {
        issueId,
        fromId: cursor,
        toId,
        limit: grant.granted,
        owner,
        leaseSeconds,
      });
      await limiter.refund(transport.spec.name, limits, grant.granted - rows.length);
      if (!rows.length) break;
      cursor = (rows[rows.length - 1] as ClaimedRow).id + 1;

      await skipClaimed(
        db,
        owner,
        rows
          .filter((r) => !r.eligible)
          .map((r) => ({ id: r.id, reason: r.ineligibleReason ?? 'ineligible' })),
      );
      const eligible = rows.filter((r) => r.eligible);
      // Load every variant before anything is marked sending (a missing one must not look like a
      // send); messages are rendered one by one just before the wire, so memory holds only those
      // the pool is working on.
      const templatesOf = new Map<string, MimeTemplate>();
      try {
        for (const r of eligible) {
          if (!templatesOf.has(r.variantKey)) {
            templatesOf.set(r.variantKey, await templateFor(issueId, info, r.variantKey, transport.eightBit));
          }
        }
      } catch (err) {
        await releaseClaimed(
          db,
          owner,
          eligible.map((e) => e.id),
        );
        throw err;
      }
      const build = (r: ClaimedRow): RenderedMessage | Error => {
        const links = deps.content.recipientLinks(deps.secrets, env.PUBLIC_URL, {
          subscriberId: r.subscriberId,
          issueId,
          deliveryId: r.id,
        });
        try {
          return (templatesOf.get(r.variantKey) as MimeTemplate).render({
            deliveryId: r.id,
            address: r.email,
            name: r.name,
            oneClickUnsubscribeUrl: links.oneClickUnsubscribeUrl,
            tokens: {
              // 读者 / reader when no name is known, so the greeting never reads "，您好：".
              name: recipientName(r.name, variantLocale(r.variantKey)),
              unsubscribeUrl: links.unsubscribeUrl,
              preferencesUrl: links.preferencesUrl,
              webVersionUrl: links.webVersionUrl,
              trackingToken: links.trackingToken,
            },
          });
        } catch (err) {
          if (err instanceof BadRecipientError) return err;
          throw err;
        }
      };
      const onWire = await markSending(db, {
        issueId,
        ids: eligible.map((r) => r.id),
        owner,
        leaseSeconds,
        transport: transport.spec.name,
      });
      const stoppedIssue = onWire.size < eligible.length;
      if (stoppedIssue)
        await releaseClaimed(
          db,
          owner,
          eligible.filter((r) => !onWire.has(r.id)).map((r) => r.id),
        );

      const results: SendResult[] = [];
      const suppress: string[] = [];
      const retries: { id: number; at: Date; attempt: number }[] = [];
      let pauseReason: string | null = null;
      let throttled = false;
      const breaker = breakerFor(issueId);
      await Promise.all(
        eligible
          .filter((r) => onWire.has(r.id))
          .map((r) =>
            inFlight(transport, async () => {
              let msg: RenderedMessage | Error;
              try {
                msg = build(r);
              } catch (err) {
                msg = err as Error;
              }
              if (msg instanceof Error) {
                results.push({
                  id: r.id,
                  state: 'failed',
                  smtpCode: null,
                  smtpResponse: msg.message,
                  errorClass: 'bad_address',
                  messageId: null,
                  nextAttemptAt: null,
                  attempted: false,
                });
                return;
              }
              const envelopeFrom = env.BOUNCE_DOMAIN
                ? `bounce+${r.id}@${env.BOUNCE_DOMAIN}`
                : info.fromAddress;
              const outcome = await send(transport, envelopeFrom, r.email, msg);
              const c = classifySmtpReply(outcome);
              const base = {
                id: r.id,
                smtpCode: c.smtpCode,
                smtpResponse: outcome?.response ?? outcome?.message ?? null,
                errorClass: c.errorClass,
                messageId: msg.messageId,
              };
              switch (c.decision) {
                case 'accepted':
                  results.push({ ...base, state: 'accepted', nextAttemptAt: null, attempted: true });
                  break;
                case 'throttle':
                  throttled = true;
                  results.push({ ...base, state: 'queued', nextAttemptAt: null, attempted: false });
                  break;
                case 'retry': {
                  const attempt = r.attempts + 1;
                  if (attempt >= env.SEND_MAX_ATTEMPTS) {
                    results.push({
                      ...base,
                      state: 'failed',
                      errorClass: 'retries_exhausted',
                      nextAttemptAt: null,
                      attempted: true,
                    });
                  } else {
                    const at = new Date(Date.now() + retryDelayMs(attempt, env.SEND_RETRY_BASE_MS));
                    retries.push({ id: r.id, at, attempt });
                    results.push({ ...base, state: 'deferred', nextAttemptAt: at, attempted: true });
                  }
                  break;
                }
                case 'fail':
                  results.push({ ...base, state: 'failed', nextAttemptAt: null, attempted: true });
                  break;
                case 'fail-suppress':
                  suppress.push(r.email);
                  results.push({ ...base, state: 'failed', nextAttemptAt: null, attempted: true });
                  break;
                case 'pause-issue':
                  pauseReason = `smtp_${c.errorClass}`;
                  results.push({ ...base, state: 'queued', nextAttemptAt: null, attempted: false });
                  break;
                case 'unknown':
                  results.push({ ...base, state: 'unknown', nextAttemptAt: null, attempted: true });
                  break;
              }
              if (
                c.decision !== 'throttle' &&
                c.decision !== 'pause-issue' &&
                breaker.record(c.decision !== 'accepted')
              ) {
                pauseReason ??= 'failure_rate';
              }
            }),
          ),
      );
      await recordResults(db, owner, results);
      for (const address of suppress) {
        await deps.content.suppress(db, { kind: 'address', value: address, reason: 'smtp_rejected' });
      }
      for (const r of retries) {
        await enqueueRanges(queue, [{ issueId, fromId: r.id, toId: r.id }], {
          tag: `retry${r.attempt}`,
          delayMs: Math.max(0, r.at.getTime() - Date.now()),
        });
      }
      const accepted = results.filter((r) => r.state === 'accepted').length;
      sent += accepted;
      if (accepted > 0 && !throttled) throttleMs = baseThrottle;
      if (pauseReason) {
        await pauseIssue(deps, issueId, pauseReason);
        breaker.reset();
        break;
      }
      if (throttled) {
        log.warn(
          { event: 'delivery.throttled', issueId, transport: transport.spec.name, ms: throttleMs },
          'relay asked to slow down',
        );
        const wait = throttleMs;
        throttleMs = Math.min(throttleMs * 2, 60_000);
        await queue.rateLimit(wait);
        throw Worker.RateLimitError();
      }
      if (stoppedIssue) break;
    }
    if (await finishIfDone(db, issueId)) {
      log.info({ event: 'delivery.issue.sent', issueId }, 'issue finished: no row can still change');
      for (const k of templates.keys()) if (k.startsWith(`${issueId}/`)) templates.delete(k);
      issueInfo.delete(issueId);
      breakers.delete(issueId);
    }
    return { sent };
  }

  const worker = new Worker<SendJobData>(QUEUES.send, processJob, {
    connection: createRedis(deps.connection.url),
    prefix: deps.connection.prefix,
    concurrency: deps.concurrency ?? env.SEND_JOBS_PER_WORKER,
    autorun: false,
  });
  worker.on('failed', (job, err) => {
    if (err?.name === 'RateLimitError') return;
    log.error({ event: 'delivery.job.failed', jobId: job?.id, err: err?.message }, 'send job failed');
  });
  worker.on('error', (err) =>
    log.error({ event: 'delivery.worker.error', err: err.message }, 'send worker error'),
  );

  const scan = (force = false) => resumeScan(deps, { queue, force });
  if (deps.scanOnStart !== false) await scan();
  void worker.run();
  const period = deps.scanIntervalMs ?? env.SEND_RESUME_SCAN_SECONDS * 1000;
  const timer =
    period > 0
      ? setInterval(() => {
          scan().catch((err: Error) =>
            log.error({ event: 'delivery.resume_scan.failed', err: err.message }, 'resume scan failed'),
          );
        }, period)
      : undefined;
  timer?.unref();
  log.info(
    { event: 'delivery.worker.started', owner, transports: specs.map((s) => s.name) },
    'send worker started',
  );

  return {
    owner,
    worker,
    queue,
    transports,
    scan,
    async close() {
      stopping = true;
      if (timer) clearInterval(timer);
      await worker.close();
      await releaseClaimed(db, owner);
      for (const t of transports) t.close();
      await queue.close();
      redis.disconnect();
      log.info({ event: 'delivery.worker.stopped', owner }, 'send worker stopped');
    },
  };
}
