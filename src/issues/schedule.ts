import type { Queue } from 'bullmq';
import { DateTime, IANAZone } from 'luxon';
import type { Issue } from '../db/schema.js';
import { getPublication } from '../publication/publication.js';
import { scheduleJobId, transitionIssue } from './lifecycle.js';
import { type EditorialDeps, EditorialInputError } from './store.js';

/**
 * A job on the issues queue, ids only (DESIGN.md invariant 2): `send` when a scheduled issue falls
 * due, `start` right after "send now" moved the issue to sending (the worker freezes the audience
 * and enqueues its batches).
 */
export interface ScheduledSendJob {
  issueId: number;
  action: 'send' | 'start';
  /** The revision that was scheduled; a job for an older revision does nothing. */
  revision: number;
}

/**
 * Reads "2025-08-01 09:00" (or "2025-08-01T09:00") as wall time in `tz`; an ISO string with its own
 * offset or Z keeps that offset.
 */
export function parseScheduleTime(at: string, tz: string): Date {
  if (!IANAZone.isValidZone(tz))
    throw new EditorialInputError(`"${tz}" is not an IANA time zone such as Asia/Shanghai`, 'time-zone', {
      tz,
    });
  const text = at.trim();
  const hasOffset = /(Z|[+-]\d{2}:?\d{2})$/i.test(text);
  let dt = DateTime.fromISO(text.replace(' ', 'T'), { zone: tz, setZone: hasOffset });
  if (!dt.isValid) dt = DateTime.fromFormat(text, 'yyyy-MM-dd HH:mm', { zone: tz });
  if (!dt.isValid)
    throw new EditorialInputError(`"${at}" is not a time like "2025-08-01 09:00"`, 'time-format', { at });
  return dt.toJSDate();
}

async function resolveZone(deps: EditorialDeps, tz: string | undefined): Promise<string> {
  if (tz) return tz;
  return (await getPublication(deps.db))?.time_zone ?? deps.env.DEFAULT_TIME_ZONE;
}

async function replaceJob(
  queue: Queue,
  issue: Issue,
  when: Date,
  now: Date,
  action: ScheduledSendJob['action'] = 'send',
): Promise<void> {
  const jobId = scheduleJobId(issue.id);
  // BullMQ ignores an add whose jobId exists, so the old delayed job goes first.
  await (await queue.getJob(jobId))?.remove();
  const data: ScheduledSendJob = { issueId: issue.id, action, revision: issue.revision };
  await queue.add('send', data, {
    jobId,
    delay: Math.max(0, when.getTime() - now.getTime()),
    removeOnComplete: true,
    removeOnFail: 100,
  });
}

async function setSchedule(
  deps: EditorialDeps & { queue: Queue },
  issueId: number,
  when: { at: string; tz?: string },
  action: 'schedule' | 'reschedule',
  actor: string,
): Promise<Issue> {
  const tz = await resolveZone(deps, when.tz);
  const at = parseScheduleTime(when.at, tz);
  const now = deps.now();
  if (at.getTime() < now.getTime() - 60_000) {
    throw new EditorialInputError(`${when.at} (${tz}) is in the past; choose a later time`, 'time-past', {
      at: when.at,
      tz,
    });
  }
  // The job is replaced inside the move: if Redis refuses it, the issue stays as it was, since a
  // scheduled issue without its job would never go out.
  const issue = await transitionIssue(deps, issueId, action, actor, {
    fields: { scheduled_at: at, schedule_time_zone: tz, hold_reason: null },
    detail: { at: at.toISOString(), tz },
    also: async (_trx, locked) => {
      await replaceJob(deps.queue, locked, at, now);
      return undefined;
    },
  });
  deps.log.info({ event: `issue.${action}d`, issueId, at: at.toISOString(), tz }, `issue ${action}d`);
  return issue;
}

/**
 * Rebuilds lost scheduled jobs from the ledger (Redis is only the work queue): every scheduled,
 * unheld issue gets its delayed job back if it is missing. Run at worker start. Overdue ones fire
 * at once and meet the late-schedule guard.
 */
export async function resumeScheduledIssues(deps: EditorialDeps & { queue: Queue }): Promise<number[]> {
  const rows = await deps.db
    .selectFrom('issues')
    .selectAll()
    .where('state', '=', 'scheduled')
    .where('hold_reason', 'is', null)
    .where('scheduled_at', 'is not', null)
    .execute();
  const restored: number[] = [];
  for (const issue of rows) {
    if (await deps.queue.getJob(scheduleJobId(issue.id))) continue;
    await replaceJob(deps.queue, issue, issue.scheduled_at as Date, deps.now());
    restored.push(issue.id);
  }
  if (restored.length) {
    deps.log.warn(
      { event: 'issue.schedule.restored', issueIds: restored },
      'scheduled jobs rebuilt from the ledger',
    );
  }
  return restored;
}

/** Schedules an approved issue: a delayed job on the issues queue, one per issue (deterministic id). */
export function scheduleIssue(
  deps: EditorialDeps & { queue: Queue },
  issueId: number,
  when: { at: string; tz?: string },
  actor = 'system',
): Promise<Issue> {
  return setSchedule(deps, issueId, when, 'schedule', actor);
}

/** Moves a scheduled (or held) issue to a new time; the delayed job is replaced. */
export function rescheduleIssue(
  deps: EditorialDeps & { queue: Queue },
  issueId: number,
  when: { at: string; tz?: string },
  actor = 'system',
): Promise<Issue> {
  return setSchedule(deps, issueId, when, 'reschedule', actor);
}

/**
 * "Send now" for an approved or scheduled issue: it is sending from this moment (the editor's
 * start in the audit log, `now: true`), and a job with no delay asks the issues worker to freeze
 * the audience and enqueue the batches, so the page shows the send and its counts at once. If
 * the job cannot be queued the issue stays sending, and the delivery resume scan prepares it.
 */
export async function sendIssueNow(
  deps: EditorialDeps & { queue: Queue },
  issueId: number,
  actor = 'system',
): Promise<Issue> {
  const now = deps.now();
  const issue = await transitionIssue(deps, issueId, 'start-sending', actor, {
    fields: {
      sending_started_at: now,
      scheduled_at: null,
      schedule_time_zone: null,
      hold_reason: null,
      pause_reason: null,
      pause_reply: null,
    },
    detail: { now: true },
  });
  try {
    await replaceJob(deps.queue, issue, now, now, 'start');
  } catch (err) {
    deps.log.warn(
      { event: 'issue.send_now.enqueue_failed', issueId, err: (err as Error).message },
      'send-now job not queued; the resume scan prepares the issue',
    );
  }
  return issue;
}

/** Takes a scheduled issue off the schedule (back to approved) and removes its job. */
export async function unscheduleIssue(
  deps: EditorialDeps & { queue: Queue },
  issueId: number,
  actor = 'system',
): Promise<Issue> {
  const issue = await transitionIssue(deps, issueId, 'unschedule', actor, {
    fields: { scheduled_at: null, schedule_time_zone: null, hold_reason: null },
  });
  await (await deps.queue.getJob(scheduleJobId(issueId)))?.remove();
  return issue;
}

export type DueDecision =
  | { kind: 'send' }
  | { kind: 'skip'; reason: string }
  | { kind: 'hold'; reason: string };

/**
 * What to do when a scheduled job fires (pure). A send whose time passed longer ago than the grace
 * period (e.g. the workers were down) is held for an editor rather than sent late without notice.
 */
export function decideDueIssue(
  issue: Pick<Issue, 'state' | 'revision' | 'scheduled_at' | 'hold_reason'>,
  job: Pick<ScheduledSendJob, 'revision'>,
  now: Date,
  graceHours: number,
): DueDecision {
  if (issue.state !== 'scheduled') return { kind: 'skip', reason: `issue is ${issue.state}, not scheduled` };
  if (issue.revision !== job.revision) {
    return { kind: 'skip', reason: `job is for revision ${job.revision}, issue is at ${issue.revision}` };
  }
  if (issue.hold_reason) return { kind: 'skip', reason: 'issue is held' };
  if (!issue.scheduled_at) return { kind: 'skip', reason: 'issue has no scheduled time' };
  const lateMs = now.getTime() - issue.scheduled_at.getTime();
  if (lateMs < -60_000) return { kind: 'skip', reason: 'not due yet (rescheduled later)' };
  if (lateMs > graceHours * 3_600_000) {
    const hours = Math.round((lateMs / 3_600_000) * 10) / 10;
    return {
      kind: 'hold',
      reason: `held: the scheduled time ${issue.scheduled_at.toISOString()} passed ${hours} h ago, more than the ${graceHours} h grace period; reschedule or send it explicitly`,
    };
  }
  return { kind: 'send' };
}
