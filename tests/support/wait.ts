import type { Queue } from 'bullmq';

/**
 * Waiting in tests on conditions, never on fixed sleeps:
 * - `waitFor(what, check)` polls until `check` returns something truthy and returns it; after
 *   `timeoutMs` it fails naming `what`.
 * - `queueDrained(queue)` waits until a BullMQ queue has nothing waiting, delayed or running: the
 *   jobs that could still change something have all run.
 * - `staysTrue(what, check)` is the bounded negative check that follows: "nothing more happens"
 *   is checked over a short window (after the condition that makes it decidable, e.g. a drained
 *   queue), failing at the first moment it is false.
 */
export interface WaitOptions {
  timeoutMs?: number;
  intervalMs?: number;
}

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export async function waitFor<T>(
  what: string,
  check: () => T | Promise<T>,
  { timeoutMs = 20_000, intervalMs = 25 }: WaitOptions = {},
): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value as NonNullable<T>;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await pause(intervalMs);
  }
}

export async function queueDrained(queue: Queue, opts: WaitOptions = {}): Promise<void> {
  await waitFor(
    `queue ${queue.name} to drain`,
    async () => {
      const counts = await queue.getJobCounts(
        'waiting',
        'delayed',
        'active',
        'prioritized',
        'waiting-children',
      );
      return Object.values(counts).every((n) => n === 0);
    },
    opts,
  );
}

export async function staysTrue(
  what: string,
  check: () => boolean | Promise<boolean>,
  { forMs = 300, intervalMs = 25 }: { forMs?: number; intervalMs?: number } = {},
): Promise<void> {
  const until = Date.now() + forMs;
  for (;;) {
    if (!(await check())) throw new Error(`expected ${what}, but it changed`);
    if (Date.now() > until) return;
    await pause(intervalMs);
  }
}
