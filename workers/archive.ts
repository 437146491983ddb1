import { Queue, Worker } from 'bullmq';
import type { Env } from '../src/config/env.js';
import type { Db } from '../src/db/schema.js';
import type { Logger } from '../src/log.js';
import { QUEUES } from '../src/queue/names.js';
import { createRedis } from '../src/queue/redis.js';
import { archiveSweep } from '../src/snapshots/sweep.js';

/**
 * The archive's upkeep as one BullMQ job scheduler ('archive-sweep', every ARCHIVE_SWEEP_MINUTES):
 * snapshots of approved issues' sources, search indexing, and the link check of sent issues. The
 * payload is empty; the tables say what is due, so a repeated or late job is harmless. Approving
 * an issue adds a one-off job `{ issueId }` (src/snapshots/request.ts) so its sources are kept at once.
 */
export const ARCHIVE_SCHEDULER_ID = 'archive-sweep';

export function createArchiveWorker(deps: {
  db: Db;
  log: Logger;
  env: Env;
  now: () => Date;
  connection: { url: string; prefix: string };
  /** Override the interval (tests). */
  everyMs?: number;
}) {
  const { log } = deps;
  const connection = createRedis(deps.connection.url);
  const queueConnection = createRedis(deps.connection.url);
  const queue = new Queue(QUEUES.archive, { connection: queueConnection, prefix: deps.connection.prefix });
  // An approval's job names its issue ({ issueId }); the scheduler's empty payload sweeps all.
  const worker = new Worker<{ issueId?: number }>(
    QUEUES.archive,
    async (job) =>
      archiveSweep(deps, typeof job.data?.issueId === 'number' ? { issueId: job.data.issueId } : {}),
    {
      connection,
      prefix: deps.connection.prefix,
      concurrency: 1,
    },
  );
  worker.on('failed', (job, err) => {
    log.error({ event: 'archive.job.failed', jobId: job?.id, err: err.message }, 'archive job failed');
  });
  const scheduled = queue.upsertJobScheduler(
    ARCHIVE_SCHEDULER_ID,
    { every: deps.everyMs ?? deps.env.ARCHIVE_SWEEP_MINUTES * 60_000 },
    { name: 'sweep', data: {}, opts: { removeOnComplete: 50, removeOnFail: 200 } },
  );
  return {
    worker,
    queue,
    scheduled,
    async close() {
      await scheduled.catch(() => {});
      await worker.close();
      await queue.close();
      connection.disconnect();
      queueConnection.disconnect();
    },
  };
}
