import type { Db, IssueState } from '../db/schema.js';
import { type IssueStats, issueStats } from '../delivery/api.js';

export interface WaitOptions {
  intervalMs?: number;
  timeoutMs?: number;
  onProgress?: (stats: IssueStats, state: IssueState) => void | Promise<void>;
}

/**
 * Polls the ledger until the issue leaves 'sending' (sent, paused, cancelled, failed): what
 * `gazette issue send --wait` (and the demo, and the send benchmark) wait on. Delivery itself never
 * waits for an issue; it only moves rows.
 */
export async function waitForIssue(
  deps: { db: Db },
  issueId: number,
  opts: WaitOptions = {},
): Promise<{ state: IssueState; stats: IssueStats }> {
  const { db } = deps;
  const started = Date.now();
  for (;;) {
    const { state } = await db
      .selectFrom('issues')
      .select('state')
      .where('id', '=', issueId)
      .executeTakeFirstOrThrow();
    const stats = await issueStats(db, issueId);
    await opts.onProgress?.(stats, state);
    if (!['sending', 'approved', 'scheduled'].includes(state)) return { state, stats };
    if (opts.timeoutMs !== undefined && Date.now() - started > opts.timeoutMs) {
      throw new Error(
        `Issue ${issueId} still ${state} after ${opts.timeoutMs} ms (${JSON.stringify(stats)})`,
      );
    }
    await new Promise((r) => setTimeout(r, opts.intervalMs ?? 500));
  }
}
