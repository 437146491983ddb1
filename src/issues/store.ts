import type { Transaction } from 'kysely';
import type { Env } from '../config/env.js';
import type { Database, Db, Issue, IssueUpdate } from '../db/schema.js';
import type { Logger } from '../log.js';
import { ProblemError, type StageProblem } from '../problem.js';
import { type IssueAction, nextIssueState } from './state-machine.js';

/** What editorial functions need; the clock is injected so scheduling rules are testable. */
export interface EditorialDeps {
  db: Db;
  log: Logger;
  env: Env;
  now: () => Date;
}

export type Executor = Db | Transaction<Database>;

export type { StageProblem } from '../problem.js';

export class IssueNotFoundError extends Error {
  override name = 'IssueNotFoundError';
  readonly userFacing = true;
  constructor(readonly issueId: number) {
    super(`No issue with id ${issueId}`);
  }
  get problem(): StageProblem {
    return { code: 'issue-not-found', params: { id: this.issueId } };
  }
}

/**
 * What an editor got wrong, by a stable code, so each page can say it in the editor's language; the
 * English message stays for the CLI, the JSON API and logs.
 */
export type EditorialErrorCode =
  | 'time-zone'
  | 'time-format'
  | 'time-past'
  | 'source-not-url'
  | 'source-not-http'
  | 'no-section'
  | 'no-item'
  | 'item-title'
  | 'issue-title'
  | 'nothing-to-change'
  | 'period-invalid'
  | 'period-has-issue'
  | 'test-no-address'
  | 'test-bad-address'
  | 'test-too-many'
  | 'form-incomplete'
  | 'move-item-where'
  | 'move-section-where'
  | 'legal-jurisdiction'
  | 'legal-kind'
  | 'legal-date'
  | 'snapshot-missing'
  | 'snapshot-failed'
  | 'snapshot-not-pdf'
  | 'snapshot-too-large'
  | 'import-period-taken'
  | 'import-replace-not-draft';

export class EditorialInputError extends ProblemError<EditorialErrorCode> {
  override name = 'EditorialInputError';
}

export async function getIssue(db: Executor, issueId: number): Promise<Issue> {
  const issue = await db.selectFrom('issues').selectAll().where('id', '=', issueId).executeTakeFirst();
  if (!issue) throw new IssueNotFoundError(issueId);
  return issue;
}

/** Locks the issue row for the rest of the transaction, so concurrent edits queue up. */
export async function lockIssue(trx: Transaction<Database>, issueId: number): Promise<Issue> {
  const issue = await trx
    .selectFrom('issues')
    .selectAll()
    .where('id', '=', issueId)
    .forUpdate()
    .executeTakeFirst();
  if (!issue) throw new IssueNotFoundError(issueId);
  return issue;
}

export async function writeAudit(
  db: Executor,
  entry: { issueId: number; actor: string; action: string; detail?: Record<string, unknown>; at: Date },
): Promise<void> {
  await db
    .insertInto('issue_audit')
    .values({
      issue_id: entry.issueId,
      actor: entry.actor,
      action: entry.action,
      detail: JSON.stringify(entry.detail ?? {}),
      at: entry.at,
    })
    .execute();
}

/** One lifecycle move as the issue row and its audit entry record it. */
export interface IssueMove {
  action: IssueAction;
  actor: string;
  at: Date;
  /** The audit entry's name when it is not the action's own ('add-item' for an edit). */
  auditAs?: string;
  /** Columns written with the state (a pause reason, a schedule time, a new revision…). */
  fields?: IssueUpdate;
  /** Kept in the audit entry beside `from`, `to` and the revision. */
  detail?: Record<string, unknown>;
}

/**
 * The one write of an issue's state: the next state from the lifecycle table (an
 * IllegalIssueTransitionError naming state and action when the move is not allowed), the row and
 * its audit entry, both in `trx`, so neither exists without the other. `issue` is the row as
 * locked in `trx` (lockIssue); callers reach this through transitionIssue (src/issues/lifecycle.ts)
 * or, for content edits, recordEdit.
 */
export async function writeTransition(
  trx: Transaction<Database>,
  issue: Issue,
  move: IssueMove,
): Promise<Issue> {
  const to = nextIssueState(issue.state, move.action);
  const updated = await trx
    .updateTable('issues')
    .set({ ...(move.fields ?? {}), state: to, updated_at: move.at })
    .where('id', '=', issue.id)
    .returningAll()
    .executeTakeFirstOrThrow();
  await writeAudit(trx, {
    issueId: issue.id,
    actor: move.actor,
    action: move.auditAs ?? move.action,
    detail: { from: issue.state, to, revision: updated.revision, ...(move.detail ?? {}) },
    at: move.at,
  });
  return updated;
}

/**
 * Records a content change: bumps the revision (compiled variants are per revision), returns an
 * approved or scheduled issue to draft (what was approved is no longer what would be sent), and
 * writes the audit entry. A stale scheduled job finds the issue in draft and does nothing.
 */
export async function recordEdit(
  trx: Transaction<Database>,
  issue: Issue,
  change: { actor: string; action: string; detail?: Record<string, unknown>; at: Date; fields?: IssueUpdate },
): Promise<Issue> {
  const backToDraft = nextIssueState(issue.state, 'edit') !== issue.state;
  return writeTransition(trx, issue, {
    action: 'edit',
    auditAs: change.action,
    actor: change.actor,
    at: change.at,
    fields: {
      ...(change.fields ?? {}),
      revision: issue.revision + 1,
      ...(backToDraft ? { approved_at: null, approved_by: null, scheduled_at: null, hold_reason: null } : {}),
    },
    ...(change.detail ? { detail: change.detail } : {}),
  });
}

export async function listAudit(db: Executor, issueId: number) {
  return db.selectFrom('issue_audit').selectAll().where('issue_id', '=', issueId).orderBy('id').execute();
}
