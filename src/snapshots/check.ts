import { sql } from 'kysely';
import { privatePolicy } from '../feeds/address-guard.js';
import { FetchError, fetchWithLimits, limitsFromEnv, PAGE_ACCEPT } from '../feeds/fetch.js';
import { type CheckOutcome, judgeLink } from './judge.js';
import type { SnapshotDeps } from './take.js';

/**
 * The periodic link check of sent issues' sources. A source is re-fetched once LINK_CHECK_HOURS
 * have passed since its last check; the verdict (judgeLink) moves it between alive and dead, and
 * dead_since keeps the first time it was found dead. A check that learns nothing (timeout, 5xx)
 * only records that it ran.
 */
export async function checkDueLinks(
  deps: SnapshotDeps & { env: SnapshotDeps['env'] & { LINK_CHECK_HOURS: number } },
  opts: { limit?: number } = {},
): Promise<{ checked: number; dead: number; alive: number }> {
  const { db, env, log } = deps;
  const now = deps.now();
  const due = new Date(now.getTime() - env.LINK_CHECK_HOURS * 3_600_000);
  const rows = await db
    .selectFrom('source_snapshots')
    .innerJoin('issues', 'issues.id', 'source_snapshots.issue_id')
    .select([
      'source_snapshots.id',
      'source_snapshots.url',
      'source_snapshots.link_state',
      'source_snapshots.issue_id',
    ])
    .where('issues.state', '=', 'sent')
    .where((eb) =>
      eb.or([
        eb('source_snapshots.last_checked_at', 'is', null),
        eb('source_snapshots.last_checked_at', '<=', due),
      ]),
    )
    .orderBy(sql`source_snapshots.last_checked_at NULLS FIRST`)
    .limit(opts.limit ?? 200)
    .execute();
  const limits = {
    ...limitsFromEnv(env, privatePolicy(env.FETCH_ALLOW_PRIVATE), PAGE_ACCEPT),
    // The status and where it lands matter, not the page.
    maxBytes: Math.min(env.FETCH_MAX_BYTES, 512 * 1024),
  };
  let dead = 0;
  let alive = 0;
  for (const row of rows) {
    let outcome: CheckOutcome;
    try {
      const res = await fetchWithLimits(row.url, limits);
      outcome = { status: res.status, finalUrl: res.url };
    } catch (err) {
      const e = err as FetchError;
      outcome =
        err instanceof FetchError && e.kind === 'too-large'
          ? { status: 200, finalUrl: row.url }
          : {
              ...(err instanceof FetchError && e.status !== undefined ? { status: e.status } : {}),
              errorKind: err instanceof FetchError ? e.kind : 'network',
              errorMessage: (err as Error).message,
            };
    }
    const verdict = judgeLink(row.url, outcome);
    const at = deps.now();
    const base = { last_checked_at: at, last_check_status: outcome.status ?? null, updated_at: at };
    if (verdict.state === 'dead') {
      dead++;
      await db
        .updateTable('source_snapshots')
        .set({
          ...base,
          link_state: 'dead',
          dead_reason: verdict.reason,
          // The first time it was found dead stays.
          dead_since: sql`COALESCE(dead_since, ${at})`,
        })
        .where('id', '=', row.id)
        .execute();
      if (row.link_state !== 'dead')
        log.warn(
          { event: 'snapshot.link_dead', snapshotId: row.id, issueId: row.issue_id, reason: verdict.reason },
          'a cited source is gone',
        );
    } else if (verdict.state === 'alive') {
      alive++;
      await db
        .updateTable('source_snapshots')
        .set({ ...base, link_state: 'alive', dead_reason: null, dead_since: null })
        .where('id', '=', row.id)
        .execute();
    } else {
      await db.updateTable('source_snapshots').set(base).where('id', '=', row.id).execute();
    }
  }
  log.info({ event: 'snapshot.links_checked', checked: rows.length, dead, alive }, 'links checked');
  return { checked: rows.length, dead, alive };
}
