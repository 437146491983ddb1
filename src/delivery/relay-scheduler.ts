import type { Logger } from '../log.js';
import type { RateGrant, RateLimits } from './rate-limit.js';
import type { Relay } from './relay-connection.js';
import type { RelayGate, RelayRestState, RestCause } from './relay-rest.js';

/**
 * Which relay a send job uses next, and for how many rows: relays are tried in weighted random
 * order, so weights share the work and a relay that rests (relay-rest.ts) or has spent its budget
 * (rate-limit.ts) hands its share to the others. A relay whose rest just ended gets one message
 * (the probe). After each group the scheduler reports what the relay said: a rest begun or
 * lengthened, or a probe answered (the rest is over).
 */

/** Weighted random choice; items with weight 0 are never chosen unless all are 0. */
export function pickWeighted<T extends { weight: number }>(
  items: T[],
  random: () => number = Math.random,
): T {
  const total = items.reduce((sum, t) => sum + t.weight, 0);
  if (total <= 0) return items[Math.floor(random() * items.length)] as T;
  let r = random() * total;
  for (const item of items) {
    r -= item.weight;
    if (r < 0) return item;
  }
  return items[items.length - 1] as T;
}

/**
 * All items in weighted random order (each next one picked by weight from those left), so a
 * caller tries its first choice by weight and falls back to the others; weight-0 items come last.
 */
export function weightedOrder<T extends { spec: { weight: number } }>(
  items: T[],
  random: () => number = Math.random,
): T[] {
  const left = items.map((t) => ({ weight: t.spec.weight, t }));
  const out: T[] = [];
  while (left.length) {
    const pick = pickWeighted(left, random);
    out.push(pick.t);
    left.splice(left.indexOf(pick), 1);
  }
  return out;
}

/** The rests the scheduler reads and reports to (RelayRests, shared through Redis). */
export interface RestBook {
  gate(relay: string): Promise<RelayGate>;
  rest(
    relay: string,
    cause: RestCause,
    startedAt: number,
    minMs: number,
  ): Promise<{ raised: boolean; state: RelayRestState; ms: number }>;
  recovered(relay: string): Promise<RelayRestState | null>;
  probeInconclusive(relay: string): Promise<void>;
}

/** The send budgets (RelayRateLimiter, shared through Redis). */
export interface Budgets {
  acquire(relay: string, limits: RateLimits, n: number): Promise<RateGrant>;
  refund(grant: RateGrant, n: number): Promise<void>;
}

export type RelayPick =
  | { relay: Relay; grant: RateGrant; granted: number; probe: boolean }
  /** None can send now: wait `retryInMs`; `hourly` when every relay's hourly budget is spent. */
  | { relay: null; retryInMs: number; hourly: boolean };

/** What a group on the wire told about its relay (row-outcome.ts GroupOutcome). */
export interface GroupReport {
  rest: (RestCause & { smtpCode?: number | null }) | null;
  restMinMs: number;
  startedAt: number;
  inconclusive: boolean;
}

export class RelayScheduler {
  // Until when a relay's hourly budget is spent (learned from the shared limiter). When every
  // budget is spent, the whole queue waits (BullMQ's rate limiter) rather than spin.
  private readonly spentUntil = new WeakMap<Relay, number>();
  private readonly now: () => number;
  private readonly random: () => number;

  constructor(
    private readonly opts: {
      rests: RestBook;
      budgets: Budgets;
      /** Rows a pick asks for (a probe asks for one). */
      chunkSize: number;
      log: Logger;
      now?: () => number;
      random?: () => number;
    },
  ) {
    this.now = opts.now ?? Date.now;
    this.random = opts.random ?? Math.random;
  }

  /** A relay with budget for (up to) a chunk now, or how long to wait. */
  async pick(relays: Relay[]): Promise<RelayPick> {
    const { rests, budgets, chunkSize } = this.opts;
    const now = this.now();
    const open = relays.filter((r) => (this.spentUntil.get(r) ?? 0) <= now);
    let retryInMs = Number.POSITIVE_INFINITY;
    for (const relay of weightedOrder(open, this.random)) {
      const gate = await rests.gate(relay.spec.name);
      if (gate.kind === 'wait') {
        retryInMs = Math.min(retryInMs, gate.ms);
        continue;
      }
      // The hourly budget is counted per chunk here; the per-second one paces each message in
      // the relay's lanes (relay-lanes.ts), so a chunk never leaves in a burst.
      const limits = { perSecond: 0, perHour: relay.spec.perHour };
      const grant = await budgets.acquire(relay.spec.name, limits, gate.kind === 'probe' ? 1 : chunkSize);
      if (grant.granted > 0) return { relay, grant, granted: grant.granted, probe: gate.kind === 'probe' };
      if (gate.kind === 'probe') await rests.probeInconclusive(relay.spec.name);
      if (grant.hourly) this.spentUntil.set(relay, now + grant.retryInMs);
      retryInMs = Math.min(retryInMs, grant.retryInMs);
    }
    const hourly = relays.every((r) => (this.spentUntil.get(r) ?? 0) > now);
    if (hourly) retryInMs = Math.min(...relays.map((r) => (this.spentUntil.get(r) as number) - now));
    return { relay: null, retryInMs: Math.max(1, retryInMs), hourly };
  }

  /** Gives back the part of a grant the job could not use (fewer rows were left). */
  refund(grant: RateGrant, unused: number): Promise<void> {
    return this.opts.budgets.refund(grant, unused);
  }

  /** A probe pick sent nothing (no rows left, none eligible): another sender may probe. */
  async unused(relay: Relay, probe: boolean): Promise<void> {
    if (probe) await this.opts.rests.probeInconclusive(relay.spec.name);
  }

  /**
   * After an outcome that rests the relay (at once) or a probe's chunk: a relay's rest began,
   * lengthened or ended — one log line with the relay's own words. Returns the rest now running.
   */
  async report(
    issueId: number,
    relay: Relay,
    out: GroupReport,
    probe: boolean,
  ): Promise<RelayRestState | null> {
    const { rests, log } = this.opts;
    const name = relay.spec.name;
    if (out.rest) {
      const { raised, state, ms } = await rests.rest(name, out.rest, out.startedAt, out.restMinMs);
      if (raised) {
        log.warn(
          {
            event: out.restMinMs ? 'delivery.relay.blocked' : 'delivery.relay.resting',
            relay: name,
            reason: state.reason,
            issueId,
            reply: state.reply,
            smtpCode: out.rest.smtpCode ?? null,
            ms,
            level: state.level,
          },
          `relay ${name} rests: ${state.reply ?? state.reason}`,
        );
      }
      return state;
    }
    if (probe) {
      if (out.inconclusive) await rests.probeInconclusive(name);
      else {
        const ended = await rests.recovered(name);
        if (ended)
          log.info(
            {
              event: 'delivery.relay.recovered',
              relay: name,
              reason: ended.reason,
              restedMs: this.now() - ended.since,
            },
            `relay ${name} answers again; sending resumes at its pace`,
          );
      }
    }
    return null;
  }
}
