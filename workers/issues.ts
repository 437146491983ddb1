import { type Job, Queue, Worker } from 'bullmq';
import type { Env } from '../src/config/env.js';
import type { Db } from '../src/db/schema.js';
import { decideDueIssue, resumeScheduledIssues, type ScheduledSendJob } from '../src/issues/schedule.js';
import { writeAudit } from '../src/issues/store.js';
import type { Logger } from '../src/log.js';
import { QUEUES } from '../src/queue/names.js';
import { createRedis } from '../src/queue/redis.js';

export interface IssueWorkerOptions {
  db: Db;
  log: Logger;
  env: Env;
  now: () => Date;
  connection: { url: string; prefix: string };
  /** Called when a scheduled issue is due; the lead wires it to the delivery stage. */
  onDue: (issueId: number) => Promise<void>;
  concurrency?: number;
  /** Rebuild scheduled jobs lost from Redis before processing (default true). */
  resumeOnStart?: boolean;
}

/**
 * Processes scheduled sends on the issues queue. The job carries only the issue id and the revision
 * it was scheduled at; the ledger decides (state, revision, late-schedule grace), so a stale,
 * duplicated or late job does no harm.
 */
export function createIssueWorker(opts: IssueWorkerOptions): {
  worker: Worker;
  /** Settles when the start-up resume scan is done (its failure is logged, not thrown). */
  resumed: Promise<number[]>;
  close(): Promise<void>;
} {
  const { db, log, env, now } = opts;
  const connection = createRedis(opts.connection.url);
  const resumed =
    opts.resumeOnStart === false
      ? Promise.resolve([])
      : (async () => {
          const queue = new Queue(QUEUES.issues, {
            connection: createRedis(opts.connection.url),
            prefix: opts.connection.prefix,
          });
          try {
            return await resumeScheduledIssues({ db, log, env, now, queue });
          } catch (err) {
            log.error(
              { event: 'issue.schedule.resume_failed', err: (err as Error).message },
              'resume scan failed',
            );
            return [];
          } finally {
            await queue.close();
          }
        })();

  const processJob = async (job: Job<ScheduledSendJob>) => {
    const { issueId } = job.data;
    if (job.data.action === 'start') {
      // "Send now" already moved the issue to sending; only an unprepared one needs the work.
      const issue = await db
        .selectFrom('issues')
        .select(['state', 'prepared_at'])
        .where('id', '=', issueId)
        .executeTakeFirst();
      if (issue?.state !== 'sending' || issue.prepared_at) return { skipped: 'not waiting to start' };
      log.info({ event: 'issue.start', issueId }, 'send-now issue starting');
      await opts.onDue(issueId);
      return { started: true };
    }
    if (job.data.action !== 'send') {
      log.warn({ event: 'issue.job.unknown', jobId: job.id, action: job.data.action }, 'unknown issue job');
      return { skipped: 'unknown action' };
    }
    // FOR SHARE waits for a move of the issue still in flight: (re)scheduling queues this job
    // inside its transaction, and a "send now" job may fire before that transaction commits.
    const issue = await db
      .selectFrom('issues')
      .selectAll()
      .where('id', '=', issueId)
      .forShare()
      .executeTakeFirst();
    if (!issue) return { skipped: 'issue deleted' };
    const at = now();
    const decision = decideDueIssue(issue, job.data, at, env.SCHEDULE_GRACE_HOURS);
    if (decision.kind === 'skip') {
      log.info({ event: 'issue.due.skipped', issueId, reason: decision.reason }, 'scheduled job skipped');
      return { skipped: decision.reason };
    }
    if (decision.kind === 'hold') {
      // Conditional on state and revision, so a concurrent reschedule wins; the hold and its audit
      // entry are written together.
      await db.transaction().execute(async (trx) => {
        const held = await trx
          .updateTable('issues')
          .set({ hold_reason: decision.reason, updated_at: at })
          .where('id', '=', issueId)
          .where('state', '=', 'scheduled')
          .where('revision', '=', job.data.revision)
          .executeTakeFirst();
        if (Number(held.numUpdatedRows) > 0) {
          await writeAudit(trx, {
            issueId,
            actor: 'scheduler',
            action: 'hold',
            detail: { reason: decision.reason },
            at,
          });
        }
      });
      log.warn({ event: 'issue.due.held', issueId, reason: decision.reason }, 'scheduled issue held');
      return { held: decision.reason };
    }
    log.info({ event: 'issue.due', issueId, revision: issue.revision }, 'scheduled issue is due');
    await opts.onDue(issueId);
    return { due: true };
  };

  const worker = new Worker<ScheduledSendJob>(QUEUES.issues, processJob, {
    connection,
    prefix: opts.connection.prefix,
    concurrency: opts.concurrency ?? 2,
  });
  worker.on('failed', (job, err) => {
    log.error({ event: 'issue.job.failed', jobId: job?.id, err: err.message }, 'issue job failed');
  });
  return {
    worker,
    resumed,
    async close() {
      await resumed;
      await worker.close();
      connection.disconnect();
    },
  };
}
