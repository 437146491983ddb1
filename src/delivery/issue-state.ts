import { type Db, ISSUE_STATES, type IssueState } from '../db/schema.js';
import { canTransition, type IssueAction, nextIssueState } from '../issues/state-machine.js';

/**
 * Delivery moves issues only by editorial's lifecycle actions (src/issues/state-machine.ts), so the
 * two stages agree on what is legal. The move itself is a conditional update — the row changes
 * only while it is still in a state the action may leave from — because workers, the resume scan
 * and operators race for the same issue.
 */

export interface Transition {
  from: IssueState[];
  to: IssueState;
}

/** The states an action leaves from and the one it leads to (pure; read from editorial's table). */
export function transitionOf(action: IssueAction): Transition {
  const from = ISSUE_STATES.filter((s) => canTransition(s, action));
  const targets = new Set(from.map((s) => nextIssueState(s, action)));
  if (targets.size !== 1) {
    // Every action in the table has one target today; a future one with several is not delivery's.
    throw new Error(`issue action "${action}" does not lead to one state (${[...targets].join(', ')})`);
  }
  return { from, to: [...targets][0] as IssueState };
}

/** Applies an action if the issue is still in a state it may leave from; returns whether it moved. */
export async function moveIssue(
  db: Db,
  issueId: number,
  action: IssueAction,
  extra: Record<string, unknown> = {},
): Promise<boolean> {
  const { from, to } = transitionOf(action);
  const result = await db
    .updateTable('issues')
    .set({ state: to, updated_at: new Date(), ...extra })
    .where('id', '=', issueId)
    .where('state', 'in', from)
    .executeTakeFirst();
  return Number(result.numUpdatedRows) > 0;
}
