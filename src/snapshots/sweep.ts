import { indexIssue, issuesToIndex } from '../search/archive-index.js';
import { checkDueLinks } from './check.js';
import { type SnapshotDeps, snapshotMissingSources } from './take.js';

export type ArchiveDeps = SnapshotDeps & { env: SnapshotDeps['env'] & { LINK_CHECK_HOURS: number } };

/**
 * One pass of the archive's upkeep, run by the archive worker's job scheduler (and
 * `gazette archive sweep`; for one issue when it is approved): archive the sources of newly approved issues, index settled issues
 * for search, re-check the links of sent issues that are due. The tables are the truth, so a pass
 * that runs twice or late does no harm.
 */
export async function archiveSweep(deps: ArchiveDeps, opts: { issueId?: number } = {}) {
  const snapshots = await snapshotMissingSources(
    deps,
    opts.issueId !== undefined ? { issueId: opts.issueId } : {},
  );
  // Issues that gained snapshots are indexed again so their text becomes searchable.
  const toIndex = new Set([...snapshots.issues, ...(await issuesToIndex(deps.db))]);
  if (opts.issueId !== undefined) toIndex.add(opts.issueId);
  for (const id of toIndex) await indexIssue(deps.db, id);
  const links = await checkDueLinks(deps);
  deps.log.info(
    {
      event: 'archive.swept',
      ...(opts.issueId !== undefined ? { issueId: opts.issueId } : {}),
      taken: snapshots.taken,
      failed: snapshots.failed,
      indexed: toIndex.size,
      ...links,
    },
    'archive sweep done',
  );
  return { ...snapshots, indexed: [...toIndex], links };
}
