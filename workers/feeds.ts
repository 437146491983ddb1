import { type Job, Queue, Worker } from 'bullmq';
import type { Env } from '../src/config/env.js';
import type { Db } from '../src/db/schema.js';
import { isDue, pollSource } from '../src/feeds/poll.js';
import type { Logger } from '../src/log.js';
import { QUEUES } from '../src/queue/names.js';
import { createRedis } from '../src/queue/redis.js';

/**
 * Polling runs as BullMQ job schedulers, one per enabled source, each firing at the source's
 * interval with a payload of ids only ({ sourceId }). The sources table is the truth: schedulers
 * are brought in step with it at start and then every `resyncMs`. A job for a source that is
 * failing and backing off, disabled or gone does nothing, so a stale or duplicated job is harmless.
 */

export interface FeedJob {
  sourceId: number;
}

export interface FeedWorkerDeps {
  db: Db;
  log: Logger;
  env: Env;
  now?: () => Date;
  connection: { url: string; prefix: string };
  concurrency?: number;
  /** How often to re-sync schedulers with the sources table (0 = only at start). */
  resyncMs?: number;
}

const SCHEDULER_PREFIX = 'source-';
export const schedulerIdFor = (sourceId: number) => `${SCHEDULER_PREFIX}${sourceId}`;

export interface SyncResult {
  upserted: number;
  removed: number;
}

/** Upserts one job scheduler per enabled feed source and removes schedulers of other sources. */
export async function syncFeedSchedulers(deps: {
  db: Db;
  log: Logger;
  connection: { url: string; prefix: string };
  queue?: Queue<FeedJob>;
}): Promise<SyncResult> {
  const own = !deps.queue;
  const connection = own ? createRedis(deps.connection.url) : undefined;
  const queue =
    deps.queue ??
    new Queue<FeedJob>(QUEUES.feeds, { connection: connection as never, prefix: deps.connection.prefix });
  try {
    const sources = await deps.db
      .selectFrom('sources')
      .select(['id', 'poll_interval_minutes'])
      .where('kind', '=', 'feed')
      .where('enabled', '=', true)
      .execute();
    const wanted = new Set<string>();
    for (const s of sources) {
      const id = schedulerIdFor(s.id);
      wanted.add(id);
      await queue.upsertJobScheduler(
        id,
        { every: s.poll_interval_minutes * 60_000 },
        {
          name: 'poll',
          data: { sourceId: s.id },
          opts: { removeOnComplete: 100, removeOnFail: 500 },
        },
      );
    }
    let removed = 0;
    const existing = await queue.getJobSchedulers(0, -1);
    for (const scheduler of existing) {
      const id = scheduler.id ?? scheduler.key;
      if (id.startsWith(SCHEDULER_PREFIX) && !wanted.has(id)) {
        await queue.removeJobScheduler(id);
        removed++;
      }
    }
    deps.log.info(
      { event: 'feed.schedulers.synced', upserted: wanted.size, removed },
      'feed schedulers in step',
    );
    return { upserted: wanted.size, removed };
  } finally {
    if (own) {
      await queue.close();
      connection?.disconnect();
    }
  }
}

export function createFeedWorker(deps: FeedWorkerDeps): {
  worker: Worker<FeedJob>;
  /** Settles when the first scheduler sync has finished. */
  synced: Promise<SyncResult | null>;
  close(): Promise<void>;
} {
  const { db, log, env } = deps;
  const now = deps.now ?? (() => new Date());
  const connection = createRedis(deps.connection.url);
  const queueConnection = createRedis(deps.connection.url);
  const queue = new Queue<FeedJob>(QUEUES.feeds, {
    connection: queueConnection,
    prefix: deps.connection.prefix,
  });

  const processJob = async (job: Job<FeedJob>) => {
    const { sourceId } = job.data;
    const source = await db
      .selectFrom('sources')
      .select(['id', 'enabled', 'next_poll_at'])
      .where('id', '=', sourceId)
      .executeTakeFirst();
    if (!source) return { skipped: 'source removed' };
    if (!source.enabled) return { skipped: 'source disabled' };
    // The scheduler fires at the plain interval; a failing source's backoff lives in next_poll_at.
    // A minute's slack so a scheduler firing a little early still polls a healthy source.
    if (!isDue(source, new Date(now().getTime() + 60_000))) return { skipped: 'backing off' };
    const outcome = await pollSource({ db, log, env, now }, sourceId);
    return outcome;
  };

  const worker = new Worker<FeedJob>(QUEUES.feeds, processJob, {
    connection,
    prefix: deps.connection.prefix,
    concurrency: deps.concurrency ?? env.FEED_POLL_CONCURRENCY,
  });
  worker.on('failed', (job, err) => {
    log.error({ event: 'feed.job.failed', jobId: job?.id, err: err.message }, 'feed job failed');
  });

  const sync = () =>
    syncFeedSchedulers({ db, log, connection: deps.connection, queue }).catch((err: Error) => {
      log.error({ event: 'feed.schedulers.sync_failed', err: err.message }, 'could not sync feed schedulers');
      return null;
    });
  const synced = sync();
  const resyncMs = deps.resyncMs ?? 60_000;
  const timer = resyncMs > 0 ? setInterval(() => void sync(), resyncMs) : undefined;
  timer?.unref();

  return {
    worker,
    synced,
    async close() {
      if (timer) clearInterval(timer);
      await synced;
      await worker.close();
      await queue.close();
      connection.disconnect();
      queueConnection.disconnect();
    },
  };
}
