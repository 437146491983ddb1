import { describe, expect, it } from 'vitest';
import {
  bounceVerdict,
  complaintVerdict,
  type IssueOutcome,
  softBounceStreak,
} from '../../src/tracking/suppression-policy.js';

const soft: IssueOutcome = { accepted: true, softBounced: true, engaged: false };
const fine: IssueOutcome = { accepted: true, softBounced: false, engaged: false };
const opened: IssueOutcome = { accepted: true, softBounced: false, engaged: true };
const failedAtSend: IssueOutcome = { accepted: false, softBounced: true, engaged: false };

describe('bounce suppression policy', () => {
  it('suppresses a hard bounce at once, whatever came before', () => {
    expect(bounceVerdict({ reason: 'user_unknown', failed: true }, [opened, opened])).toEqual({
      suppress: true,
      why: 'hard_bounce',
    });
    expect(bounceVerdict({ reason: 'host_unknown', failed: true }, []).suppress).toBe(true);
  });

  it.each([
    ['a first mailbox-full bounce', [soft], false],
    ['two soft-bounced issues in a row', [soft, soft], false],
    ['three soft-bounced issues in a row', [soft, soft, soft], true],
    ['three soft ones where one was refused at send time', [soft, failedAtSend, soft], true],
    ['three soft ones, but an accepted issue without a bounce in between', [soft, soft, fine, soft], false],
    ['three soft ones, but the reader opened one in between', [soft, opened, soft, soft], false],
  ] as const)('%s → suppress: %s', (_what, history, suppress) => {
    expect(bounceVerdict({ reason: 'mailbox_full', failed: true }, history).suppress).toBe(suppress);
  });

  it('reads N and M from the publication: 2 of the last 4 issues', () => {
    expect(
      bounceVerdict({ reason: 'blocked', failed: true }, [soft, soft], { limit: 2, issues: 4 }).suppress,
    ).toBe(true);
    expect(softBounceStreak([soft, soft, soft, soft, soft], 4)).toBe(4);
    expect(
      bounceVerdict({ reason: 'blocked', failed: true }, [soft, soft, soft], { limit: 3, issues: 2 })
        .suppress,
    ).toBe(false);
  });

  it('never suppresses for a throttle, a block or spam content alone', () => {
    for (const reason of ['rate_limited', 'blocked', 'spam_content', 'security', 'undetermined'] as const) {
      expect(bounceVerdict({ reason, failed: true }, [soft]).suppress).toBe(false);
    }
  });
});

describe('complaint suppression policy', () => {
  it.each([
    ['abuse', undefined, true],
    ['fraud', undefined, true],
    ['virus', undefined, true],
    ['other', 'Microsoft JMRP/1.0', true],
    ['other', 'SomeUnknownAgent/1.0', false],
    ['auth-failure', 'OpenDMARC/1.3', false],
    ['not-spam', 'YahooMailFBL/1.0', false],
    ['opt-out-please', undefined, false],
  ] as const)('%s from %s → suppress: %s', (type, source, suppress) => {
    expect(complaintVerdict(type, source).suppress).toBe(suppress);
  });
});
