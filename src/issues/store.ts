import type { Transaction } from 'kysely';
import type { Env } from '../config/env.js';
import type { Database, Db, Issue, IssueState, IssueUpdate } from '../db/schema.js';
import type { Logger } from '../log.js';
import { ProblemError, type StageProblem } from '../problem.js';
import { nextIssueState } from './state-machine.js';

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
  const state: IssueState = nextIssueState(issue.state, 'edit');
  const backToDraft = state !== issue.state;
  const updated = await trx
    .updateTable('issues')
    .set({
      ...(change.fields ?? {}),
      state,
      revision: issue.revision + 1,
      updated_at: change.at,
      ...(backToDraft ? { approved_at: null, approved_by: null, scheduled_at: null, hold_reason: null } : {}),
    })
    .where('id', '=', issue.id)
    .returningAll()
    .executeTakeFirstOrThrow();
  await writeAudit(trx, {
    issueId: issue.id,
    actor: change.actor,
    action: change.action,
    detail: {
      ...(change.detail ?? {}),
      revision: updated.revision,
      ...(backToDraft ? { from: issue.state } : {}),
    },
    at: change.at,
  });
  return updated;
}

export async function listAudit(db: Executor, issueId: number) {
  return db.selectFrom('issue_audit').selectAll().where('issue_id', '=', issueId).orderBy('id').execute();
}
