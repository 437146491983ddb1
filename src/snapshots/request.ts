import type { Queue } from 'bullmq';
import { addJobWithin } from '../queue/add-job.js';

/** Asks the archive worker to snapshot one issue's sources now (issue 20: "when an issue is approved"). */
export interface ArchiveRequests {
  request(issueId: number, revision: number): Promise<void>;
}

/** One job per approved revision: approving the same revision twice adds nothing. */
export function archiveJobId(issueId: number, revision: number): string {
  return `archive-issue-${issueId}-r${revision}`;
}

/**
 * Archive requests as jobs on QUEUES.archive carrying `{ issueId }`, given up after `timeoutMs`
 * when Redis is down (the caller reports it; the periodic sweep catches up).
 */
export function queueArchiveRequests(queue: Queue, timeoutMs = 5000): ArchiveRequests {
  return {
    async request(issueId, revision) {
      await addJobWithin(
        queue,
        'issue',
        { issueId },
        { jobId: archiveJobId(issueId, revision), removeOnComplete: 50, removeOnFail: 200 },
        timeoutMs,
      );
    },
  };
}
