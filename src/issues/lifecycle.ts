import type { Queue } from 'bullmq';
import type { Issue } from '../db/schema.js';
import type { ArchiveRequests } from '../snapshots/request.js';
import { type Checklist, checkIssue, type RenderFn } from './check.js';
import { type IssueAction, nextIssueState } from './state-machine.js';
import { type EditorialDeps, EditorialInputError, lockIssue, writeAudit } from './store.js';

/** Moves an issue by a lifecycle action (no content change, so the revision stays). */
export async function transitionIssue(
  deps: EditorialDeps,
  issueId: number,
  action: IssueAction,
  actor: string,
  extra: { fields?: Record<string, unknown>; detail?: Record<string, unknown> } = {},
): Promise<Issue> {
  return deps.db.transaction().execute(async (trx) => {
    const issue = await lockIssue(trx, issueId);
    const state = nextIssueState(issue.state, action);
    const at = deps.now();
    const updated = await trx
      .updateTable('issues')
      .set({ ...(extra.fields ?? {}), state, updated_at: at })
      .where('id', '=', issueId)
      .returningAll()
      .executeTakeFirstOrThrow();
    await writeAudit(trx, {
      issueId,
      actor,
      action,
      detail: { from: issue.state, to: state, revision: issue.revision, ...(extra.detail ?? {}) },
      at,
    });
    deps.log.info({ event: `issue.${action}`, issueId, from: issue.state, to: state }, `issue ${action}`);
    return updated;
  });
}

export class ChecklistFailedError extends EditorialInputError {
  override name = 'ChecklistFailedError';
  constructor(readonly checklist: Checklist) {
    const failed = checklist.checks.filter((c) => c.status === 'fail');
    super(
      `Issue ${checklist.issueId} cannot be approved: ${failed.map((c) => `${c.id} (${c.message})`).join('; ')}`,
    );
  }
}

/**
 * Approves a draft after running the checklist (failures block unless forced). What is approved is
 * this revision; any later edit returns the issue to draft.
 */
export async function approveIssue(
  deps: EditorialDeps & { render?: RenderFn; archive?: ArchiveRequests },
  issueId: number,
  actor: string,
  opts: { force?: boolean } = {},
): Promise<Issue> {
  const checklist = await checkIssue(deps, issueId);
  if (!checklist.ok && !opts.force) throw new ChecklistFailedError(checklist);
  const approved = await transitionIssue(deps, issueId, 'approve', actor, {
    fields: { approved_at: deps.now(), approved_by: actor, hold_reason: null },
    detail: {
      checklist: checklist.checks.filter((c) => c.status !== 'pass').map((c) => c.id),
      forced: !!opts.force,
    },
  });
  // The approval stands even when the request cannot be queued: the archive sweep catches up.
  await deps.archive?.request(issueId, approved.revision).catch((err: unknown) => {
    deps.log.warn(
      { event: 'archive.request.failed', issueId, err: err instanceof Error ? err.message : String(err) },
      'could not ask the archive worker to snapshot the sources now; the periodic sweep will',
    );
  });
  return approved;
}

export function scheduleJobId(issueId: number): string {
  return `issue-${issueId}-send`;
}

/** Cancels an issue that has not started sending, removing its scheduled job if any. */
export async function cancelIssue(
  deps: EditorialDeps & { queue?: Queue },
  issueId: number,
  actor: string,
): Promise<Issue> {
  const issue = await transitionIssue(deps, issueId, 'cancel', actor, { fields: { scheduled_at: null } });
  if (deps.queue) await (await deps.queue.getJob(scheduleJobId(issueId)))?.remove();
  return issue;
}
