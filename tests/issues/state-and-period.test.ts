import { describe, expect, it } from 'vitest';
import { ISSUE_STATES, type IssueState } from '../../src/db/schema.js';
import { periodWindow, previousPeriod } from '../../src/issues/period.js';
import { decideDueIssue } from '../../src/issues/schedule.js';
import {
  canTransition,
  IllegalIssueTransitionError,
  ISSUE_ACTIONS,
  type IssueAction,
  nextIssueState,
  statesFrom,
} from '../../src/issues/state-machine.js';

/**
 * The lifecycle, every pair written out: for each action, the states it may leave from and where
 * it leads. Any (state, action) not listed here is refused. This is the specification the table in
 * src/issues/state-machine.ts must match, cell by cell.
 */
const LIFECYCLE: Record<IssueAction, Partial<Record<IssueState, IssueState>>> = {
  edit: { draft: 'draft', approved: 'draft', scheduled: 'draft' },
  approve: { draft: 'approved', approved: 'approved' },
  schedule: { approved: 'scheduled' },
  reschedule: { scheduled: 'scheduled' },
  unschedule: { scheduled: 'approved' },
  'start-sending': { approved: 'sending', scheduled: 'sending' },
  pause: { sending: 'paused' },
  resume: { paused: 'sending' },
  finish: { sending: 'sent' },
  cancel: {
    draft: 'cancelled',
    approved: 'cancelled',
    scheduled: 'cancelled',
    sending: 'cancelled',
    paused: 'cancelled',
  },
  fail: { sending: 'failed', paused: 'failed' },
  resend: { sent: 'sending', sending: 'sending', paused: 'paused' },
};

describe('issue lifecycle table', () => {
  const cells = ISSUE_ACTIONS.flatMap((action) => ISSUE_STATES.map((state) => ({ action, state })));
  const allowed = cells.filter(({ action, state }) => LIFECYCLE[action][state] !== undefined);
  const refused = cells.filter(({ action, state }) => LIFECYCLE[action][state] === undefined);

  it.each(allowed)('$action from $state is allowed', ({ action, state }) => {
    expect(nextIssueState(state, action)).toBe(LIFECYCLE[action][state]);
    expect(canTransition(state, action)).toBe(true);
  });

  it.each(refused)('$action from $state is refused, naming both', ({ action, state }) => {
    expect(canTransition(state, action)).toBe(false);
    let err: unknown;
    try {
      nextIssueState(state, action);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(IllegalIssueTransitionError);
    expect((err as IllegalIssueTransitionError).problem).toEqual({
      code: 'illegal-transition',
      params: { state, action },
    });
    expect((err as Error).message).toMatch(new RegExp(`^Cannot ${action} an issue that is ${state}\\b`));
  });

  it('lists every pair once: the two lists cover the whole table', () => {
    expect(allowed.length + refused.length).toBe(ISSUE_ACTIONS.length * ISSUE_STATES.length);
    expect(allowed.length).toBe(23);
  });

  it('says which states a refused action would have been allowed from', () => {
    expect(() => nextIssueState('draft', 'schedule')).toThrow(
      'Cannot schedule an issue that is draft (only from: approved)',
    );
    expect(statesFrom('fail')).toEqual(['sending', 'paused']);
  });

  it('walks the happy path draft → approved → scheduled → sending → sent', () => {
    const path: IssueAction[] = ['approve', 'schedule', 'start-sending', 'pause', 'resume', 'finish'];
    const states: IssueState[] = ['draft'];
    for (const action of path) states.push(nextIssueState(states.at(-1) as IssueState, action));
    expect(states).toEqual(['draft', 'approved', 'scheduled', 'sending', 'paused', 'sending', 'sent']);
  });
});

describe('period windows in the publication time zone', () => {
  it('starts July 2025 at midnight Shanghai time, which is 16:00 UTC the day before', () => {
    const w = periodWindow('2025-07', 'month', 'Asia/Shanghai');
    expect(w.start.toISOString()).toBe('2025-06-30T16:00:00.000Z');
    expect(w.end.toISOString()).toBe('2025-07-31T16:00:00.000Z');
  });

  it('reads ISO weeks from Monday', () => {
    const w = periodWindow('2025-W30', undefined, 'Asia/Shanghai');
    expect(w.kind).toBe('week');
    expect(w.start.toISOString()).toBe('2025-07-20T16:00:00.000Z');
    expect(w.end.toISOString()).toBe('2025-07-27T16:00:00.000Z');
  });

  it('names the previous period and rejects nonsense', () => {
    expect(previousPeriod('2025-01')).toBe('2024-12');
    expect(previousPeriod('2025-W01')).toBe('2024-W52');
    expect(() => periodWindow('2025-13', 'month', 'UTC')).toThrow('is not a month like 2025-07');
    expect(() => periodWindow('2025-07', 'week', 'UTC')).toThrow('is not an ISO week');
  });
});

describe('late-schedule guard', () => {
  const at = new Date('2025-08-01T01:00:00Z');
  const issue = { state: 'scheduled' as const, revision: 3, scheduled_at: at, hold_reason: null };
  const hours = (h: number) => new Date(at.getTime() + h * 3_600_000);

  it('sends when due within the grace period', () => {
    expect(decideDueIssue(issue, { revision: 3 }, hours(0), 6)).toEqual({ kind: 'send' });
    expect(decideDueIssue(issue, { revision: 3 }, hours(5.9), 6)).toEqual({ kind: 'send' });
  });

  it('holds, with the reason, when the time passed longer ago than the grace', () => {
    const d = decideDueIssue(issue, { revision: 3 }, hours(7), 6);
    expect(d.kind).toBe('hold');
    expect(d.kind === 'hold' && d.reason).toContain('passed 7 h ago, more than the 6 h grace period');
  });

  it('ignores stale jobs: other revision, not scheduled, or rescheduled later', () => {
    expect(decideDueIssue(issue, { revision: 2 }, hours(0), 6).kind).toBe('skip');
    expect(decideDueIssue({ ...issue, state: 'draft' }, { revision: 3 }, hours(0), 6).kind).toBe('skip');
    expect(decideDueIssue(issue, { revision: 3 }, hours(-2), 6).kind).toBe('skip');
  });
});
