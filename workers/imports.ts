import { Queue, Worker } from 'bullmq';
import type { Db } from '../src/db/schema.js';
import type { Logger } from '../src/log.js';
import type { StageProblem } from '../src/problem.js';
import { QUEUES } from '../src/queue/names.js';
import { createRedis } from '../src/queue/redis.js';
import {
  failImport,
  IMPORT_JOB_OPTIONS,
  importJobId,
  MAX_RUNS,
  runImport,
  unfinishedImports,
} from '../subscribers/api.js';

/**
 * Runs subscriber CSV imports (`{ importId }` on QUEUES.imports), one at a time across every
 * worker (BullMQ global concurrency 1), in upload order. A worker that dies mid-import loses its
 * lock; BullMQ's stalled-job check gives the job out again and the next run resumes from the last
 * committed batch (subscribers/import-jobs.ts). At start and every `scanIntervalMs` the worker
 * queues any import the database says is unfinished (an upload whose job Redis never took).
 */
export function createImportWorker(deps: {
  db: Db;
  log: Logger;
  now: () => Date;
  connection: { url: string; prefix: string };
  /** Records per batch (tests use small ones so a kill lands between batches). */
  batchSize?: number;
  /** How long a run's lock lasts without renewal (BullMQ's default 30 s); tests shorten it. */
  lockDurationMs?: number;
  stalledIntervalMs?: number;
  scanIntervalMs?: number;
}) {
  const { db, log } = deps;
  const connection = createRedis(deps.connection.url);
  const queueConnection = createRedis(deps.connection.url);
  const prefix = deps.connection.prefix;
  const queue = new Queue(QUEUES.imports, { connection: queueConnection, prefix });

  const scan = async () => {
    for (const importId of await unfinishedImports(db)) {
      const job = await queue.getJob(importJobId(importId));
      if (job && (await job.isFailed())) {
        // Its job gave up but the import was never marked (the database was away then).
        await failImport(db, importId, deps.now(), failureOf(job.failedReason ?? 'the job failed'));
        continue;
      }
      if (!job)
        await queue.add('import', { importId }, { ...IMPORT_JOB_OPTIONS, jobId: importJobId(importId) });
    }
  };
  const worker = new Worker<{ importId: number }>(
    QUEUES.imports,
    async (job) => runImport(deps, job.data.importId, deps.batchSize ? { batchSize: deps.batchSize } : {}),
    {
      connection,
      prefix,
      autorun: false,
      concurrency: 1,
      // A crash costs a run; MAX_RUNS runs and the import fails with its reason (runImport counts them).
      maxStalledCount: MAX_RUNS,
      ...(deps.lockDurationMs ? { lockDuration: deps.lockDurationMs } : {}),
      ...(deps.stalledIntervalMs ? { stalledInterval: deps.stalledIntervalMs } : {}),
    },
  );
  worker.on('failed', (job, err) => {
    if (!job) return;
    // 'failed' also fires for an attempt that will be retried; only a job that gave up fails the import.
    job
      .isFailed()
      .then(async (gaveUp) => {
        log.error(
          { event: 'subscribers.import.job_failed', importId: job.data.importId, gaveUp, err: err.name },
          'import job failed',
        );
        if (gaveUp) await failImport(db, job.data.importId, deps.now(), failureOf(err.message));
      })
      .catch(() => {});
  });
  const ready = (async () => {
    // Set before this worker takes a job (it stays in Redis for every worker after).
    await queue.setGlobalConcurrency(1);
    void worker
      .run()
      .catch((err: Error) =>
        log.error({ event: 'subscribers.import.worker_failed', err: err.message }, 'import worker stopped'),
      );
    await scan();
  })();
  ready.catch((err: Error) =>
    log.error({ event: 'subscribers.import.scan_failed', err: err.message }, 'import scan failed'),
  );
  const timer = setInterval(() => {
    scan().catch((err: Error) =>
      log.warn({ event: 'subscribers.import.scan_failed', err: err.message }, 'import scan failed'),
    );
  }, deps.scanIntervalMs ?? 60_000);
  timer.unref();

  return {
    worker,
    queue,
    ready,
    async close() {
      clearInterval(timer);
      await ready.catch(() => {});
      await worker.close();
      await queue.close();
      connection.disconnect();
      queueConnection.disconnect();
    },
  };
}

function failureOf(reason: string): { code: string; params: StageProblem['params']; message: string } {
  const stalled = /stalled/i.test(reason);
  return stalled
    ? {
        code: 'import-stopped-repeatedly',
        params: { runs: MAX_RUNS },
        message: `the import was started ${MAX_RUNS} times and stopped each time (a worker crashed or was restarted); the rows read before were stored`,
      }
    : {
        code: 'import-job-failed',
        params: { message: reason.slice(0, 300) },
        message: `the import job failed: ${reason.slice(0, 300)}`,
      };
}
