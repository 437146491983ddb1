import type { Redis } from 'ioredis';

/**
 * Per-relay send budget shared by every worker on every host: fixed one-second and one-hour
 * windows counted in Redis. acquire() grants up to n messages now (0 when a window is full).
 */
const SCRIPT = `
local n = tonumber(ARGV[1])
local limits = { tonumber(ARGV[2]), tonumber(ARGV[3]) }
local ttls = { 2000, 3700000 }
local grant = n
for i = 1, 2 do
  if limits[i] > 0 then
    local used = tonumber(redis.call('GET', KEYS[i]) or '0')
    grant = math.min(grant, limits[i] - used)
  end
end
if grant <= 0 then return 0 end
for i = 1, 2 do
  if limits[i] > 0 then
    redis.call('INCRBY', KEYS[i], grant)
    redis.call('PEXPIRE', KEYS[i], ttls[i])
  end
end
return grant
`;

/** Gives back part of a grant, in the windows it was counted in, if they still exist. */
const REFUND = `
for i = 1, #KEYS do
  if redis.call('EXISTS', KEYS[i]) == 1 then redis.call('DECRBY', KEYS[i], ARGV[1]) end
end
return 0
`;

export interface RateLimits {
  perSecond: number;
  perHour: number;
}

export interface RateGrant {
  granted: number;
  /** When nothing was granted: how long until a window opens again. */
  retryInMs: number;
  /** The hourly budget (not just this second's) is spent. */
  hourly: boolean;
  /** The window keys the grant was counted in, so unused budget goes back to those windows. */
  windows: string[];
}

export class RelayRateLimiter {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    private readonly now: () => number = Date.now,
  ) {}

  async acquire(relay: string, limits: RateLimits, n: number): Promise<RateGrant> {
    if (limits.perSecond <= 0 && limits.perHour <= 0)
      return { granted: n, retryInMs: 0, hourly: false, windows: [] };
    const t = this.now();
    const sec = Math.floor(t / 1000);
    const hour = Math.floor(t / 3_600_000);
    const keys = [
      `${this.prefix}:ratelimit:${relay}:s:${sec}`,
      `${this.prefix}:ratelimit:${relay}:h:${hour}`,
    ];
    const granted = Number(await this.redis.eval(SCRIPT, 2, ...keys, n, limits.perSecond, limits.perHour));
    if (granted > 0) {
      const windows = keys.filter((_, i) => (i === 0 ? limits.perSecond : limits.perHour) > 0);
      return { granted, retryInMs: 0, hourly: false, windows };
    }
    const hourUsed = limits.perHour > 0 ? Number((await this.redis.get(keys[1] as string)) ?? 0) : 0;
    const hourly = limits.perHour > 0 && hourUsed >= limits.perHour;
    return {
      granted: 0,
      hourly,
      retryInMs: hourly ? (hour + 1) * 3_600_000 - t : (sec + 1) * 1000 - t,
      windows: [],
    };
  }

  /**
   * Gives back `n` of a grant that was not used, to the windows it was counted in: a refund that
   * lands in the next second must not enlarge that second's budget.
   */
  async refund(grant: RateGrant, n: number): Promise<void> {
    if (n <= 0 || !grant.windows.length) return;
    await this.redis.eval(REFUND, grant.windows.length, ...grant.windows, Math.min(n, grant.granted));
  }
}
