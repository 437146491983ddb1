import { Queue } from 'bullmq';
import { QUEUES } from '../queue/names.js';
import { createRedis, type RedisClient } from '../queue/redis.js';
import type { QueueConnection, SendJobData } from './deps.js';

export type SendQueue = Queue<SendJobData>;

const redisOf = new WeakMap<SendQueue, RedisClient>();

/** The Redis connection a send queue was opened on (locks and relay rests share it). */
export function queueRedis(queue: SendQueue): RedisClient {
  const redis = redisOf.get(queue);
  if (!redis) throw new Error('this send queue was not opened by openSendQueue');
  return redis;
}

export function openSendQueue(connection: QueueConnection): SendQueue {
  const redis = createRedis(connection.url);
  const queue = new Queue<SendJobData>(QUEUES.send, {
    connection: redis,
    prefix: connection.prefix,
    defaultJobOptions: {
      // Jobs are cheap to rebuild from the ledger; keep Redis small.
      removeOnComplete: true,
      removeOnFail: 1000,
      attempts: 5,
      backoff: { type: 'exponential', delay: 1000 },
    },
  });
  redisOf.set(queue, redis);
  return queue;
}

/** Splits sorted delivery ids into ranges of at most `size` rows, as job payloads. */
export function rangesOf(issueId: number, sortedIds: number[], size: number): SendJobData[] {
  const out: SendJobData[] = [];
  for (let i = 0; i < sortedIds.length; i += size) {
    const slice = sortedIds.slice(i, i + size);
    out.push({ issueId, fromId: slice[0] as number, toId: slice[slice.length - 1] as number });
  }
  return out;
}

/**
 * The fixed id buckets (`size` ids wide) that hold the given ids, as job payloads: the same rows
 * give the same ranges whatever else changed, so a range's job can be deduplicated.
 */
export function bucketRanges(issueId: number, sortedIds: number[], size: number): SendJobData[] {
  const buckets = [...new Set(sortedIds.map((id) => Math.floor(id / size)))];
  return buckets.map((b) => ({ issueId, fromId: b * size, toId: b * size + size - 1 }));
}

/**
 * Adds range jobs; the job id names the range, so adding the same range twice adds one job.
 * `dedupe`: also skip a range whose job (of any tag) still waits or runs (BullMQ deduplication).
 */
export async function enqueueRanges(
  queue: SendQueue,
  ranges: SendJobData[],
  opts: { delayMs?: number; tag?: string; dedupe?: boolean } = {},
): Promise<void> {
  if (!ranges.length) return;
  await queue.addBulk(
    ranges.map((data) => ({
      name: 'send',
      data,
      opts: {
        jobId: `${opts.tag ?? 'r'}-${data.issueId}-${data.fromId}-${data.toId}`,
        ...(opts.dedupe
          ? { deduplication: { id: `range-${data.issueId}-${data.fromId}-${data.toId}` } }
          : {}),
        ...(opts.delayMs ? { delay: opts.delayMs } : {}),
      },
    })),
  );
}
