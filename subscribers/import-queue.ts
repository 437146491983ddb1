import type { JobsOptions, Queue } from 'bullmq';
import { addJobWithin } from '../src/queue/add-job.js';

/** One job per import: asking twice (the upload, then a worker's scan) adds nothing. */
export function importJobId(importId: number): string {
  return `import-${importId}`;
}

/**
 * A run that throws (the database went away) is tried again after a pause and resumes where the
 * last batch committed; a run that crashed is given out again by BullMQ's stalled-job check.
 */
export const IMPORT_JOB_OPTIONS: JobsOptions = {
  attempts: 3,
  backoff: { type: 'exponential', delay: 5000 },
  removeOnComplete: 100,
  removeOnFail: 500,
};

/** Asks the import worker to run one stored import. */
export interface ImportRequests {
  request(importId: number): Promise<void>;
}

/**
 * Import requests as jobs on QUEUES.imports carrying `{ importId }`. When Redis does not take one
 * within `timeoutMs` the import stays queued in the database and a worker's scan queues it.
 */
export function queueImportRequests(queue: Queue, timeoutMs = 5000): ImportRequests {
  return {
    request: (importId) =>
      addJobWithin(
        queue,
        'import',
        { importId },
        { ...IMPORT_JOB_OPTIONS, jobId: importJobId(importId) },
        timeoutMs,
      ),
  };
}
