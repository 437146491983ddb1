import type { Queue } from 'bullmq';
import { sql, type Transaction } from 'kysely';
import type { Database, Db, Issue } from '../db/schema.js';
import { releaseItemsOfCancelled } from '../feeds/inbox.js';
import { scheduleJobId, type TransitionDeps, transitionIssue } from '../issues/lifecycle.js';
import { IllegalIssueTransitionError } from '../issues/state-machine.js';
import { ProblemError } from '../problem.js';
import { ContentError, type DeliveryDeps } from './deps.js';
import { type IssueStats, issueStats, noRowCanChange } from './ledger.js';
import { type HeldLock, lock, prepareLockName } from './locks.js';
import { type PrepareResult, prepareIssue } from './prepare.js';
import { bucketRanges, enqueueRanges, type SendQueue } from './queue.js';
import { describeReason } from './stop-reasons.js';

/**
 * Delivery's moves of an issue (start, pause, resume, fail, cancel, finish, resend) all go through
 * editorial's transitionIssue (src/issues/lifecycle.ts): the lifecycle table decides, and the state,
 * the move's other writes (rows skipped, rows queued again) and the audit entry commit together.
 * Workers, the resume scan and operators race for the same issue; they queue on its row lock, and
 * whoever comes second finds the move already made (an IllegalIssueTransitionError, which the
 * functions that answer "did it move?" read as false).
 */

/** The issue's send failed for good (its content cannot be rendered); the message says why. */
export class IssueFailedError extends ProblemError {
  override name = 'IssueFailedError';
}

/** Who moved an issue when no person did: the scheduler, a worker's failure guard. */
export const SYSTEM_ACTOR = 'system';

type ControlDeps = TransitionDeps;

/** A move that another process may have made first: null when the table no longer allows it. */
async function moveIfStillLegal(move: () => Promise<Issue | null>): Promise<Issue | null> {
  try {
    return await move();
  } catch (err) {
    if (err instanceof IllegalIssueTransitionError) return null;
    throw err;
  }
}

/**
 * approved|scheduled → sending, then freeze the audience and enqueue its send jobs. Calling it
 * again for an issue already sending finishes an interrupted preparation (never re-freezes).
 */
export async function startIssueSend(
  deps: DeliveryDeps & { queue: SendQueue; batchSize?: number },
  issueId: number,
  actor = SYSTEM_ACTOR,
): Promise<PrepareResult | null> {
  try {
    await transitionIssue(deps, issueId, 'start-sending', actor, {
      fields: { sending_started_at: deps.now(), pause_reason: null, pause_reply: null },
    });
  } catch (err) {
    if (!(err instanceof IllegalIssueTransitionError && err.state === 'sending')) throw err;
    const prepared = await deps.db
      .selectFrom('issues')
      .select('prepared_at')
      .where('id', '=', issueId)
      .executeTakeFirstOrThrow();
    if (prepared.prepared_at) return null;
  }
  deps.log.info({ event: 'delivery.issue.sending', issueId }, 'issue sending');
  const result = await prepareOrFail(deps, issueId, deps.queue, deps.batchSize);
  await finishIfDone(deps, issueId); // an audience of nobody is finished at once
  return result;
}

/**
 * Prepares an issue; when its content cannot be rendered (retrying will not help) the issue fails
 * instead of being retried by every resume scan, and the error says so. Preparation holds the
 * issue's lock (`held`: the caller already has it), so a resume scan never prepares the same
 * issue at the same time.
 */
export async function prepareOrFail(
  deps: DeliveryDeps,
  issueId: number,
  queue: SendQueue,
  batchSize?: number,
  held?: HeldLock,
): Promise<PrepareResult> {
  const issueLock = held ?? (await lock(queue, prepareLockName(issueId)));
  try {
    return await prepareIssue(deps, issueId, { queue, ...(batchSize ? { batchSize } : {}) });
  } catch (err) {
    if (!(err instanceof ContentError)) throw err;
    await failIssue(deps, issueId, `content: ${err.message}`);
    throw new IssueFailedError(`Issue ${issueId} failed: ${err.message}`);
  } finally {
    if (!held) await issueLock.release();
  }
}

/**
 * sending|paused → failed, for good: rows not yet on the wire are skipped (reason "issue_failed");
 * rows on the wire keep the outcome their worker records.
 */
export async function failIssue(deps: ControlDeps, issueId: number, reason: string): Promise<boolean> {
  const why = reason.slice(0, 500);
  const moved = await moveIfStillLegal(() =>
    transitionIssue(deps, issueId, 'fail', SYSTEM_ACTOR, {
      // pause_reason holds why a send stopped, whether it may resume (paused) or not (failed).
      fields: { pause_reason: why, pause_reply: null },
      detail: { reason: why },
      also: async (trx) => ({ skipped: await skipWaitingRows(trx, issueId, 'issue_failed', deps.now()) }),
    }),
  );
  if (!moved) return false;
  deps.log.error({ event: 'delivery.issue.failed', issueId, reason }, 'issue failed');
  return true;
}

/** queued, claimed and deferred rows of an issue → skipped: they never reached the relay. */
async function skipWaitingRows(
  trx: Transaction<Database>,
  issueId: number,
  reason: string,
  at: Date,
): Promise<number> {
  const result = await trx
    .updateTable('deliveries')
    .set({ state: 'skipped', skip_reason: reason, lease_owner: null, lease_until: null, updated_at: at })
    .where('issue_id', '=', issueId)
    .where('state', 'in', ['queued', 'claimed', 'deferred'])
    .executeTakeFirst();
  return Number(result.numUpdatedRows);
}

/**
 * sending → paused, with why (a stable code, see src/delivery/reasons.ts) and, when the relay
 * caused it, the relay's own reply, kept on the issue for the CLI and the send page. False when the
 * issue is not sending (any more).
 */
export async function pauseIssue(
  deps: ControlDeps,
  issueId: number,
  reason = 'operator',
  actor = SYSTEM_ACTOR,
  reply: string | null = null,
): Promise<boolean> {
  const moved = await moveIfStillLegal(() =>
    transitionIssue(deps, issueId, 'pause', actor, {
      fields: { pause_reason: reason, pause_reply: reply?.slice(0, 500) ?? null },
      detail: { reason, ...(reply ? { reply } : {}) },
    }),
  );
  if (moved) {
    deps.log.warn(
      { event: 'delivery.issue.paused', issueId, reason, reply },
      `issue paused: ${describeReason('en', reason, reply)}`,
    );
  }
  return moved !== null;
}

/** paused → sending, and enqueue jobs for every row still waiting. */
export async function resumeIssue(
  deps: DeliveryDeps & { queue: SendQueue },
  issueId: number,
  actor = SYSTEM_ACTOR,
  /** Why a worker resumed it by itself (kept in the audit entry). */
  detail: Record<string, unknown> = {},
): Promise<boolean> {
  await transitionIssue(deps, issueId, 'resume', actor, {
    fields: { pause_reason: null, pause_reply: null },
    detail,
  });
  await enqueuePending(deps.db, issueId, deps.queue, deps.env.SEND_BATCH_SIZE, 'resume');
  await finishIfDone(deps, issueId);
  deps.log.info({ event: 'delivery.issue.resumed', issueId }, 'issue resumed');
  return true;
}

/**
 * sending → sent once no row can still change, and only after the audience was fully prepared.
 * Workers call it after every range: the check runs once without the lock (cheap, and almost
 * always "not yet"), and again under it before the move.
 */
export async function finishIfDone(deps: ControlDeps, issueId: number): Promise<boolean> {
  const done = (db: Db | Transaction<Database>) => noRowCanChange(db, issueId);
  if (!(await done(deps.db))) return false;
  const moved = await moveIfStillLegal(() =>
    transitionIssue(deps, issueId, 'finish', SYSTEM_ACTOR, {
      fields: { sent_at: deps.now() },
      onlyIf: (trx) => done(trx),
    }),
  );
  return moved !== null;
}

/**
 * The one way to cancel an issue, whatever its state: before sending it simply stops (and its
 * scheduled job, when `issuesQueue` is given, is removed); while sending or paused, every row not
 * yet on the wire becomes skipped (reason "cancelled") in the same transaction as the move, so
 * workers find nothing left to claim. Items editors accepted into it go back to the inbox.
 * Returns the cancelled issue and how many messages will not be sent.
 */
export async function cancelIssue(
  deps: ControlDeps & { issuesQueue?: Queue },
  issueId: number,
  actor = SYSTEM_ACTOR,
): Promise<{ issue: Issue; skipped: number }> {
  let skipped = 0;
  const issue = await transitionIssue(deps, issueId, 'cancel', actor, {
    fields: { scheduled_at: null },
    also: async (trx) => {
      skipped = await skipWaitingRows(trx, issueId, 'cancelled', deps.now());
      const released = await releaseItemsOfCancelled(trx, issueId, deps.now());
      return { skipped, ...(released ? { released } : {}) };
    },
  });
  // A stale job would find the issue cancelled and do nothing; removing it keeps the queue honest.
  if (deps.issuesQueue) await (await deps.issuesQueue.getJob(scheduleJobId(issueId)))?.remove();
  deps.log.warn({ event: 'delivery.issue.cancelled', issueId, skipped }, 'issue cancelled');
  return { issue, skipped };
}

/**
 * The operator's explicit choice to send again the rows whose fate is unknown (a crash while they
 * were on the wire): unknown → queued, and a sent issue sends again (the lifecycle's 'resend').
 * Nothing moves, and no audit entry is written, when there are no unknown rows.
 */
export async function resendUnknown(
  deps: DeliveryDeps & { queue: SendQueue },
  issueId: number,
  actor = SYSTEM_ACTOR,
): Promise<number> {
  let rows = 0;
  const moved = await transitionIssue(deps, issueId, 'resend', actor, {
    auditAs: 'resend-unknown',
    onlyIf: async (trx) =>
      !!(await trx
        .selectFrom('deliveries')
        .select('id')
        .where('issue_id', '=', issueId)
        .where('state', '=', 'unknown')
        .limit(1)
        .executeTakeFirst()),
    also: async (trx) => {
      const result = await trx
        .updateTable('deliveries')
        .set({ state: 'queued', error_class: 'resent_unknown', updated_at: deps.now() })
        .where('issue_id', '=', issueId)
        .where('state', '=', 'unknown')
        .executeTakeFirst();
      rows = Number(result.numUpdatedRows);
      return { rows };
    },
    fields: { sent_at: null },
  });
  if (moved && moved.state !== 'paused') {
    await enqueuePending(deps.db, issueId, deps.queue, deps.env.SEND_BATCH_SIZE, 'unknown');
  }
  deps.log.warn({ event: 'delivery.issue.resend_unknown', issueId, rows }, 'unknown rows queued again');
  return rows;
}

/**
 * Enqueues range jobs for an issue's queued and due deferred rows, by keyset (flat memory). The
 * ranges are fixed id buckets and deduplicated while their job waits or runs, so scans, resumes
 * and resend-unknown never enqueue the same work twice.
 */
export async function enqueuePending(
  db: Db,
  issueId: number,
  queue: SendQueue,
  batchSize: number,
  tag: string,
): Promise<number> {
  let last = 0;
  let total = 0;
  for (;;) {
    const { rows } = await sql<{ id: number }>`
      SELECT id FROM deliveries
      WHERE issue_id = ${issueId} AND id > ${last}
        AND (state = 'queued' OR state = 'claimed' OR (state = 'deferred' AND next_attempt_at <= now()))
      ORDER BY id LIMIT ${batchSize * 50}
    `.execute(db);
    if (!rows.length) break;
    const ids = rows.map((r) => Number(r.id));
    await enqueueRanges(queue, bucketRanges(issueId, ids, batchSize), {
      tag: `${tag}${Date.now().toString(36)}`,
      dedupe: true,
    });
    total += ids.length;
    last = ids[ids.length - 1] as number;
  }
  // Deferred rows waiting for their retry time get a delayed job each.
  const later = await db
    .selectFrom('deliveries')
    .select(['id', 'attempts', 'next_attempt_at'])
    .where('issue_id', '=', issueId)
    .where('state', '=', 'deferred')
    .where('next_attempt_at', '>', new Date())
    .execute();
  for (const r of later) {
    await enqueueRanges(queue, [{ issueId, fromId: Number(r.id), toId: Number(r.id) }], {
      tag: `retry${r.attempts}`,
      delayMs: Math.max(0, (r.next_attempt_at as Date).getTime() - Date.now()),
    });
  }
  return total + later.length;
}

export { type IssueStats, issueStats };
