import { describe, expect, it } from 'vitest';
import { ISSUE_STATES } from '../../src/db/schema.js';
import { periodWindow, previousPeriod } from '../../src/issues/period.js';
import { decideDueIssue } from '../../src/issues/schedule.js';
import {
  canTransition,
  IllegalIssueTransitionError,
  nextIssueState,
} from '../../src/issues/state-machine.js';

describe('issue state rules', () => {
  it('walks the happy path draft → approved → scheduled → sending → sent', () => {
    let s = nextIssueState('draft', 'approve');
    expect(s).toBe('approved');
    s = nextIssueState(s, 'schedule');
    expect(s).toBe('scheduled');
    s = nextIssueState(s, 'start-sending');
    expect(s).toBe('sending');
    expect(nextIssueState(nextIssueState(s, 'pause'), 'resume')).toBe('sending');
    expect(nextIssueState(s, 'finish')).toBe('sent');
  });

  it('only schedules an approved issue', () => {
    expect(() => nextIssueState('draft', 'schedule')).toThrow(IllegalIssueTransitionError);
    expect(() => nextIssueState('draft', 'schedule')).toThrow(
      'Cannot schedule an issue that is draft (only from: approved)',
    );
    for (const state of ISSUE_STATES) expect(canTransition(state, 'schedule')).toBe(state === 'approved');
  });

  it('sends an approved or scheduled issue back to draft when it is edited', () => {
    expect(nextIssueState('approved', 'edit')).toBe('draft');
    expect(nextIssueState('scheduled', 'edit')).toBe('draft');
    expect(nextIssueState('draft', 'edit')).toBe('draft');
    for (const state of ['sending', 'paused', 'sent', 'cancelled', 'failed'] as const) {
      expect(() => nextIssueState(state, 'edit')).toThrow(`Cannot edit an issue that is ${state}`);
    }
  });

  it('cancels only before sending starts (or while paused) and never un-sends', () => {
    expect(nextIssueState('scheduled', 'cancel')).toBe('cancelled');
    expect(nextIssueState('paused', 'cancel')).toBe('cancelled');
    expect(() => nextIssueState('sending', 'cancel')).toThrow(IllegalIssueTransitionError);
    expect(() => nextIssueState('sent', 'cancel')).toThrow(IllegalIssueTransitionError);
    expect(() => nextIssueState('cancelled', 'approve')).toThrow(IllegalIssueTransitionError);
    expect(nextIssueState('sending', 'fail')).toBe('failed');
  });

  it('sends a sent issue again only to re-send its unknown rows, on the operator’s command', () => {
    expect(nextIssueState('sent', 'resend')).toBe('sending');
    expect(() => nextIssueState('cancelled', 'resend')).toThrow(IllegalIssueTransitionError);
    expect(() => nextIssueState('draft', 'resend')).toThrow(IllegalIssueTransitionError);
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
