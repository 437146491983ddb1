import type { RedisClient } from '../queue/redis.js';

/**
 * Per-relay send budget shared by every worker on every host, kept in Redis.
 *
 * Per second: GCRA (the generic cell rate algorithm) as a schedule. The relay has one "next free
 * slot" time; a grant of k messages takes the k slots from there, 1000/perSecond ms apart, and
 * says when the first is. The sender starts each message at its slot and gives up a slot it missed
 * (`RateGrant.slotAt`, `late`), so messages leave evenly whatever the grant sizes or the number of
 * workers: any one-second window holds at most perSecond slots. Fixed one-second windows (what
 * this replaced) let a burst of up to twice the limit through across a window edge.
 *
 * Per hour: a sliding window over grants (each grant a member of a sorted set, scored by its time,
 * and a running total), so no hour-long window holds more than perHour.
 *
 * Time is Redis's own clock (TIME), one clock for every host; tests may pass theirs.
 * rate-limiter-flexible was considered: its Redis limiters count fixed windows, and its
 * `execEvenly` spaces actions within one process only.
 */
const ACQUIRE = `
local n = tonumber(ARGV[1])
local perSecond, perHour = tonumber(ARGV[2]), tonumber(ARGV[3])
local horizon = tonumber(ARGV[4])
local now = tonumber(ARGV[5])
if now < 0 then
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
end
local grant = n
local tat = now
local interval = 0
if perSecond > 0 then
  interval = 1000 / (perSecond * tonumber(ARGV[7]))
  tat = math.max(tonumber(redis.call('GET', KEYS[1]) or '0'), now)
  -- A grant may reach at most horizon ms ahead: enough to keep a chunk busy, little to waste.
  local room = math.floor((now + horizon - tat) / interval + 1e-9)
  grant = math.min(grant, room)
  if grant <= 0 then return {0, tostring(tat + interval - horizon - now), 0, '', '0'} end
end
local used = 0
if perHour > 0 then
  local cutoff = now - 3600000
  local old = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', cutoff)
  used = tonumber(redis.call('GET', KEYS[3]) or '0')
  for _, m in ipairs(old) do used = used - tonumber(string.match(m, ':(%-?%d+)$')) end
  if #old > 0 then redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', cutoff) end
  if used < 0 then used = 0 end
  grant = math.min(grant, perHour - used)
  if grant <= 0 then
    redis.call('SET', KEYS[3], used, 'PX', 3700000)
    local first = redis.call('ZRANGE', KEYS[2], 0, 0, 'WITHSCORES')
    local wait = 1000
    if first[2] then wait = tonumber(first[2]) + 3600000 - now end
    return {0, tostring(math.max(wait, 1)), 1, '', '0'}
  end
end
local member = ''
if perHour > 0 then
  member = string.format('%.3f', now) .. ':' .. ARGV[6] .. ':' .. grant
  redis.call('ZADD', KEYS[2], now, member)
  redis.call('SET', KEYS[3], used + grant, 'PX', 3700000)
  redis.call('PEXPIRE', KEYS[2], 3700000)
end
local endAt = ''
if perSecond > 0 then
  endAt = string.format('%.3f', tat + grant * interval)
  redis.call('SET', KEYS[1], endAt, 'PX', math.ceil(horizon + grant * interval + 1000))
end
return {grant, tostring(tat - now), 0, member, tostring(interval), endAt}
`;

/**
 * Gives back the last `k` slots of a grant: the per-second schedule only when nobody took slots
 * after them (else they are simply unused), the hourly window always.
 */
const REFUND = `
local k = tonumber(ARGV[1])
local interval = tonumber(ARGV[2])
if interval > 0 then
  local tat = redis.call('GET', KEYS[1])
  if tat == ARGV[3] then redis.call('SET', KEYS[1], string.format('%.3f', tonumber(tat) - k * interval), 'KEEPTTL') end
end
local member = ARGV[4]
if member ~= '' then
  local score = redis.call('ZSCORE', KEYS[2], member)
  if score then
    local granted = tonumber(string.match(member, ':(%-?%d+)$'))
    local left = granted - k
    redis.call('ZREM', KEYS[2], member)
    if left > 0 then redis.call('ZADD', KEYS[2], score, (string.gsub(member, ':%-?%d+$', ':' .. left))) end
    local used = tonumber(redis.call('GET', KEYS[3]) or '0') - k
    if used < 0 then used = 0 end
    redis.call('SET', KEYS[3], used, 'KEEPTTL')
  end
end
return 0
`;

export interface RateLimits {
  perSecond: number;
  perHour: number;
}

export interface RateGrant {
  granted: number;
  /** When nothing was granted: how long until a slot opens again. */
  retryInMs: number;
  /** The hourly budget (not just the next second's) is spent. */
  hourly: boolean;
  /**
   * When (Date.now() terms) the i-th granted message may start; 0 for all when the relay has no
   * per-second limit.
   */
  slotAt(i: number): number;
  /** Whether a message that starts at `now` missed its slot i (then it gives the slot up). */
  late(i: number, now?: number): boolean;
  /** For refunds: where the grant ends in the schedule (as stored), and its hourly entry. */
  readonly refundKey: { relay: string; endAt: string; intervalMs: number; member: string } | null;
}

export interface RateLimiterOptions {
  /** The clock in ms; default Redis's own (TIME), the same for every host. */
  now?: () => number;
  /** How far ahead one grant may reserve slots (default 500 ms). */
  horizonMs?: number;
  /** Share of the per-second limit the slots are paced at (default PACE). */
  pace?: number;
  /**
   * How late a message may start after its slot before it gives the slot up (default two slots,
   * at least 2 ms): late starters bunch, and this bounds the bunch to about two messages.
   */
  lateMs?: number;
}

/**
 * Slots are paced at this share of a relay's per-second limit. A slot governs when a message's
 * SMTP transaction starts; its last byte reaches the relay a few round trips later, and on a busy
 * host that delay varies by up to ~100 ms, which bunches arrivals. The tenth kept free absorbs it:
 * three worker processes at 100/s on a 2-core host under `stress-ng --cpu 8` gave a busiest second
 * of 96–99 at the relay (tests/delivery/workers.test.ts), where 0.97 gave 107–109.
 */
export const PACE = 0.9;

const UNLIMITED: RateGrant = Object.freeze({
  granted: 0,
  retryInMs: 0,
  hourly: false,
  slotAt: () => 0,
  late: () => false,
  refundKey: null,
});

export class RelayRateLimiter {
  private readonly now: (() => number) | null;
  private readonly horizonMs: number;
  private readonly lateMs: number | undefined;
  private readonly pace: number;
  private seq = 0;

  constructor(
    private readonly redis: RedisClient,
    private readonly prefix: string,
    opts: RateLimiterOptions | (() => number) = {},
  ) {
    const o = typeof opts === 'function' ? { now: opts } : opts;
    this.now = o.now ?? null;
    this.horizonMs = o.horizonMs ?? 500;
    this.lateMs = o.lateMs;
    this.pace = o.pace ?? PACE;
  }

  private keys(relay: string): string[] {
    const k = `${this.prefix}:ratelimit:${relay}`;
    return [`${k}:tat`, `${k}:hour`, `${k}:hour-used`];
  }

  /** Grants up to `n` messages through `relay` (0 when no slot is free), with their slots. */
  async acquire(relay: string, limits: RateLimits, n: number): Promise<RateGrant> {
    if (limits.perSecond <= 0 && limits.perHour <= 0) return { ...UNLIMITED, granted: n };
    const clock = this.now ? this.now() : -1;
    // The slot is an offset from Redis's now: seen from here it lies between the call and the
    // answer. A message waits for the later reading (never early) and counts as late from the
    // earlier (a stall while the answer came does not push its slot along).
    const askedAt = this.now ? clock : Date.now();
    const [granted, offset, hourly, member, interval, endAt] = (await this.redis.eval(
      ACQUIRE,
      3,
      ...this.keys(relay),
      n,
      limits.perSecond,
      limits.perHour,
      this.horizonMs,
      clock,
      `${process.pid}.${++this.seq}`,
      this.pace,
    )) as [number, string, number, string, string, string?];
    const localNow = this.now ? this.now() : Date.now();
    if (granted <= 0) {
      return { ...UNLIMITED, retryInMs: Math.max(1, Math.ceil(Number(offset))), hourly: hourly === 1 };
    }
    const intervalMs = Number(interval);
    const first = localNow + Number(offset);
    const earliest = askedAt + Number(offset);
    const lateMs = this.lateMs ?? Math.max(2, 2 * intervalMs);
    const slotAt = (i: number) => (intervalMs > 0 ? first + i * intervalMs : 0);
    return {
      granted,
      retryInMs: 0,
      hourly: false,
      slotAt,
      late: (i, at = Date.now()) => intervalMs > 0 && at > earliest + i * intervalMs + lateMs,
      refundKey: { relay, endAt: endAt ?? '', intervalMs, member },
    };
  }

  /**
   * Gives back the last `n` slots of a grant that were not used (rows that were not there, or
   * messages that missed their slot): the hourly window always, the per-second schedule when no
   * later grant was made.
   */
  async refund(grant: RateGrant, n: number): Promise<void> {
    const r = grant.refundKey;
    if (n <= 0 || !r) return;
    const k = Math.min(n, grant.granted);
    await this.redis.eval(REFUND, 3, ...this.keys(r.relay), k, r.intervalMs, r.endAt, r.member);
  }
}
