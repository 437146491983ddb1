import { sql } from 'kysely';
import type { Db, IssueState } from '../db/schema.js';
import type { IssueAction } from '../issues/state-machine.js';
import { type StageProblem, writeAudit } from '../issues/store.js';
import { ContentError, type DeliveryDeps } from './deps.js';
import { moveIssue } from './issue-state.js';
import { finishIfDone, type IssueStats, issueStats } from './ledger.js';
import { type HeldLock, lock, prepareLockName } from './locks.js';
import { type PrepareResult, prepareIssue } from './prepare.js';
import { bucketRanges, enqueueRanges, type SendQueue } from './queue.js';
import { describeReason } from './stop-reasons.js';

/**
 * An operator asked for something the issue's state does not allow; the message says why, and
 * `state` and `action` let a page say it in the operator's language.
 */
export class IssueStateError extends Error {
  override name = 'IssueStateError';
  readonly userFacing = true;
  constructor(
    message: string,
    readonly state?: IssueState,
    readonly action?: IssueAction,
  ) {
    super(message);
  }
  get problem(): StageProblem | undefined {
    return this.state && this.action
      ? { code: 'illegal-transition', params: { state: this.state, action: this.action } }
      : undefined;
  }
}

/** Who moved an issue when no person did: the scheduler, a worker's failure guard. */
export const SYSTEM_ACTOR = 'system';

type ControlDeps = Pick<DeliveryDeps, 'db' | 'log' | 'now'>;

/**
 * Every delivery move of an issue goes into the issue's audit log beside the editorial ones, so
 * "who paused this?" has an answer whether it was an editor, the CLI or a worker's failure guard.
 */
function audit(
  deps: ControlDeps,
  issueId: number,
  actor: string,
  action: string,
  detail: Record<string, unknown> = {},
): Promise<void> {
  return writeAudit(deps.db, { issueId, actor, action, detail, at: deps.now() });
}

async function currentState(db: Db, issueId: number): Promise<IssueState> {
  const row = await db.selectFrom('issues').select('state').where('id', '=', issueId).executeTakeFirst();
  if (!row) throw new IssueStateError(`Issue ${issueId} does not exist.`);
  return row.state;
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
  const moved = await moveIssue(deps.db, issueId, 'start-sending', {
    sending_started_at: deps.now(),
    pause_reason: null,
    pause_reply: null,
  });
  if (moved) await audit(deps, issueId, actor, 'start-sending');
  else {
    const state = await currentState(deps.db, issueId);
    if (state !== 'sending') {
      throw new IssueStateError(
        `Issue ${issueId} is ${state}; only an approved or scheduled issue can be sent.`,
        state,
        'start-sending',
      );
    }
    const prepared = await deps.db
      .selectFrom('issues')
      .select('prepared_at')
      .where('id', '=', issueId)
      .executeTakeFirstOrThrow();
    if (prepared.prepared_at) return null;
  }
  deps.log.info({ event: 'delivery.issue.sending', issueId }, 'issue sending');
  const result = await prepareOrFail(deps, issueId, deps.queue, deps.batchSize);
  await finishIfDone(deps.db, issueId); // an audience of nobody is finished at once
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
    throw new IssueStateError(`Issue ${issueId} failed: ${err.message}`);
  } finally {
    if (!held) await issueLock.release();
  }
}

/**
 * sending|paused → failed, for good: rows not yet on the wire are skipped (reason "issue_failed");
 * rows on the wire keep the outcome their worker records.
 */
export async function failIssue(deps: ControlDeps, issueId: number, reason: string): Promise<boolean> {
  // pause_reason holds why a send stopped, whether it may resume (paused) or not (failed).
  const moved = await moveIssue(deps.db, issueId, 'fail', {
    pause_reason: reason.slice(0, 500),
    pause_reply: null,
  });
  if (!moved) return false;
  const skipped = await skipWaitingRows(deps.db, issueId, 'issue_failed');
  await audit(deps, issueId, SYSTEM_ACTOR, 'fail', { reason: reason.slice(0, 500), skipped });
  deps.log.error({ event: 'delivery.issue.failed', issueId, reason }, 'issue failed');
  return true;
}

/** queued, claimed and deferred rows of an issue → skipped: they never reached the relay. */
async function skipWaitingRows(db: Db, issueId: number, reason: string): Promise<number> {
  const result = await db
    .updateTable('deliveries')
    .set({
      state: 'skipped',
      skip_reason: reason,
      lease_owner: null,
      lease_until: null,
      updated_at: new Date(),
    })
    .where('issue_id', '=', issueId)
    .where('state', 'in', ['queued', 'claimed', 'deferred'])
    .executeTakeFirst();
  return Number(result.numUpdatedRows);
}

/**
 * sending → paused, with why (a stable code, see src/delivery/reasons.ts) and, when the relay
 * caused it, the relay's own reply, kept on the issue for the CLI and the send page.
 */
export async function pauseIssue(
  deps: ControlDeps,
  issueId: number,
  reason = 'operator',
  actor = SYSTEM_ACTOR,
  reply: string | null = null,
): Promise<boolean> {
  const moved = await moveIssue(deps.db, issueId, 'pause', {
    pause_reason: reason,
    pause_reply: reply?.slice(0, 500) ?? null,
  });
  if (moved) {
    await audit(deps, issueId, actor, 'pause', { reason, ...(reply ? { reply } : {}) });
    deps.log.warn(
      { event: 'delivery.issue.paused', issueId, reason, reply },
      `issue paused: ${describeReason('en', reason, reply)}`,
    );
  }
  return moved;
}

/** paused → sending, and enqueue jobs for every row still waiting. */
export async function resumeIssue(
  deps: DeliveryDeps & { queue: SendQueue },
  issueId: number,
  actor = SYSTEM_ACTOR,
  /** Why a worker resumed it by itself (kept in the audit entry). */
  detail: Record<string, unknown> = {},
): Promise<boolean> {
  const moved = await moveIssue(deps.db, issueId, 'resume', { pause_reason: null, pause_reply: null });
  if (!moved) {
    const state = await currentState(deps.db, issueId);
    throw new IssueStateError(
      `Issue ${issueId} is ${state}; only a paused issue can be resumed.`,
      state,
      'resume',
    );
  }
  await audit(deps, issueId, actor, 'resume', detail);
  await enqueuePending(deps.db, issueId, deps.queue, deps.env.SEND_BATCH_SIZE, 'resume');
  await finishIfDone(deps.db, issueId);
  deps.log.info({ event: 'delivery.issue.resumed', issueId }, 'issue resumed');
  return true;
}

/**
 * Stops an issue for good: rows not yet on the wire become skipped (reason "cancelled"). Editorial's
 * lifecycle cancels only an issue that is not sending, so a sending issue is paused first (workers
 * stop taking rows at once) and then cancelled.
 */
export async function cancelIssue(deps: ControlDeps, issueId: number, actor = SYSTEM_ACTOR): Promise<number> {
  await moveIssue(deps.db, issueId, 'pause', { pause_reason: 'cancelling' });
  const moved = await moveIssue(deps.db, issueId, 'cancel');
  if (!moved) {
    const state = await currentState(deps.db, issueId);
    throw new IssueStateError(`Issue ${issueId} is ${state}; it cannot be cancelled.`, state, 'cancel');
  }
  const skipped = await skipWaitingRows(deps.db, issueId, 'cancelled');
  await audit(deps, issueId, actor, 'cancel', { skipped });
  deps.log.warn({ event: 'delivery.issue.cancelled', issueId }, 'issue cancelled');
  return skipped;
}

/**
 * The operator's explicit choice to send again the rows whose fate is unknown (a crash while they
 * were on the wire): unknown → queued, and the issue sends again.
 */
export async function resendUnknown(
  deps: DeliveryDeps & { queue: SendQueue },
  issueId: number,
  actor = SYSTEM_ACTOR,
): Promise<number> {
  const state = await currentState(deps.db, issueId);
  if (!['sending', 'sent', 'paused'].includes(state)) {
    throw new IssueStateError(
      `Issue ${issueId} is ${state}; unknown rows can be re-sent only for a sending, paused or sent issue.`,
      state,
      'resend',
    );
  }
  const result = await deps.db
    .updateTable('deliveries')
    .set({ state: 'queued', error_class: 'resent_unknown', updated_at: new Date() })
    .where('issue_id', '=', issueId)
    .where('state', '=', 'unknown')
    .executeTakeFirst();
  const n = Number(result.numUpdatedRows);
  if (n > 0) await audit(deps, issueId, actor, 'resend-unknown', { rows: n });
  // A sent issue sends again the rows the operator chose to re-send.
  if (n > 0 && state === 'sent') await moveIssue(deps.db, issueId, 'resend', { sent_at: null });
  if (n > 0 && state !== 'paused')
    await enqueuePending(deps.db, issueId, deps.queue, deps.env.SEND_BATCH_SIZE, 'unknown');
  deps.log.warn({ event: 'delivery.issue.resend_unknown', issueId, rows: n }, 'unknown rows queued again');
  return n;
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
