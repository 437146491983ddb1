import { randomBytes } from 'node:crypto';
import { type Job, Worker } from 'bullmq';
import { createOutageGuard, DatabaseUnavailableError, type OutageGuard } from '../db/outage.js';
import { QUEUES } from '../queue/names.js';
import { createRedis, type RedisClient } from '../queue/redis.js';
import { recipientName } from '../rendering/recipient-name.js';
import { BufferPool } from './buffer-pool.js';
import { CircuitBreaker, RELAY_CONNECTION_REASON } from './circuit-breaker.js';
import { classifySmtpReply, neverSent, retryDelayMs, type SmtpOutcomeLike } from './classify.js';
import { IssueStateError, pauseIssue, resumeIssue, SYSTEM_ACTOR } from './control.js';
import type { DeliveryDeps, QueueConnection, SendJobData } from './deps.js';
import { dkimFromEnv } from './dkim.js';
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
import { buildMimeTemplate, type MimeTemplate, type RenderedMessage } from './mime.js';
import { variantLocale } from './prepare.js';
import { enqueueRanges, openSendQueue, type SendQueue } from './queue.js';
import { type RateGrant, TransportRateLimiter } from './rate-limit.js';
import { openRelayPools, type RelaySet } from './relay-pools.js';
import { RelayRests, type RestCause, restCauseOf } from './relay-rest.js';
import { currentRelaySpecs } from './relays.js';
import { leaseOwnerId, resumeScan } from './resume.js';
import { feedbackId, loadSender, returnPath, type Sender, unsubscribeMailto } from './sender.js';
import {
  openTransport,
  parseTransportSpecs,
  type Transport,
  type TransportSpec,
  weightedOrder,
} from './transports.js';

export interface SendWorkerOptions {
  connection: QueueConnection;
  /**
   * SMTP relay URLs (weights in the fragment) or parsed specs, fixed for the worker's life. Default:
   * the relays of the settings (table smtp_relays) while any is enabled, else SMTP_URL's, read
   * again every `relayRefreshMs` so a change needs no restart.
   */
  transports?: (string | TransportSpec)[];
  /** How often the relay list is read again (default 5 s); ignored with `transports`. */
  relayRefreshMs?: number;
  /** Jobs run at once by this process. */
  concurrency?: number;
  /** Rows claimed together (and counted against the rate limit); they go on the wire a group at a time. */
  chunkSize?: number;
  /** First rest of a relay after a 421/454 or a refused connection (default SEND_RELAY_REST_MS). */
  throttleMs?: number;
  /**
   * The database stayed unreachable longer than DATABASE_OUTAGE_GRACE_SECONDS (default: log it).
   * The worker process exits here, so a supervisor starts it again.
   */
  onDatabaseLost?: (err: DatabaseUnavailableError) => void;
  /** Shared by the process's users of the database (default: one for this worker). */
  outage?: OutageGuard;
  /** How long a relay rests after a reputation, spam or authentication refusal (default SEND_BLOCK_REST_SECONDS). */
  blockRestMs?: number;
  /** Resume scan period; 0 disables the periodic scan (the start scan still runs). */
  scanIntervalMs?: number;
  /** Run a resume scan when the worker starts (default true). */
  scanOnStart?: boolean;
  /** Groups (of one row per pooled connection) a transport may have in `sending` at once. */
  wireGroups?: number;
}

/** The first of `transports` that accepts a connection and greets us (a probe without a message). */
async function firstAnswering(transports: Transport[]): Promise<Transport | null> {
  for (const t of transports) {
    try {
      await t.mailer.verify();
      return t;
    } catch {
      // still down: try the next
    }
  }
  return null;
}

/** Default wire window: two groups per transport (see createSendWorker). */
export const WIRE_GROUPS = 2;

export interface SendWorker {
  owner: string;
  worker: Worker<SendJobData>;
  queue: SendQueue;
  /** The transports new jobs use (they change when an admin changes the relays). */
  readonly transports: Transport[];
  /** Rows at most in `sending` per transport in this process (the wire window). */
  wireWindowRows: number;
  /** Messages the relays accepted from this process, and their bytes. */
  counters: { accepted: number; bytes: number };
  /** Runs a resume scan now. */
  scan(force?: boolean): ReturnType<typeof resumeScan>;
  /** Resumes issues paused for broken connections once a relay answers (the scan timer runs it too). */
  resumeAfterOutage(): Promise<void>;
  /** Graceful stop: finishes the chunk on the wire, releases claimed rows, hands the rest to a new job. */
  close(): Promise<void>;
}

interface IssueInfo {
  revision: number;
  sender: Sender;
}

/** BullMQ worker for QUEUES.send: claim → sending → SMTP (pooled) → ledger, a chunk at a time. */
export async function createSendWorker(deps: DeliveryDeps & SendWorkerOptions): Promise<SendWorker> {
  const { db, log, env } = deps;
  const owner = leaseOwnerId(randomBytes(4).toString('hex'));
  const fixed = deps.transports?.map((t) =>
    typeof t === 'string'
      ? (parseTransportSpecs([t], {
          perSecond: env.SMTP_RATE_PER_SECOND,
          perHour: env.SMTP_RATE_PER_HOUR,
        })[0] as TransportSpec)
      : t,
  );
  const dkim = dkimFromEnv(env);
  // The wire window (invariant 3): per transport, at most WIRE_GROUPS groups of one row per pooled
  // connection are in `sending` at once — one group on the wire while the other's ledger writes
  // run. A crash leaves at most that many rows unknown, whatever the chunk size or job count, and
  // memory holds only the messages in the window.
  const groupSize = env.SMTP_POOL_CONNECTIONS;
  const relays = await openRelayPools({
    load: async () => fixed ?? (await currentRelaySpecs(deps)).specs,
    refreshMs: fixed ? 0 : (deps.relayRefreshMs ?? 5000),
    open: (spec) => openTransport(spec, { connections: env.SMTP_POOL_CONNECTIONS }),
    wireGroups: deps.wireGroups ?? WIRE_GROUPS,
    log,
  });
  const counters = { accepted: 0, bytes: 0 };
  // Enough reusable message buffers for every wire window of this process.
  const messageBuffers = new BufferPool(
    groupSize * (deps.wireGroups ?? WIRE_GROUPS) * relays.current().length,
  );
  const queue = openSendQueue(deps.connection);
  const redis: RedisClient = createRedis(deps.connection.url);
  const limiter = new TransportRateLimiter(redis, deps.connection.prefix);
  const chunkSize = deps.chunkSize ?? env.SEND_CONCURRENCY;
  const leaseSeconds = env.SEND_LEASE_SECONDS;
  // Rests are shared by every worker through Redis (src/delivery/relay-rest.ts).
  const rests = new RelayRests(redis, deps.connection.prefix, {
    baseMs: deps.throttleMs ?? env.SEND_RELAY_REST_MS,
    maxMs: Math.max(env.SEND_RELAY_REST_MAX_MS, deps.throttleMs ?? 0),
  });
  // Every ledger write and read goes through the guard: while PostgreSQL restarts, jobs wait
  // (nothing new is claimed) and the outcomes of rows already on the wire stay in memory until
  // they are written.
  const outage = deps.outage ?? createOutageGuard({ log, graceMs: env.DATABASE_OUTAGE_GRACE_SECONDS * 1000 });
  const guarded = <T>(what: string, fn: () => Promise<T>) => outage.run(what, fn);
  const blockRest = deps.blockRestMs ?? env.SEND_BLOCK_REST_SECONDS * 1000;
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
    const info: IssueInfo = { revision: issue.revision, sender: await loadSender(db, env) };
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
        from: info.sender.from,
        replyTo: info.sender.replyTo,
        listId: info.sender.listId,
        feedbackId: feedbackId(issueId, info.sender),
        messageIdDomain: info.sender.domain,
        eightBit,
        dkim,
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

  /** What one group of rows came to, for the chunk loop to act on after the window is free. */
  interface GroupOutcome {
    results: SendResult[];
    suppress: string[];
    retries: { id: number; at: Date; attempt: number }[];
    pauseReason: string | null;
    /** The relay's own words behind the pause. */
    pauseReply: string | null;
    /** The relay asked to rest (throttled, unreachable): the first such outcome of the group. */
    rest: RestCause | null;
    /** When the group went on the wire (a refusal of an older message belongs to a rest already counted). */
    startedAt: number;
    /** Some outcome said nothing about the relay (a connection lost mid-message). */
    inconclusive: boolean;
    /** The lowest id the pool gave back unsent (it goes round again); Infinity when none. */
    unsentMin: number;
    /** A block rests the relay at least this long (0: the usual rest). */
    restMinMs: number;
    /** markSending took fewer rows than asked: the issue was paused or cancelled. */
    stopped: boolean;
  }

  /**
   * Puts one group of claimed rows on the wire: claimed → sending, each message rendered and
   * handed to the pool, then every outcome written in one statement. Runs inside the transport's
   * wire window, so the rows this process holds in `sending` never exceed that window.
   */
  async function sendGroup(
    issueId: number,
    info: IssueInfo,
    transport: Transport,
    templatesOf: Map<string, MimeTemplate>,
    group: ClaimedRow[],
  ): Promise<GroupOutcome> {
    const out: GroupOutcome = {
      results: [],
      suppress: [],
      retries: [],
      pauseReason: null,
      pauseReply: null,
      rest: null,
      startedAt: Date.now(),
      inconclusive: false,
      unsentMin: Number.POSITIVE_INFINITY,
      restMinMs: 0,
      stopped: false,
    };
    const onWire = await guarded('mark_sending', () =>
      markSending(db, {
        issueId,
        ids: group.map((r) => r.id),
        owner,
        leaseSeconds,
        transport: transport.spec.name,
      }),
    );
    out.stopped = onWire.size < group.length;
    const breaker = breakerFor(issueId);
    await Promise.all(
      group
        .filter((r) => onWire.has(r.id))
        .map(async (r) => {
          const template = templatesOf.get(r.variantKey) as MimeTemplate;
          // Room for longer token values than the template's sample.
          const buffer = messageBuffers.take(template.approxBytes + 8192);
          const msg = render(issueId, template, r, buffer);
          if (msg instanceof Error) {
            messageBuffers.give(buffer);
            out.results.push({
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
          const envelopeFrom = returnPath(env, info.sender, r.id);
          const outcome = await send(transport, envelopeFrom, r.email, msg);
          const c = classifySmtpReply(outcome);
          const rest = restCauseOf(c, outcome);
          const base = {
            id: r.id,
            smtpCode: c.smtpCode,
            smtpResponse: outcome?.response ?? outcome?.message ?? null,
            errorClass: c.errorClass,
            messageId: msg.messageId,
          };
          if (neverSent(outcome)) {
            out.unsentMin = Math.min(out.unsentMin, r.id);
            out.results.push({ ...base, state: 'queued', nextAttemptAt: null, attempted: false });
            return;
          }
          if (rest) {
            // The relay, not the message, is the problem: the row goes back to the queue
            // unattempted (nothing reached the relay, or it refused before taking the message).
            out.rest ??= rest;
            out.results.push({
              ...base,
              state: 'queued',
              nextAttemptAt: null,
              attempted: false,
              refused: true,
            });
            return;
          }
          switch (c.decision) {
            case 'accepted':
              counters.accepted++;
              counters.bytes += msg.raw.length;
              // Only now is the buffer surely off the wire; after any other outcome a broken
              // connection may still hold it, so it is left to the garbage collector.
              messageBuffers.give(buffer);
              out.results.push({ ...base, state: 'accepted', nextAttemptAt: null, attempted: true });
              break;
            case 'retry': {
              const attempt = r.attempts + 1;
              if (attempt >= env.SEND_MAX_ATTEMPTS) {
                out.results.push({
                  ...base,
                  state: 'failed',
                  errorClass: 'retries_exhausted',
                  nextAttemptAt: null,
                  attempted: true,
                });
              } else {
                const at = new Date(Date.now() + retryDelayMs(attempt, env.SEND_RETRY_BASE_MS));
                out.retries.push({ id: r.id, at, attempt });
                out.results.push({
                  ...base,
                  state: 'deferred',
                  nextAttemptAt: at,
                  attempted: true,
                  refused: true,
                });
              }
              break;
            }
            case 'fail':
              out.results.push({ ...base, state: 'failed', nextAttemptAt: null, attempted: true });
              break;
            case 'fail-block':
              // Refused for our reputation, content or authentication: the row fails (the reader
              // stays), and the relay rests at least SEND_BLOCK_REST_SECONDS.
              out.rest ??= {
                reason: c.errorClass ?? 'blocked',
                reply: base.smtpResponse,
                smtpCode: c.smtpCode,
              };
              out.restMinMs = blockRest;
              out.results.push({ ...base, state: 'failed', nextAttemptAt: null, attempted: true });
              break;
            case 'fail-suppress':
              out.suppress.push(r.email);
              out.results.push({ ...base, state: 'failed', nextAttemptAt: null, attempted: true });
              break;
            case 'pause-issue':
              out.pauseReason = `smtp_${c.errorClass}`;
              out.pauseReply = base.smtpResponse;
              out.results.push({ ...base, state: 'queued', nextAttemptAt: null, attempted: false });
              break;
            case 'unknown':
              out.inconclusive = true;
              out.results.push({ ...base, state: 'unknown', nextAttemptAt: null, attempted: true });
              break;
          }
          if (c.decision !== 'pause-issue') {
            const failed = c.decision !== 'accepted';
            if (breaker.record(failed, c.decision === 'unknown')) {
              out.pauseReason ??= breaker.cause();
              out.pauseReply ??= base.smtpResponse;
            }
          }
        }),
    );
    // The outcomes are in memory: while the database restarts they wait here, and are written
    // when it answers again (recordResults is idempotent).
    await guarded('record_results', () => recordResults(db, owner, out.results));
    return out;
  }

  /** The message for one row, or the reason it cannot be addressed. */
  function render(
    issueId: number,
    template: MimeTemplate,
    r: ClaimedRow,
    into: Buffer,
  ): RenderedMessage | Error {
    try {
      const links = deps.content.recipientLinks(deps.secrets, env.PUBLIC_URL, {
        subscriberId: r.subscriberId,
        issueId,
        deliveryId: r.id,
      });
      return template.render(
        {
          deliveryId: r.id,
          address: r.email,
          name: r.name,
          oneClickUnsubscribeUrl: links.oneClickUnsubscribeUrl,
          unsubscribeMailto: unsubscribeMailto(env, links.oneClickUnsubscribeUrl),
          tokens: {
            // 读者 / reader when no name is known, so the greeting never reads "，您好：".
            name: recipientName(r.name, variantLocale(r.variantKey)),
            unsubscribeUrl: links.unsubscribeUrl,
            preferencesUrl: links.preferencesUrl,
            webVersionUrl: links.webVersionUrl,
            trackingToken: links.trackingToken,
          },
        },
        new Date(),
        into,
      );
    } catch (err) {
      return err as Error;
    }
  }

  // Until when a transport's hourly budget is spent (learned from the shared limiter). Resting
  // relays hand their share to the others; when every budget is spent, the whole queue waits
  // (BullMQ's rate limiter) rather than spin.
  const restingUntil = new WeakMap<Transport, number>();

  /**
   * A transport with budget for (up to) a chunk now: tried in weighted random order, so weights
   * share the work and a transport out of budget or resting hands its share to the others. A
   * relay whose rest just ended gets one message (the probe). When none can send, says how long
   * to wait and whether every hourly budget is spent.
   */
  async function acquireTransport(
    transports: Transport[],
  ): Promise<
    | { transport: Transport; grant: RateGrant; granted: number; probe: boolean }
    | { transport: null; retryInMs: number; hourly: boolean }
  > {
    const now = Date.now();
    const open = transports.filter((t) => (restingUntil.get(t) ?? 0) <= now);
    let retryInMs = Number.POSITIVE_INFINITY;
    for (const transport of weightedOrder(open)) {
      const gate = await rests.gate(transport.spec.name);
      if (gate.kind === 'wait') {
        retryInMs = Math.min(retryInMs, gate.ms);
        continue;
      }
      const limits = { perSecond: transport.spec.perSecond, perHour: transport.spec.perHour };
      const grant = await limiter.acquire(transport.spec.name, limits, gate.kind === 'probe' ? 1 : chunkSize);
      if (grant.granted > 0)
        return { transport, grant, granted: grant.granted, probe: gate.kind === 'probe' };
      if (gate.kind === 'probe') await rests.probeInconclusive(transport.spec.name);
      if (grant.hourly) restingUntil.set(transport, now + grant.retryInMs);
      retryInMs = Math.min(retryInMs, grant.retryInMs);
    }
    const hourly = transports.every((t) => (restingUntil.get(t) ?? 0) > now);
    if (hourly) retryInMs = Math.min(...transports.map((t) => (restingUntil.get(t) as number) - now));
    return { transport: null, retryInMs: Math.max(1, retryInMs), hourly };
  }

  /** A relay's rest began, lengthened or ended: one log line with the relay's own words. */
  async function afterGroup(
    issueId: number,
    transport: Transport,
    out: GroupOutcome,
    probe: boolean,
  ): Promise<void> {
    const name = transport.spec.name;
    if (out.rest) {
      const { raised, state, ms } = await rests.rest(name, out.rest, out.startedAt, out.restMinMs);
      if (raised) {
        log.warn(
          {
            event: out.restMinMs ? 'delivery.relay.blocked' : 'delivery.relay.resting',
            transport: name,
            reason: state.reason,
            issueId,
            reply: state.reply,
            smtpCode: out.rest.smtpCode ?? null,
            ms,
            level: state.level,
          },
          `relay ${name} rests: ${state.reply ?? state.reason}`,
        );
      }
    } else if (probe) {
      if (out.inconclusive) await rests.probeInconclusive(name);
      else {
        const ended = await rests.recovered(name);
        if (ended)
          log.info(
            {
              event: 'delivery.relay.recovered',
              transport: name,
              reason: ended.reason,
              restedMs: Date.now() - ended.since,
            },
            `relay ${name} answers again; sending resumes at its pace`,
          );
      }
    }
  }

  async function processJob(job: Job<SendJobData>): Promise<{ sent: number }> {
    const { set, release } = await relays.acquire();
    try {
      return await sendRange(job, set);
    } catch (err) {
      if (err instanceof DatabaseUnavailableError) deps.onDatabaseLost?.(err);
      throw err;
    } finally {
      release();
    }
  }

  async function sendRange(job: Job<SendJobData>, set: RelaySet): Promise<{ sent: number }> {
    const { issueId, toId } = job.data;
    let cursor = job.data.fromId;
    let sent = 0;
    const info = await guarded('issue', () => infoFor(issueId));
    const handOn = async (fromId: number) => {
      // The rest of the range goes to a new job; nothing claimed is left behind.
      if (fromId <= toId)
        await enqueueRanges(queue, [{ issueId, fromId, toId }], { tag: `cont${Date.now().toString(36)}` });
    };
    for (;;) {
      if (stopping) {
        await handOn(cursor);
        break;
      }
      const pick = await acquireTransport(set.transports);
      if (!pick.transport) {
        if (pick.hourly) {
          // Every transport has spent its hourly budget: the whole queue waits.
          await queue.rateLimit(pick.retryInMs);
          throw Worker.RateLimitError();
        }
        // Every relay rests or this second's budget is spent: wait here, a second at most at a
        // time so a stop is not held up.
        await new Promise((r) => setTimeout(r, Math.min(pick.retryInMs, 1000)));
        continue;
      }
      const { transport, grant, granted, probe } = pick;
      const rows = await guarded('claim', () =>
        claimRows(db, { issueId, fromId: cursor, toId, limit: granted, owner, leaseSeconds }),
      );
      await limiter.refund(grant, granted - rows.length);
      if (!rows.length) {
        if (probe) await rests.probeInconclusive(transport.spec.name);
        break;
      }
      cursor = (rows[rows.length - 1] as ClaimedRow).id + 1;

      const ineligible = rows
        .filter((r) => !r.eligible)
        .map((r) => ({ id: r.id, reason: r.ineligibleReason ?? 'ineligible' }));
      await guarded('skip', () => skipClaimed(db, owner, ineligible));
      const eligible = rows.filter((r) => r.eligible);
      // Load every variant before anything is marked sending (a missing one must not look like a
      // send); messages are rendered one by one just before the wire, so memory holds only those
      // in the wire window.
      const templatesOf = new Map<string, MimeTemplate>();
      try {
        for (const r of eligible) {
          if (!templatesOf.has(r.variantKey)) {
            const t = await guarded('variant', () =>
              templateFor(issueId, info, r.variantKey, transport.eightBit),
            );
            templatesOf.set(r.variantKey, t);
          }
        }
      } catch (err) {
        const ids = eligible.map((e) => e.id);
        await guarded('release', () => releaseClaimed(db, owner, ids));
        throw err;
      }
      if (probe && !eligible.length) await rests.probeInconclusive(transport.spec.name);

      // The chunk goes out a group at a time through the transport's wire window; the ledger
      // write of each group lands before its window slot is free again.
      let pauseReason: string | null = null;
      let pauseReply: string | null = null;
      let rested = false;
      let stoppedIssue = false;
      let next = 0;
      let groupStart = 0;
      while (next < eligible.length) {
        if (stopping) break;
        groupStart = next;
        const group = eligible.slice(next, next + groupSize);
        next += group.length;
        const out = await set.window(transport)(() =>
          sendGroup(issueId, info, transport, templatesOf, group),
        );
        await afterGroup(issueId, transport, out, probe);
        for (const address of out.suppress) {
          await guarded('suppress', () =>
            deps.content.suppress(db, { kind: 'address', value: address, reason: 'smtp_rejected' }),
          );
        }
        for (const r of out.retries) {
          await enqueueRanges(queue, [{ issueId, fromId: r.id, toId: r.id }], {
            tag: `retry${r.attempt}`,
            delayMs: Math.max(0, r.at.getTime() - Date.now()),
          });
        }
        sent += out.results.filter((r) => r.state === 'accepted').length;
        // Rows the pool gave back unsent are claimed again by this job's next pick.
        cursor = Math.min(cursor, out.unsentMin);
        pauseReason = out.pauseReason;
        pauseReply = out.pauseReply;
        rested = out.rest !== null;
        stoppedIssue = out.stopped;
        if (pauseReason || rested || stoppedIssue) break;
      }
      // Rows of the chunk that never went out (stop, pause, rest) go back to the queue; in the
      // last group that is those markSending did not take (releaseClaimed only moves claimed rows).
      const unsent = eligible.slice(next);
      if (unsent.length || stoppedIssue) {
        const ids = eligible.slice(groupStart).map((r) => r.id);
        await guarded('release', () => releaseClaimed(db, owner, ids));
      }
      if (pauseReason) {
        const reason = pauseReason;
        await guarded('pause', () => pauseIssue(deps, issueId, reason, SYSTEM_ACTOR, pauseReply));
        breakerFor(issueId).reset();
        break;
      }
      if (rested) {
        // This relay rests; the next pick sends through another, or waits for the rest to end,
        // from the first row this one refused.
        cursor = Math.min(cursor, (eligible[groupStart] as ClaimedRow).id);
        continue;
      }
      if (stoppedIssue) break;
      if (stopping) {
        await handOn(unsent.length ? (unsent[0] as ClaimedRow).id : cursor);
        break;
      }
    }
    if (await guarded('finish', () => finishIfDone(db, issueId))) {
      log.info({ event: 'delivery.issue.sent', issueId }, 'issue finished: no row can still change');
      for (const k of templates.keys()) if (k.startsWith(`${issueId}/`)) templates.delete(k);
      issueInfo.delete(issueId);
      breakers.delete(issueId);
    }
    return { sent };
  }

  /**
   * Issues the breaker paused because connections kept breaking resume by themselves once a relay
   * answers a probe (a connection and EHLO); reply-level pauses wait for a person.
   */
  async function resumeAfterOutage(): Promise<void> {
    const paused = await db
      .selectFrom('issues')
      .select('id')
      .where('state', '=', 'paused')
      .where('pause_reason', '=', RELAY_CONNECTION_REASON)
      .execute();
    if (!paused.length) return;
    const alive = await firstAnswering(relays.current());
    if (!alive) return;
    for (const { id } of paused) {
      try {
        await resumeIssue({ ...deps, queue }, id, SYSTEM_ACTOR, {
          after: RELAY_CONNECTION_REASON,
          probe: alive.spec.name,
        });
        log.info(
          { event: 'delivery.issue.auto_resumed', issueId: id, transport: alive.spec.name },
          'relay answers again; issue resumed',
        );
      } catch (err) {
        if (!(err instanceof IssueStateError)) throw err; // another worker resumed it first
      }
    }
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
  if (deps.scanOnStart !== false) await guarded('resume_scan', () => scan());
  void worker.run();
  const period = deps.scanIntervalMs ?? env.SEND_RESUME_SCAN_SECONDS * 1000;
  let scanning = false;
  const timer =
    period > 0
      ? setInterval(() => {
          // While the database is away the jobs' guard waits for it; the scan waits its turn.
          if (scanning || outage.down) return;
          scanning = true;
          scan()
            .then(() => resumeAfterOutage())
            .catch((err: Error) =>
              log.error({ event: 'delivery.resume_scan.failed', err: err.message }, 'resume scan failed'),
            )
            .finally(() => {
              scanning = false;
            });
        }, period)
      : undefined;
  timer?.unref();
  log.info(
    { event: 'delivery.worker.started', owner, transports: relays.current().map((t) => t.spec.name) },
    'send worker started',
  );

  return {
    owner,
    worker,
    queue,
    get transports() {
      return relays.current();
    },
    wireWindowRows: groupSize * (deps.wireGroups ?? WIRE_GROUPS),
    counters,
    scan,
    resumeAfterOutage,
    async close() {
      stopping = true;
      if (timer) clearInterval(timer);
      await worker.close();
      await guarded('release', () => releaseClaimed(db, owner));
      relays.close();
      await queue.close();
      redis.disconnect();
      log.info({ event: 'delivery.worker.stopped', owner }, 'send worker stopped');
    },
  };
}
