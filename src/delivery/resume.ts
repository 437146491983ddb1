import { hostname } from 'node:os';
import { sql } from 'kysely';
import { enqueuePending, finishIfDone, IssueFailedError, prepareOrFail } from './control.js';
import type { DeliveryDeps } from './deps.js';
import { type HeldLock, prepareLockName, RESUME_SCAN_LOCK, tryLock } from './locks.js';
import type { SendQueue } from './queue.js';

/** Lease owners are `<host>/<pid>/<random>`, so a restarted worker can tell a dead local owner at once. */
export function leaseOwnerId(random: string): string {
  return `${hostname()}/${process.pid}/${random}`;
}

function deadLocalOwner(owner: string): boolean {
  const [host, pid] = owner.split('/');
  if (host !== hostname()) return false;
  const n = Number(pid);
  if (!Number.isInteger(n) || n === process.pid) return false;
  try {
    process.kill(n, 0);
    return false;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ESRCH';
  }
}

export interface ResumeScanResult {
  issues: number;
  released: number;
  unknown: number;
  enqueued: number;
  finished: number[];
  /** Another worker was scanning: this one did nothing. */
  skipped?: boolean;
}

/**
 * Rebuilds the work of every sending issue from the ledger (invariant 1), so losing Redis or a
 * worker loses nothing: claimed rows whose lease ran out (or whose owner died) go back to queued,
 * since they never reached the relay; sending rows in that case become unknown (they may have);
 * rows still waiting get jobs again when they were released or the queue has none; an issue
 * whose preparation was interrupted is prepared to the end.
 */
export async function resumeScan(
  deps: DeliveryDeps,
  opts: { queue: SendQueue; force?: boolean },
): Promise<ResumeScanResult> {
  const result: ResumeScanResult = { issues: 0, released: 0, unknown: 0, enqueued: 0, finished: [] };
  // One scanner at a time across every worker: two would enqueue the same work.
  const scanLock = await tryLock(opts.queue, RESUME_SCAN_LOCK, 5 * 60_000);
  if (!scanLock) return { ...result, skipped: true };
  try {
    return await scanIssues(deps, opts, result);
  } finally {
    await scanLock.release();
  }
}

async function scanIssues(
  deps: DeliveryDeps,
  opts: { queue: SendQueue; force?: boolean },
  result: ResumeScanResult,
): Promise<ResumeScanResult> {
  const { db, log } = deps;
  const issues = await db
    .selectFrom('issues')
    .select(['id', 'prepared_at'])
    .where('state', '=', 'sending')
    .execute();
  if (!issues.length) return result;
  const owners = await sql<{ lease_owner: string }>`
    SELECT DISTINCT lease_owner FROM deliveries WHERE state IN ('claimed', 'sending') AND lease_owner IS NOT NULL
  `.execute(db);
  const dead = owners.rows.map((r) => r.lease_owner).filter(deadLocalOwner);
  const counts = await opts.queue.getJobCounts('waiting', 'active', 'delayed', 'prioritized');
  const queueIdle = Object.values(counts).every((n) => n === 0);

  for (const issue of issues) {
    // An issue being prepared is its preparer's: its rows are still being frozen and enqueued.
    const issueLock = await tryLock(opts.queue, prepareLockName(issue.id));
    if (!issueLock) continue;
    try {
      await scanIssue(deps, opts, issue, dead, queueIdle, result, issueLock);
    } catch (err) {
      // An issue whose content cannot be rendered has failed; the scan goes on with the others.
      if (!(err instanceof IssueFailedError)) throw err;
    } finally {
      await issueLock.release();
    }
  }
  if (result.released || result.unknown || result.enqueued || result.finished.length) {
    log.info({ event: 'delivery.resume_scan', ...result }, 'resume scan rebuilt work from the ledger');
  }
  return result;
}

async function scanIssue(
  deps: DeliveryDeps,
  opts: { queue: SendQueue; force?: boolean },
  issue: { id: number; prepared_at: Date | null },
  dead: string[],
  queueIdle: boolean,
  result: ResumeScanResult,
  held: HeldLock,
): Promise<void> {
  const { db, env } = deps;
  {
    result.issues++;
    if (!issue.prepared_at) await prepareOrFail(deps, issue.id, opts.queue, undefined, held);
    const released = await sql`
      UPDATE deliveries SET state = 'queued', lease_owner = NULL, lease_until = NULL, updated_at = now()
      WHERE issue_id = ${issue.id} AND state = 'claimed'
        AND (lease_until < now() OR lease_owner = ANY(${dead}::text[]))
    `.execute(db);
    const unknown = await sql`
      UPDATE deliveries SET state = 'unknown', error_class = 'crash_while_sending', lease_owner = NULL,
        lease_until = NULL, updated_at = now()
      WHERE issue_id = ${issue.id} AND state = 'sending'
        AND (lease_until < now() OR lease_owner = ANY(${dead}::text[]))
    `.execute(db);
    const nReleased = Number(released.numAffectedRows ?? 0);
    const nUnknown = Number(unknown.numAffectedRows ?? 0);
    result.released += nReleased;
    result.unknown += nUnknown;
    // Rows of a dead or expired worker may belong to ranges whose jobs are gone or stalled.
    if (opts.force || nReleased > 0 || nUnknown > 0 || queueIdle) {
      result.enqueued += await enqueuePending(db, issue.id, opts.queue, env.SEND_BATCH_SIZE, 'scan');
    }
    if (await finishIfDone(deps, issue.id)) result.finished.push(issue.id);
  }
}
