import { randomBytes } from 'node:crypto';
import { type Job, Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import { createOutageGuard, DatabaseUnavailableError, type OutageGuard } from '../db/outage.js';
import { IllegalIssueTransitionError } from '../issues/state-machine.js';
import { QUEUES } from '../queue/names.js';
import { createRedis } from '../queue/redis.js';
import { BufferPool } from './buffer-pool.js';
import { IssueBreakers, RELAY_CONNECTION_REASON } from './circuit-breaker.js';
import type { SmtpOutcomeLike } from './classify.js';
import { finishIfDone, pauseIssue, resumeIssue, SYSTEM_ACTOR } from './control.js';
import type { DeliveryDeps, QueueConnection, SendJobData } from './deps.js';
import { dkimFromEnv } from './dkim.js';
import { recipientHeaders } from './issue-headers.js';
import {
  type ClaimedRow,
  claimRows,
  markSending,
  recordResults,
  releaseClaimed,
  skipClaimed,
} from './ledger.js';
import { type IssueInfo, MessageCache } from './message-cache.js';
import type { MimeTemplate, RenderedMessage } from './mime.js';
import { enqueueRanges, openSendQueue, type SendQueue } from './queue.js';
import { RelayRateLimiter } from './rate-limit.js';
import { firstAnswering, openRelay, type Relay } from './relay-connection.js';
import { openRelayPools, type RelaySet } from './relay-pools.js';
import { RelayRests } from './relay-rest.js';
import { RelayScheduler } from './relay-scheduler.js';
import { parseRelayUrls, type RelaySpec } from './relay-spec.js';
import { currentRelaySpecs } from './relay-store.js';
import { leaseOwnerId, resumeScan } from './resume.js';
import { addToGroup, emptyGroup, type GroupOutcome, rowOutcome, unaddressable } from './row-outcome.js';
import { returnPath } from './sender.js';

export interface SendWorkerOptions {
  connection: QueueConnection;
  /**
   * SMTP relay URLs (weights in the fragment) or parsed specs, fixed for the worker's life. Default:
   * the relays of the settings (table smtp_relays) while any is enabled, else SMTP_URL's, read
   * again every `relayRefreshMs` so a change needs no restart.
   */
  relays?: (string | RelaySpec)[];
  /** How often the relay list is read again (default 5 s); ignored with `relays`. */
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
  /** Groups (of one row per pooled connection) a relay may have in `sending` at once. */
  wireGroups?: number;
}

/** Default wire window: two groups per relay (see createSendWorker). */
export const WIRE_GROUPS = 2;

export interface SendWorker {
  owner: string;
  worker: Worker<SendJobData>;
  queue: SendQueue;
  /** The relays new jobs use (they change when an admin changes the relays). */
  readonly relays: Relay[];
  /** Rows at most in `sending` per relay in this process (the wire window). */
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

/**
 * BullMQ worker for QUEUES.send: claim → sending → SMTP (pooled) → ledger, a chunk at a time.
 * The policies live beside it: row-outcome.ts (what each SMTP outcome does to its row),
 * relay-scheduler.ts (which relay, how many rows, rests), message-cache.ts and issue-headers.ts
 * (the messages); this file keeps the range loop and the wiring.
 */
export async function createSendWorker(deps: DeliveryDeps & SendWorkerOptions): Promise<SendWorker> {
  const { db, log, env } = deps;
  const owner = leaseOwnerId(randomBytes(4).toString('hex'));
  const fixed = deps.relays?.map((r) =>
    typeof r === 'string'
      ? (parseRelayUrls([r], {
          perSecond: env.SMTP_RATE_PER_SECOND,
          perHour: env.SMTP_RATE_PER_HOUR,
        })[0] as RelaySpec)
      : r,
  );
  // The wire window (invariant 3): per relay, at most WIRE_GROUPS groups of one row per pooled
  // connection are in `sending` at once — one group on the wire while the other's ledger writes
  // run. A crash leaves at most that many rows unknown, whatever the chunk size or job count, and
  // memory holds only the messages in the window.
  const groupSize = env.SMTP_POOL_CONNECTIONS;
  const wireGroups = deps.wireGroups ?? WIRE_GROUPS;
  const relays = await openRelayPools({
    load: async () => fixed ?? (await currentRelaySpecs(deps)).specs,
    refreshMs: fixed ? 0 : (deps.relayRefreshMs ?? 5000),
    open: (spec) => openRelay(spec, { connections: env.SMTP_POOL_CONNECTIONS }),
    wireGroups,
    log,
  });
  const counters = { accepted: 0, bytes: 0 };
  // Enough reusable message buffers for every wire window of this process.
  const messageBuffers = new BufferPool(groupSize * wireGroups * relays.current().length);
  const queue = openSendQueue(deps.connection);
  const redis: Redis = createRedis(deps.connection.url);
  const leaseSeconds = env.SEND_LEASE_SECONDS;
  // Rests are shared by every worker through Redis (src/delivery/relay-rest.ts).
  const rests = new RelayRests(redis, deps.connection.prefix, {
    baseMs: deps.throttleMs ?? env.SEND_RELAY_REST_MS,
    maxMs: Math.max(env.SEND_RELAY_REST_MAX_MS, deps.throttleMs ?? 0),
  });
  const scheduler = new RelayScheduler({
    rests,
    budgets: new RelayRateLimiter(redis, deps.connection.prefix),
    chunkSize: deps.chunkSize ?? env.SEND_CONCURRENCY,
    log,
  });
  // Every ledger write and read goes through the guard: while PostgreSQL restarts, jobs wait
  // (nothing new is claimed) and the outcomes of rows already on the wire stay in memory until
  // they are written.
  const outage = deps.outage ?? createOutageGuard({ log, graceMs: env.DATABASE_OUTAGE_GRACE_SECONDS * 1000 });
  const guarded = <T>(what: string, fn: () => Promise<T>) => outage.run(what, fn);
  const rowPolicy = {
    maxAttempts: env.SEND_MAX_ATTEMPTS,
    retryBaseMs: env.SEND_RETRY_BASE_MS,
    blockRestMs: deps.blockRestMs ?? env.SEND_BLOCK_REST_SECONDS * 1000,
  };
  const messages = new MessageCache(db, env, dkimFromEnv(env));
  const breakers = new IssueBreakers(env.SEND_BREAKER_WINDOW, env.SEND_BREAKER_RATIO);
  let stopping = false;
  let closing: Promise<void> | undefined;

  function send(
    relay: Relay,
    envelopeFrom: string,
    to: string,
    msg: RenderedMessage,
  ): Promise<SmtpOutcomeLike | null> {
    return new Promise((resolve) => {
      relay.mailer.sendMail(
        {
          envelope: { from: envelopeFrom, to: [to], use8BitMime: relay.eightBit } as unknown as {
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

  /**
   * Puts one group of claimed rows on the wire: claimed → sending, each message rendered and
   * handed to the pool, then every outcome written in one statement. Runs inside the relay's
   * wire window, so the rows this process holds in `sending` never exceed that window.
   */
  async function sendGroup(
    issueId: number,
    info: IssueInfo,
    relay: Relay,
    templatesOf: Map<string, MimeTemplate>,
    group: ClaimedRow[],
  ): Promise<GroupOutcome> {
    const out = emptyGroup(Date.now());
    const onWire = await guarded('mark_sending', () =>
      markSending(db, { issueId, ids: group.map((r) => r.id), owner, leaseSeconds, relay: relay.spec.name }),
    );
    out.stopped = onWire.size < group.length;
    const breaker = breakers.of(issueId);
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
            addToGroup(out, unaddressable(r.id, msg.message));
            return;
          }
          const reply = await send(relay, returnPath(env, info.sender, r.id), r.email, msg);
          const o = rowOutcome(r, msg.messageId, reply, { ...rowPolicy, now: Date.now() });
          if (o.result.state === 'accepted') {
            counters.accepted++;
            counters.bytes += msg.raw.length;
            // Only now is the buffer surely off the wire; after any other outcome a broken
            // connection may still hold it, so it is left to the garbage collector.
            messageBuffers.give(buffer);
          }
          addToGroup(out, o);
          if (o.breaker && breaker.record(o.breaker !== 'ok', o.breaker === 'connection')) {
            out.pauseReason ??= breaker.cause();
            out.pauseReply ??= o.result.smtpResponse;
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
      return template.render(recipientHeaders(env, r, links), new Date(), into);
    } catch (err) {
      return err as Error;
    }
  }

  async function processJob(job: Job<SendJobData>): Promise<{ accepted: number }> {
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

  /** Sends a job's range of rows, a chunk at a time; returns how many the relays accepted. */
  async function sendRange(job: Job<SendJobData>, set: RelaySet): Promise<{ accepted: number }> {
    const { issueId, toId } = job.data;
    let cursor = job.data.fromId;
    let accepted = 0;
    const info = await guarded('issue', () => messages.issue(issueId));
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
      const pick = await scheduler.pick(set.relays);
      if (!pick.relay) {
        if (pick.hourly) {
          // Every relay has spent its hourly budget: the whole queue waits.
          await queue.rateLimit(pick.retryInMs);
          throw Worker.RateLimitError();
        }
        // Every relay rests or this second's budget is spent: wait here, a second at most at a
        // time so a stop is not held up.
        await new Promise((r) => setTimeout(r, Math.min(pick.retryInMs, 1000)));
        continue;
      }
      const { relay, grant, granted, probe } = pick;
      const rows = await guarded('claim', () =>
        claimRows(db, { issueId, fromId: cursor, toId, limit: granted, owner, leaseSeconds }),
      );
      await scheduler.refund(grant, granted - rows.length);
      if (!rows.length) {
        await scheduler.unused(relay, probe);
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
              messages.template(issueId, info, r.variantKey, relay.eightBit),
            );
            templatesOf.set(r.variantKey, t);
          }
        }
      } catch (err) {
        const ids = eligible.map((e) => e.id);
        await guarded('release', () => releaseClaimed(db, owner, ids));
        throw err;
      }
      if (!eligible.length) await scheduler.unused(relay, probe);

      // The chunk goes out a group at a time through the relay's wire window; the ledger
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
        const out = await set.window(relay)(() => sendGroup(issueId, info, relay, templatesOf, group));
        await scheduler.report(issueId, relay, out, probe);
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
        accepted += out.accepted;
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
        breakers.of(issueId).reset();
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
    if (await guarded('finish', () => finishIfDone(deps, issueId))) {
      log.info({ event: 'delivery.issue.sent', issueId }, 'issue finished: no row can still change');
      messages.forget(issueId);
      breakers.forget(issueId);
    }
    return { accepted };
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
          { event: 'delivery.issue.auto_resumed', issueId: id, relay: alive.spec.name },
          'relay answers again; issue resumed',
        );
      } catch (err) {
        if (!(err instanceof IllegalIssueTransitionError)) throw err; // another worker resumed it first
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
    { event: 'delivery.worker.started', owner, relays: relays.current().map((r) => r.spec.name) },
    'send worker started',
  );

  return {
    owner,
    worker,
    queue,
    get relays() {
      return relays.current();
    },
    wireWindowRows: groupSize * wireGroups,
    counters,
    scan,
    resumeAfterOutage,
    close() {
      // Idempotent: a second call waits for the first.
      closing ??= (async () => {
        stopping = true;
        if (timer) clearInterval(timer);
        await worker.close();
        await guarded('release', () => releaseClaimed(db, owner));
        relays.close();
        await queue.close();
        redis.disconnect();
        log.info({ event: 'delivery.worker.stopped', owner }, 'send worker stopped');
      })();
      return closing;
    },
  };
}
