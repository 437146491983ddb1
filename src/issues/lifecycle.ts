import type { Transaction } from 'kysely';
import type { Database, Issue, IssueUpdate } from '../db/schema.js';
import type { ArchiveRequests } from '../snapshots/request.js';
import { type Checklist, checkIssue, type RenderFn } from './check.js';
import { type IssueAction, nextIssueState } from './state-machine.js';
import { type EditorialDeps, EditorialInputError, lockIssue, writeTransition } from './store.js';

type Executor = Transaction<Database>;

export interface TransitionOptions {
  /** Columns written with the state. */
  fields?: IssueUpdate;
  /** Kept in the audit entry beside `from`, `to` and the revision. */
  detail?: Record<string, unknown>;
  /** The audit entry's name when it is not the action's (delivery's 'resend-unknown'). */
  auditAs?: string;
  /**
   * Writes that belong to the same move (rows skipped, a job queued), run under the lock once the
   * move is known to be legal and before the state changes; a failure rolls the move back. What it
   * returns joins the audit detail.
   */
  also?: (trx: Executor, issue: Issue) => Promise<Record<string, unknown> | undefined>;
}

/** Checked under the lock after the table allows the move: false leaves the issue as it is. */
export type TransitionGuard = (trx: Executor, issue: Issue) => Promise<boolean>;

/**
 * Moves an issue by a lifecycle action: the one way an issue's state changes, for editorial and
 * delivery alike. In one transaction: lock the row, read the lifecycle table (an
 * IllegalIssueTransitionError naming the state and the action when it refuses), run the move's
 * other writes, write the state and the audit entry. Concurrent moves of one issue queue on the
 * row lock, so the second sees the first's result. With `onlyIf`, returns null when the guard says
 * not now (nothing written).
 */
export async function transitionIssue(
  deps: TransitionDeps,
  issueId: number,
  action: IssueAction,
  actor: string,
  extra: TransitionOptions & { onlyIf: TransitionGuard },
): Promise<Issue | null>;
export async function transitionIssue(
  deps: TransitionDeps,
  issueId: number,
  action: IssueAction,
  actor: string,
  extra?: TransitionOptions,
): Promise<Issue>;
export async function transitionIssue(
  deps: TransitionDeps,
  issueId: number,
  action: IssueAction,
  actor: string,
  extra: TransitionOptions & { onlyIf?: TransitionGuard } = {},
): Promise<Issue | null> {
  const moved = await deps.db.transaction().execute(async (trx) => {
    const issue = await lockIssue(trx, issueId);
    nextIssueState(issue.state, action); // refuse before any other write
    if (extra.onlyIf && !(await extra.onlyIf(trx, issue))) return null;
    const more = extra.also ? await extra.also(trx, issue) : undefined;
    const updated = await writeTransition(trx, issue, {
      action,
      actor,
      at: deps.now(),
      ...(extra.auditAs ? { auditAs: extra.auditAs } : {}),
      ...(extra.fields ? { fields: extra.fields } : {}),
      detail: { ...(extra.detail ?? {}), ...(more ?? {}) },
    });
    return { from: issue.state, updated };
  });
  if (!moved) return null;
  deps.log.info(
    { event: `issue.${action}`, issueId, from: moved.from, to: moved.updated.state },
    `issue ${action}`,
  );
  return moved.updated;
}

/** What a lifecycle move needs: the database, a logger and the clock. */
export type TransitionDeps = Pick<EditorialDeps, 'db' | 'log' | 'now'>;

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
