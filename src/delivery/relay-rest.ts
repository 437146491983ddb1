import { type RedisClient, scanKeys } from '../queue/redis.js';
import type { Classification, SmtpOutcomeLike } from './classify.js';

/**
 * Relay rests shared by every worker through Redis. A relay that asks us to slow down (421/454,
 * a provider's rate-limit reply) or cannot be reached rests: nobody sends through it until the
 * rest ends, then exactly one message probes it, and a reply that is not another rest cause ends
 * the rest (sending resumes at the relay's pace). One rest per burst: a refusal of a message that
 * went out before the current rest ended (or while it runs) belongs to the burst already counted;
 * only a failed probe doubles the rest. Each rest is lengthened by a random share of up to
 * REST_JITTER, so rests do not keep step with a relay's own throttling windows; the probe gate, not
 * the jitter, keeps workers from returning at once.
 */

/** Why a relay rests: a stable code and the relay's own words (or the network error). */
export interface RestCause {
  /** 'throttled' (the relay asked to slow down), 'unreachable' (no connection), or a caller's code. */
  reason: string;
  /** The relay's reply or the network error as received, e.g. "421 4.7.0 Too many connections". */
  reply: string | null;
  /** The reply's code, when there was one (for the log line). */
  smtpCode?: number | null;
}

export interface RelayRestState extends RestCause {
  relay: string;
  /** When this run of rests began (ms since epoch). */
  since: number;
  /** When the current rest ends; after it, one probe. */
  until: number;
  /** 0 for the first rest of a run; +1 per failed probe. */
  level: number;
}

export type RelayGate =
  | { kind: 'open' }
  /** This caller sends the one probe message; report its outcome with `rest` or `recovered`. */
  | { kind: 'probe' }
  | { kind: 'wait'; ms: number; rest: RelayRestState };

export interface RelayRestOptions {
  /** First rest (default 3 s); doubles per failed probe up to `maxMs`. */
  baseMs?: number;
  maxMs?: number;
  /** How long a probe may take before another worker may probe (a prober that died). */
  probeTimeoutMs?: number;
  random?: () => number;
  now?: () => number;
}

/** Which outcomes rest the relay (the decision table stays in classify.ts). Pure. */
export function restCauseOf(c: Classification, outcome: SmtpOutcomeLike | null): RestCause | null {
  const reply = outcome ? (outcome.response ?? outcome.message ?? null) : null;
  // 'rest-relay': a decision the provider-aware table may add (a reputation block).
  if (c.decision === 'throttle' || (c.decision as string) === 'rest-relay')
    return { reason: c.errorClass ?? 'throttled', reply, smtpCode: c.smtpCode };
  // A connection that was never made (refused, timed out, no such host): the relay is down.
  if (c.decision === 'retry' && c.errorClass === 'network') return { reason: 'unreachable', reply };
  return null;
}

/**
 * Most a rest is lengthened at random. Every share of it is time the relay could have taken mail
 * (under the 3-s-in-20-s pattern the overshoot past the burst is the throughput lost), so it is kept
 * small: a fifth.
 */
export const REST_JITTER = 0.2;

/** How often a sender looks again while another probes: a probe is one message, answered in milliseconds. */
const PROBE_POLL_MS = 50;

const REST = `
local k = KEYS[1]
local now, started, base, max, jitter = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
local cur = tonumber(redis.call('HGET', k, 'until') or '0')
if cur > now or (cur > 0 and started < cur) then return {0, cur} end
local level = 0
if cur > 0 then level = tonumber(redis.call('HGET', k, 'level')) + 1 end
local ms = math.max(math.min(base * (2 ^ level), max) * (1 + jitter), tonumber(ARGV[8]))
local untilAt = now + math.floor(ms)
redis.call('HSET', k, 'until', untilAt, 'level', level, 'reason', ARGV[6], 'reply', ARGV[7])
redis.call('HSETNX', k, 'since', now)
redis.call('PEXPIRE', k, math.floor(ms) + 3600000)
redis.call('DEL', KEYS[2])
return {1, untilAt, math.floor(ms)}
`;

export class RelayRests {
  private readonly baseMs: number;
  private readonly maxMs: number;
  private readonly probeTimeoutMs: number;
  private readonly random: () => number;
  private readonly now: () => number;

  constructor(
    private readonly redis: RedisClient,
    private readonly prefix: string,
    opts: RelayRestOptions = {},
  ) {
    this.baseMs = opts.baseMs ?? 3000;
    this.maxMs = opts.maxMs ?? 60_000;
    this.probeTimeoutMs = opts.probeTimeoutMs ?? 60_000;
    this.random = opts.random ?? Math.random;
    this.now = opts.now ?? Date.now;
  }

  private key(relay: string): string {
    return `${this.prefix}:relay-rest:${relay}`;
  }
  private probeKey(relay: string): string {
    return `${this.prefix}:relay-probe:${relay}`;
  }

  /**
   * Rests `relay` for `cause`, unless the refused message went out (`startedAt`) before the
   * current rest ended: that refusal is part of the burst already counted. `raised` says whether
   * this call began or lengthened a rest (log it then, not per message).
   */
  async rest(
    relay: string,
    cause: RestCause,
    startedAt: number = this.now(),
    /** At least this long (a reputation block rests longer than a throttle). */
    minMs = 0,
  ): Promise<{ raised: boolean; state: RelayRestState; ms: number }> {
    const [raised, , ms] = (await this.redis.eval(
      REST,
      2,
      this.key(relay),
      this.probeKey(relay),
      this.now(),
      startedAt,
      this.baseMs,
      this.maxMs,
      this.random() * REST_JITTER,
      cause.reason,
      (cause.reply ?? '').slice(0, 500),
      minMs,
    )) as [number, number, number?];
    const state = (await this.state(relay)) as RelayRestState;
    // Every worker's lanes stop at once (RestWatch), not only at their next pick.
    if (raised === 1)
      await this.redis.publish(restChannel(this.prefix), JSON.stringify({ relay, until: state.until }));
    return { raised: raised === 1, state, ms: ms ?? 0 };
  }

  /** May a sender use `relay` now: open, this caller probes, or wait (and how long). */
  async gate(relay: string): Promise<RelayGate> {
    const state = await this.state(relay);
    if (!state) return { kind: 'open' };
    const now = this.now();
    if (state.until > now) return { kind: 'wait', ms: state.until - now, rest: state };
    const won = await this.redis.set(this.probeKey(relay), String(now), 'PX', this.probeTimeoutMs, 'NX');
    // Another worker is probing: look again shortly.
    return won ? { kind: 'probe' } : { kind: 'wait', ms: PROBE_POLL_MS, rest: state };
  }

  /** The probe got a reply that is no rest cause: the rest is over. Returns the rest that ended. */
  async recovered(relay: string): Promise<RelayRestState | null> {
    const state = await this.state(relay);
    await this.redis.del(this.key(relay), this.probeKey(relay));
    if (state) await this.redis.publish(restChannel(this.prefix), JSON.stringify({ relay, until: 0 }));
    return state;
  }

  /** The probe ended without telling anything (connection lost mid-message): another may probe. */
  async probeInconclusive(relay: string): Promise<void> {
    await this.redis.del(this.probeKey(relay));
  }

  async state(relay: string): Promise<RelayRestState | null> {
    const h = await this.redis.hgetall(this.key(relay));
    if (!h.until) return null;
    return {
      relay,
      reason: h.reason ?? 'throttled',
      reply: h.reply || null,
      since: Number(h.since),
      until: Number(h.until),
      level: Number(h.level ?? 0),
    };
  }

  /** Every relay resting or waiting for its probe (for `gazette stats` and the send page). */
  async all(): Promise<RelayRestState[]> {
    const out: RelayRestState[] = [];
    const head = `${this.prefix}:relay-rest:`;
    for (const k of await scanKeys(this.redis, `${head}*`)) {
      const s = await this.state(k.slice(head.length));
      if (s) out.push(s);
    }
    return out.sort((a, b) => a.relay.localeCompare(b.relay));
  }
}

/** The channel on which rests begun, lengthened and ended are announced. */
export function restChannel(prefix: string): string {
  return `${prefix}:relay-rests`;
}

/**
 * What one worker process knows of the relays' rests, kept current by the announcements of every
 * worker (Redis pub/sub), so a rest one worker learns stops the others' lanes within a round trip
 * to Redis rather than at their next pick. Picks still ask Redis (`RelayRests.gate`); this is
 * the lanes' quick look before each message.
 */
export class RestWatch {
  private readonly until = new Map<string, number>();

  private constructor(
    private readonly sub: RedisClient,
    private readonly now: () => number,
  ) {}

  static async open(sub: RedisClient, prefix: string, now: () => number = Date.now): Promise<RestWatch> {
    const watch = new RestWatch(sub, now);
    sub.on('message', (_channel: string, text: string) => {
      try {
        const { relay, until } = JSON.parse(text) as { relay: string; until: number };
        watch.note(relay, until);
      } catch {
        // not ours
      }
    });
    await sub.subscribe(restChannel(prefix));
    return watch;
  }

  /** Whether `relay` rests now (as far as this process has heard). */
  resting(relay: string): boolean {
    return (this.until.get(relay) ?? 0) > this.now();
  }

  /** A rest until `until` (0: it ended), heard or learned by this process. */
  note(relay: string, until: number): void {
    if (until > 0) this.until.set(relay, Math.max(until, this.until.get(relay) ?? 0));
    else this.until.delete(relay);
  }

  close(): void {
    this.sub.disconnect();
  }
}
