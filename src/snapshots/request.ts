import type { Queue } from 'bullmq';

/** Asks the archive worker to snapshot one issue's sources now (issue 20: "when an issue is approved"). */
export interface ArchiveRequests {
  request(issueId: number, revision: number): Promise<void>;
}

/** One job per approved revision: approving the same revision twice adds nothing. */
export function archiveJobId(issueId: number, revision: number): string {
  return `archive-issue-${issueId}-r${revision}`;
}

/**
 * Archive requests as jobs on QUEUES.archive carrying `{ issueId }`. Our Redis connections retry
 * forever (BullMQ needs that), so a Redis that is down would hold the approval: give up after
 * `timeoutMs` and let the caller report it; the periodic sweep catches up.
 */
export function queueArchiveRequests(queue: Queue, timeoutMs = 5000): ArchiveRequests {
  return {
    async request(issueId, revision) {
      const added = queue.add(
        'issue',
        { issueId },
        { jobId: archiveJobId(issueId, revision), removeOnComplete: 50, removeOnFail: 200 },
      );
      added.catch(() => {}); // a failure after the timeout has already been reported
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`Redis did not take the archive job within ${timeoutMs} ms`)),
          timeoutMs,
        );
      });
      try {
        await Promise.race([added, timeout]);
      } finally {
        clearTimeout(timer);
      }
    },
  };
}
