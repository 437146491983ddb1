import { randomBytes } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { PACE, type RateGrant, RelayRateLimiter } from '../../src/delivery/rate-limit.js';
import { createRedis } from '../../src/queue/redis.js';
import { TEST_REDIS_URL } from '../support/test-env.js';

/**
 * The shared send budget (src/delivery/rate-limit.ts) against real Redis: per second a schedule of
 * slots (GCRA), per hour a sliding window. The clock is the test's, so time is exact; the
 * multi-process check against a relay is in budget.test.ts.
 */
const redis = createRedis(TEST_REDIS_URL);
const prefix = `gtest-${randomBytes(5).toString('hex')}`;

afterAll(async () => {
  const keys = await redis.keys(`${prefix}:*`);
  if (keys.length) await redis.del(...keys);
  redis.disconnect();
});

/** The most slots in any window of `ms` (slots sorted). */
function busiest(slots: number[], ms: number): number {
  let best = 0;
  let lo = 0;
  for (let hi = 0; hi < slots.length; hi++) {
    while ((slots[hi] as number) - (slots[lo] as number) >= ms) lo++;
    best = Math.max(best, hi - lo + 1);
  }
  return best;
}

const slotsOf = (g: RateGrant) => Array.from({ length: g.granted }, (_, i) => g.slotAt(i));

describe('the per-second budget', () => {
  it('puts every grant of every caller on one schedule: no second holds more than the limit, and the limit is used', async () => {
    let now = 1_700_000_000_000;
    const callers = [0, 1, 2].map(() => new RelayRateLimiter(redis, prefix, { now: () => now, pace: 1 }));
    const limits = { perSecond: 100, perHour: 0 };
    const slots: number[] = [];
    let seed = 7;
    const random = () => {
      seed = (seed * 48271) % 2147483647;
      return seed / 2147483647;
    };
    const start = now;
    // Callers ask for chunks of 1..50 at random moments for 10 s: what fixed windows let through
    // twice over at an edge.
    while (now < start + 10_000) {
      const g = await (callers[Math.floor(random() * 3)] as RelayRateLimiter).acquire(
        'relay:25',
        limits,
        1 + Math.floor(random() * 50),
      );
      slots.push(...slotsOf(g));
      now += Math.floor(random() * 40);
    }
    slots.sort((a, b) => a - b);
    expect(busiest(slots, 1000)).toBeLessThanOrEqual(100);
    // Slots are 10 ms apart and never in the past.
    for (let i = 1; i < slots.length; i++)
      expect((slots[i] as number) - (slots[i - 1] as number)).toBeGreaterThanOrEqual(9.999);
    // Demand always exceeded 100/s, so the schedule was full: about 1,000 slots in 10 s (the last
    // grant reaches at most 500 ms ahead).
    expect(slots.length).toBeGreaterThanOrEqual(990);
    expect(slots.length).toBeLessThanOrEqual(1051);
  });

  it('grants at most half a second ahead, says how long to wait when the schedule is full, and takes back unused slots at its end', async () => {
    let now = 1_700_000_000_000;
    const a = new RelayRateLimiter(redis, prefix, { now: () => now, pace: 1 });
    const b = new RelayRateLimiter(redis, prefix, { now: () => now, pace: 1 });
    const limits = { perSecond: 10, perHour: 0 };
    const first = await a.acquire('ahead:25', limits, 8);
    expect(first.granted).toBe(5);
    expect(slotsOf(first)).toEqual([0, 100, 200, 300, 400].map((d) => now + d));
    const full = await b.acquire('ahead:25', limits, 8);
    expect(full).toMatchObject({ granted: 0, hourly: false, retryInMs: 100 });
    now += 100;
    const next = await b.acquire('ahead:25', limits, 8);
    expect(slotsOf(next)).toEqual([now + 400]);
    // Two of those were not used (rows that were not there): the schedule's end moves back.
    const more = await a.acquire('back:25', limits, 3);
    await a.refund(more, 2);
    expect(slotsOf(await b.acquire('back:25', limits, 1))).toEqual([now + 100]);
    // A refund behind a later grant cannot move the end: the slots are simply left unused.
    const early = await a.acquire('behind:25', limits, 2);
    const later = await b.acquire('behind:25', limits, 1);
    await a.refund(early, 2);
    expect(slotsOf(await b.acquire('behind:25', limits, 1))).toEqual([(later.slotAt(0) as number) + 100]);
  });

  it('tells a message that missed its slot by more than two slots to give it up', async () => {
    const now = 1_700_000_000_000;
    const a = new RelayRateLimiter(redis, prefix, { now: () => now, pace: 1 });
    const g = await a.acquire('late:25', { perSecond: 100, perHour: 0 }, 3);
    expect(g.late(2, now + 20 + 20)).toBe(false);
    expect(g.late(2, now + 20 + 21)).toBe(true);
  });

  it("reads Redis's clock by default, one clock for every host, and paces a little under the limit", async () => {
    const a = new RelayRateLimiter(redis, prefix);
    const before = Date.now();
    const g = await a.acquire('clock:25', { perSecond: 50, perHour: 0 }, 3);
    expect(g.granted).toBe(3);
    expect(Math.abs(g.slotAt(0) - before)).toBeLessThan(1000);
    // 50 a second paced at PACE: slots 1000 / (50 × 0.9) ms apart.
    expect(PACE).toBe(0.9);
    expect(g.slotAt(2) - g.slotAt(0)).toBeCloseTo((2 * 1000) / (50 * PACE), 2);
  });

  it('grants everything at once, unscheduled, to a relay without limits', async () => {
    const g = await new RelayRateLimiter(redis, prefix).acquire('free:25', { perSecond: 0, perHour: 0 }, 40);
    expect(g.granted).toBe(40);
    expect(g.slotAt(39)).toBe(0);
    expect(g.late(39)).toBe(false);
  });
});

describe('the per-hour budget', () => {
  it('is a sliding hour: what was granted frees up an hour after its grant, not at the top of the hour', async () => {
    let now = Date.UTC(2026, 11, 6, 9, 59, 0);
    const a = new RelayRateLimiter(redis, prefix, { now: () => now, pace: 1 });
    const limits = { perSecond: 0, perHour: 25 };
    expect((await a.acquire('hour:25', limits, 10)).granted).toBe(10);
    now += 30 * 60_000;
    expect((await a.acquire('hour:25', limits, 20)).granted).toBe(15);
    // Past the top of the hour (10:00) nothing frees: the window slides.
    now += 29 * 60_000;
    const spent = await a.acquire('hour:25', limits, 1);
    expect(spent).toMatchObject({ granted: 0, hourly: true, retryInMs: 60_000 });
    now += 60_000;
    expect((await a.acquire('hour:25', limits, 20)).granted).toBe(10);
    // A refund gives back to the hour it was taken from.
    const g = await a.acquire('refund:25', limits, 25);
    await a.refund(g, 5);
    expect((await a.acquire('refund:25', limits, 20)).granted).toBe(5);
  });
});
