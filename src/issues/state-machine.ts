import type { IssueState } from '../db/schema.js';
import { ProblemError } from '../problem.js';

/**
 * The whole issue lifecycle in one pure table, so editorial and delivery agree on what is legal.
 * Every write of an issue's state goes through `transitionIssue` (src/issues/lifecycle.ts), which
 * reads this table under the issue's row lock; nothing else sets `issues.state`.
 * 'edit' returns approved/scheduled issues to draft (their content changed after approval).
 */
export const ISSUE_ACTIONS = [
  'edit',
  'approve',
  'schedule',
  'reschedule',
  'unschedule',
  'start-sending',
  'pause',
  'resume',
  'finish',
  'cancel',
  'fail',
  'resend',
] as const;
export type IssueAction = (typeof ISSUE_ACTIONS)[number];

const TRANSITIONS: Record<IssueAction, Partial<Record<IssueState, IssueState>>> = {
  edit: { draft: 'draft', approved: 'draft', scheduled: 'draft' },
  approve: { draft: 'approved', approved: 'approved' },
  schedule: { approved: 'scheduled' },
  reschedule: { scheduled: 'scheduled' },
  unschedule: { scheduled: 'approved' },
  // An approved issue may be sent at once; a scheduled one when its job fires.
  'start-sending': { approved: 'sending', scheduled: 'sending' },
  pause: { sending: 'paused' },
  resume: { paused: 'sending' },
  finish: { sending: 'sent' },
  // Also while sending: the same transaction skips every row not yet on the wire (delivery's
  // cancelIssue), so workers find nothing left to claim.
  cancel: {
    draft: 'cancelled',
    approved: 'cancelled',
    scheduled: 'cancelled',
    sending: 'cancelled',
    paused: 'cancelled',
  },
  fail: { sending: 'failed', paused: 'failed' },
  // The operator chose to send again the rows whose fate is unknown (`issue resend-unknown`): a
  // sent issue sends again; a sending or paused one keeps its state and takes the rows back.
  resend: { sent: 'sending', sending: 'sending', paused: 'paused' },
};

/** The one refusal of a lifecycle move: it names the state the issue is in and the action refused. */
export class IllegalIssueTransitionError extends ProblemError<'illegal-transition'> {
  override name = 'IllegalIssueTransitionError';
  constructor(
    readonly state: IssueState,
    readonly action: IssueAction,
  ) {
    const allowed = statesFrom(action);
    super(
      `Cannot ${action} an issue that is ${state}` +
        (allowed.length ? ` (only from: ${allowed.join(', ')})` : ''),
      'illegal-transition',
      { state, action },
    );
  }
}

/** The state after `action` (pure), or an IllegalIssueTransitionError naming both. */
export function nextIssueState(state: IssueState, action: IssueAction): IssueState {
  const table = TRANSITIONS[action];
  if (!table) throw new Error(`Unknown issue action "${action}"`);
  const next = table[state];
  if (!next) throw new IllegalIssueTransitionError(state, action);
  return next;
}

export function canTransition(state: IssueState, action: IssueAction): boolean {
  return TRANSITIONS[action]?.[state] !== undefined;
}

/** The states `action` may leave from, in the table's order. */
export function statesFrom(action: IssueAction): IssueState[] {
  return Object.keys(TRANSITIONS[action] ?? {}) as IssueState[];
}
