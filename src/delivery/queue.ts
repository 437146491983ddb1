import { Queue } from 'bullmq';
import { QUEUES } from '../queue/names.js';
import { createRedis } from '../queue/redis.js';
import type { QueueConnection, SendJobData } from './deps.js';

export type SendQueue = Queue<SendJobData>;

export function openSendQueue(connection: QueueConnection): SendQueue {
  return new Queue<SendJobData>(QUEUES.send, {
    connection: createRedis(connection.url),
    prefix: connection.prefix,
    defaultJobOptions: {
      // Jobs are cheap to rebuild from the ledger; keep Redis small.
      removeOnComplete: true,
      removeOnFail: 1000,
      attempts: 5,
      backoff: { type: 'exponential', delay: 1000 },
    },
  });
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

/** Adds range jobs; the job id names the range, so adding the same range twice adds one job. */
export async function enqueueRanges(
  queue: SendQueue,
  ranges: SendJobData[],
  opts: { delayMs?: number; tag?: string } = {},
): Promise<void> {
  if (!ranges.length) return;
  await queue.addBulk(
    ranges.map((data) => ({
      name: 'send',
      data,
      opts: {
        jobId: `${opts.tag ?? 'r'}-${data.issueId}-${data.fromId}-${data.toId}`,
        ...(opts.delayMs ? { delay: opts.delayMs } : {}),
      },
    })),
  );
}
