import type { JobsOptions, Queue } from 'bullmq';

/**
 * Adds a job, giving up after `timeoutMs`. Our Redis connections retry forever (BullMQ needs
 * that), so a Redis that is down would otherwise hold the request that asked for the job; the
 * caller reports the timeout and a scan picks the work up later (the tables say what is due).
 */
export async function addJobWithin(
  queue: Queue,
  name: string,
  data: Record<string, unknown>,
  opts: JobsOptions,
  timeoutMs: number,
): Promise<void> {
  const added = queue.add(name, data, opts);
  added.catch(() => {}); // a failure after the timeout has already been reported
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`Redis did not take the ${queue.name} job within ${timeoutMs} ms`)),
      timeoutMs,
    );
  });
  try {
    await Promise.race([added, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
