import type { IssueState } from '../db/schema.js';
import type { StageProblem } from './store.js';

/**
 * The whole issue lifecycle in one pure table, so editorial and delivery agree on what is legal.
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
  cancel: { draft: 'cancelled', approved: 'cancelled', scheduled: 'cancelled', paused: 'cancelled' },
  fail: { sending: 'failed', paused: 'failed' },
  // The operator chose to send again the rows whose fate is unknown (`issue resend-unknown`).
  resend: { sent: 'sending' },
};

export class IllegalIssueTransitionError extends Error {
  override name = 'IllegalIssueTransitionError';
  readonly userFacing = true;
  constructor(
    readonly state: IssueState,
    readonly action: IssueAction,
  ) {
    const allowed = Object.keys(TRANSITIONS[action] ?? {});
    super(
      `Cannot ${action} an issue that is ${state}` +
        (allowed.length ? ` (only from: ${allowed.join(', ')})` : ''),
    );
  }
  get problem(): StageProblem {
    return { code: 'illegal-transition', params: { state: this.state, action: this.action } };
  }
}

/** The state after `action`, or a clear error when the move is illegal. */
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
