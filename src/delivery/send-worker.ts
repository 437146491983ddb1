import { randomBytes } from 'node:crypto';
import { type Job, Worker } from 'bullmq';
import { createOutageGuard, DatabaseUnavailableError, type OutageGuard } from '../db/outage.js';
import { IllegalIssueTransitionError } from '../issues/state-machine.js';
import { QUEUES } from '../queue/names.js';
import { createRedis, type RedisClient } from '../queue/redis.js';
import { BufferPool } from './buffer-pool.js';
import { IssueBreakers, RELAY_CONNECTION_REASON } from './circuit-breaker.js';
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
import { type LaneOutcome, type RelayLanes, type Ticket, WIRE_ROWS_PER_CONNECTION } from './relay-lanes.js';
import { openRelayPools, type RelaySet } from './relay-pools.js';
import { RelayRests, RestWatch } from './relay-rest.js';
import { RelayScheduler } from './relay-scheduler.js';
import { parseRelayUrls, type RelaySpec } from './relay-spec.js';
import { currentRelaySpecs } from './relay-store.js';
import { ResultWriter } from './result-writer.js';
import { leaseOwnerId, resumeScan } from './resume.js';
import {
  addToGroup,
  emptyGroup,
  type GroupOutcome,
  type RowOutcome,
  rowOutcome,
  unaddressable,
  unsentRow,
} from './row-outcome.js';
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
  /** Rows claimed together (and counted against the hourly budget); the relay's lanes take them one by one. */
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
}

export { WIRE_ROWS_PER_CONNECTION } from './relay-lanes.js';

export interface SendWorker {
  owner: string;
  worker: Worker<SendJobData>;
  queue: SendQueue;
  /** The relays new jobs use (they change when an admin changes the relays). */
  readonly relays: Relay[];
  /** Rows at most in `sending` per relay in this process (the wire window) for a relay with `connections`. */
  wireWindowRows(connections?: number): number;
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
 * BullMQ worker for QUEUES.send: claim → sending → SMTP (the relay's lanes) → ledger, a chunk at
 * a time per job, the rows of every job sharing each relay's connections. The policies live
 * beside it: row-outcome.ts (what each SMTP outcome does to its row), relay-scheduler.ts (which
 * relay, how many rows, rests), relay-lanes.ts (connections, the wire window), message-cache.ts
 * and issue-headers.ts (the messages); this file keeps the range loop and the wiring.
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
  // The wire window (invariant 3): per relay and process at most WIRE_ROWS_PER_CONNECTION rows
  // per connection are in `sending`, whatever the chunk size or job count, so a crash leaves at
  // most that many rows unknown and memory holds only their messages.
  const connectionsOf = (spec: RelaySpec) => spec.connections ?? env.SMTP_POOL_CONNECTIONS;
  const redis: RedisClient = createRedis(deps.connection.url);
  const budgets = new RelayRateLimiter(redis, deps.connection.prefix);
  const watch = await RestWatch.open(createRedis(deps.connection.url), deps.connection.prefix);
  const relays = await openRelayPools({
    load: async () => fixed ?? (await currentRelaySpecs(deps)).specs,
    refreshMs: fixed ? 0 : (deps.relayRefreshMs ?? 5000),
    open: (spec) =>
      openRelay(spec, {
        connections: connectionsOf(spec),
        lanes: {
          resting: (name) => watch.resting(name),
          slot: (name, perSecond) => budgets.acquire(name, { perSecond, perHour: 0 }, 1),
        },
      }),
    log,
  });
  const counters = { accepted: 0, bytes: 0 };
  // Enough reusable message buffers for every wire window of this process.
  const messageBuffers = new BufferPool(
    relays.current().reduce((n, r) => n + WIRE_ROWS_PER_CONNECTION * connectionsOf(r.spec), 0),
  );
  const queue = openSendQueue(deps.connection);
  const leaseSeconds = env.SEND_LEASE_SECONDS;
  // Rests are shared by every worker through Redis (src/delivery/relay-rest.ts).
  const rests = new RelayRests(redis, deps.connection.prefix, {
    baseMs: deps.throttleMs ?? env.SEND_RELAY_REST_MS,
    maxMs: Math.max(env.SEND_RELAY_REST_MAX_MS, deps.throttleMs ?? 0),
  });
  const scheduler = new RelayScheduler({
    rests,
    budgets,
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
  const writer = new ResultWriter(async (results) => {
    await guarded('record_results', () => recordResults(db, owner, results));
  });
  const breakers = new IssueBreakers(env.SEND_BREAKER_WINDOW, env.SEND_BREAKER_RATIO);
  let stopping = false;
  let closing: Promise<void> | undefined;

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

  /** What a chunk came to: its rows' outcomes, and the rows never handed to the lanes. */
  interface ChunkOutcome extends GroupOutcome {
    /** The relay rests (refused here, or heard from another worker): pick again. */
    rested: boolean;
    /** Claimed rows that never went to the lanes (released to the queue by the caller). */
    notHanded: number[];
    firstNotHanded: number;
    /** The lowest id whose outcome put it back in the queue (unsent, refused by a resting relay). */
    requeuedMin: number;
  }

  /**
   * Puts a chunk's rows on the relay's lanes as its wire window allows: claimed → sending a batch
   * at a time, each message rendered when a lane takes it, each outcome written (batched with
   * the process's others) before its window slot is free again. A refusal that rests the relay
   * is told to every worker at once; a pause, a rest or a stopped issue stops the rest of the
   * chunk (rows still queued for the lanes come back unsent).
   */
  async function sendChunk(
    issueId: number,
    info: IssueInfo,
    relay: Relay,
    templatesOf: Map<string, MimeTemplate>,
    rows: ClaimedRow[],
    probe: boolean,
  ): Promise<ChunkOutcome> {
    const lanes = relay.lanes as RelayLanes;
    const out: ChunkOutcome = {
      ...emptyGroup(Date.now()),
      rested: false,
      notHanded: [],
      firstNotHanded: Number.POSITIVE_INFINITY,
      requeuedMin: Number.POSITIVE_INFINITY,
    };
    const breaker = breakers.of(issueId);
    let stop = false;
    let restReported: Promise<void> | null = null;
    const written: Promise<void>[] = [];
    // Every row handed to the lanes comes back (sent, refused or unsent) and is counted here.
    let handedOut = 0;
    let cameBack = 0;
    let allHanded = false;
    let allBack: () => void = () => {};
    const back = new Promise<void>((ok) => {
      allBack = ok;
    });

    const settle = (o: RowOutcome, buffer: Buffer | null, startedAt: number) => {
      addToGroup(out, o);
      if (o.result.state === 'accepted') {
        counters.accepted++;
        // Only now is the buffer surely off the wire; after any other outcome a broken
        // connection may still hold it, so it is left to the garbage collector.
        if (buffer) messageBuffers.give(buffer);
      }
      if (o.breaker && breaker.record(o.breaker !== 'ok', o.breaker === 'connection')) {
        out.pauseReason ??= breaker.cause();
        out.pauseReply ??= o.result.smtpResponse;
      }
      if (o.pause || out.pauseReason) stop = true;
      if (o.rest) {
        stop = true;
        out.rested = true;
        // Told at once (every worker's lanes stop), once per chunk.
        restReported ??= scheduler
          .report(
            issueId,
            relay,
            { rest: o.rest, restMinMs: o.restMinMs ?? 0, startedAt, inconclusive: false },
            probe,
          )
          .then((state) => {
            if (state) watch.note(relay.spec.name, state.until);
          });
      }
      written.push(
        writer.write(o.result).finally(() => {
          lanes.window.give(1);
        }),
      );
      if (o.result.state === 'queued') out.requeuedMin = Math.min(out.requeuedMin, o.result.id);
      cameBack++;
      if (allHanded && cameBack === handedOut) allBack();
    };

    const ticket = (r: ClaimedRow): Ticket => {
      let buffer: Buffer | null = null;
      return {
        envelopeFrom: returnPath(env, info.sender, r.id),
        to: r.email,
        cancelled: () => stop,
        render: () => {
          const template = templatesOf.get(r.variantKey) as MimeTemplate;
          // Room for longer token values than the template's sample.
          buffer = messageBuffers.take(template.approxBytes + 8192);
          const msg = render(issueId, template, r, buffer);
          if (msg instanceof Error) {
            messageBuffers.give(buffer);
            buffer = null;
          }
          return msg;
        },
        done: (lo: LaneOutcome) => {
          if (lo.kind === 'unaddressable') return settle(unaddressable(r.id, lo.error.message), null, 0);
          if (lo.kind === 'unsent') {
            if (lo.why === 'resting') {
              stop = true;
              out.rested = true;
            }
            return settle(unsentRow(r.id, lo.messageId), null, 0);
          }
          if (lo.reply?.responseCode === 250) counters.bytes += lo.bytes;
          const o = rowOutcome(r, lo.messageId, lo.reply, { ...rowPolicy, now: Date.now() });
          settle(o, buffer, lo.startedAt);
        },
      };
    };

    let next = 0;
    // A graceful stop hands out nothing more (what the lanes hold still goes out).
    while (next < rows.length && !stop && !stopping) {
      // A batch is marked sending in one statement: wait until half the connections' worth is free.
      const left = rows.length - next;
      const n = await lanes.window.take(left, Math.min(left, Math.ceil(lanes.connections / 2)));
      if (stop) {
        lanes.window.give(n);
        break;
      }
      const batch = rows.slice(next, next + n);
      next += n;
      const onWire = await guarded('mark_sending', () =>
        markSending(db, {
          issueId,
          ids: batch.map((r) => r.id),
          owner,
          leaseSeconds,
          relay: relay.spec.name,
        }),
      ).catch((err: unknown) => {
        lanes.window.give(n);
        throw err;
      });
      if (onWire.size < batch.length) {
        // The issue was paused or cancelled: the rows markSending did not take stay claimed.
        out.stopped = true;
        stop = true;
        lanes.window.give(batch.length - onWire.size);
        for (const r of batch) if (!onWire.has(r.id)) out.notHanded.push(r.id);
      }
      const tickets = batch.filter((r) => onWire.has(r.id)).map(ticket);
      handedOut += tickets.length;
      lanes.push(...tickets);
    }
    for (const r of rows.slice(next)) out.notHanded.push(r.id);
    out.firstNotHanded = Math.min(...out.notHanded, Number.POSITIVE_INFINITY);
    allHanded = true;
    if (cameBack === handedOut) allBack();
    await back;
    await Promise.all(written);
    if (restReported) await restReported;
    else if (probe) await scheduler.report(issueId, relay, { ...out, rest: null }, probe);
    return out;
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

      const out = await sendChunk(issueId, info, relay, templatesOf, eligible, probe);
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
      // Rows that went back to the queue (unsent, refused by a resting relay) and rows never
      // handed to the lanes are claimed again by this job's next pick, from the first of them.
      cursor = Math.min(cursor, out.requeuedMin, out.firstNotHanded);
      if (out.notHanded.length) await guarded('release', () => releaseClaimed(db, owner, out.notHanded));
      if (out.pauseReason) {
        const reason = out.pauseReason;
        await guarded('pause', () => pauseIssue(deps, issueId, reason, SYSTEM_ACTOR, out.pauseReply));
        breakers.of(issueId).reset();
        break;
      }
      // A resting relay: the next pick sends through another, or waits for the rest to end.
      if (out.rested) continue;
      if (out.stopped) break;
      if (stopping) {
        await handOn(cursor);
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
    wireWindowRows: (connections = env.SMTP_POOL_CONNECTIONS) => WIRE_ROWS_PER_CONNECTION * connections,
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
        watch.close();
        redis.disconnect();
        log.info({ event: 'delivery.worker.stopped', owner }, 'send worker stopped');
      })();
      return closing;
    },
  };
}
