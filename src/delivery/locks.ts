import { randomBytes } from 'node:crypto';
import { queueRedis, type SendQueue } from './queue.js';

/**
 * Short Redis locks between workers and commands (one resume scanner at a time; an issue's
 * preparation against the scan). A lock expires by itself if its holder dies, and is renewed
 * while the holder works.
 */
const RELEASE = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0`;
const RENEW = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end return 0`;

export interface HeldLock {
  release(): Promise<void>;
}

export function lockKey(queue: SendQueue, name: string): string {
  return `${queue.opts.prefix ?? 'bull'}:lock:${name}`;
}

/** Takes the lock `name` if it is free; null when someone holds it. */
export async function tryLock(queue: SendQueue, name: string, ttlMs = 60_000): Promise<HeldLock | null> {
  const redis = queueRedis(queue);
  const key = lockKey(queue, name);
  const token = randomBytes(8).toString('hex');
  if ((await redis.set(key, token, 'PX', ttlMs, 'NX')) !== 'OK') return null;
  const timer = setInterval(() => {
    redis.eval(RENEW, 1, key, token, ttlMs).catch(() => {});
  }, ttlMs / 3);
  timer.unref();
  return {
    async release() {
      clearInterval(timer);
      await redis.eval(RELEASE, 1, key, token);
    },
  };
}

/** Whether someone holds the lock `name` now. */
export async function isLocked(queue: SendQueue, name: string): Promise<boolean> {
  const redis = queueRedis(queue);
  return (await redis.exists(lockKey(queue, name))) === 1;
}

/** Takes the lock, waiting (polling) while another holder has it. */
export async function lock(queue: SendQueue, name: string, ttlMs = 60_000): Promise<HeldLock> {
  for (let wait = 50; ; wait = Math.min(wait * 2, 1000)) {
    const held = await tryLock(queue, name, ttlMs);
    if (held) return held;
    await new Promise((r) => setTimeout(r, wait));
  }
}

/** The lock an issue's preparation holds (the resume scan skips an issue being prepared). */
export const prepareLockName = (issueId: number) => `prepare:${issueId}`;
export const RESUME_SCAN_LOCK = 'resume-scan';
