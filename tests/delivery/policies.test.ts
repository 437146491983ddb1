import { randomBytes } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { retryDelayMs, type SmtpOutcomeLike } from '../../src/delivery/classify.js';
import type { RateGrant } from '../../src/delivery/rate-limit.js';
import type { Relay } from '../../src/delivery/relay-connection.js';
import { RelayRests } from '../../src/delivery/relay-rest.js';
import { type Budgets, RelayScheduler, type RestBook } from '../../src/delivery/relay-scheduler.js';
import { addToGroup, emptyGroup, rowOutcome } from '../../src/delivery/row-outcome.js';
import { silentLogger } from '../../src/log.js';
import { createRedis } from '../../src/queue/redis.js';
import { TEST_REDIS_URL } from '../support/test-env.js';

/** The send worker's rules, each a row of a table: what an SMTP outcome does, when a relay rests, which relay sends. */

const reply = (responseCode: number, response: string): SmtpOutcomeLike => ({ responseCode, response });
const net = (code: string, message: string): SmtpOutcomeLike => ({ code, message });
const policy = { maxAttempts: 4, retryBaseMs: 1000, blockRestMs: 60_000, now: 0, random: () => 1 };
const row = { id: 7, email: 'reader@example.test', attempts: 0 };

describe('the row-outcome table: one SMTP outcome → the row, the relay, the issue', () => {
  it.each<[string, SmtpOutcomeLike | null, object]>([
    ['a 250', reply(250, '250 2.0.0 Ok: queued'), { state: 'accepted', attempted: true, breaker: 'ok' }],
    ['no reply object (accepted)', null, { state: 'accepted', attempted: true, breaker: 'ok' }],
    [
      'a 451',
      reply(451, '451 4.3.0 try later'),
      { state: 'deferred', attempted: true, retry: true, breaker: 'failed' },
    ],
    [
      'a 421 at RCPT',
      reply(421, '421 4.7.0 slow down'),
      { state: 'queued', attempted: false, rest: 'rate_limited' },
    ],
    [
      'a 454',
      reply(454, '454 4.7.0 TLS not available now'),
      { state: 'queued', attempted: false, rest: 'rate_limited' },
    ],
    [
      "QQ's 550 frequency limit",
      reply(550, '550 Domain frequency limited'),
      { state: 'queued', rest: 'rate_limited' },
    ],
    [
      'a refused connection',
      net('ECONNECTION', 'connect ECONNREFUSED 127.0.0.1:25'),
      { state: 'queued', attempted: false, rest: 'unreachable' },
    ],
    [
      'a 550 no such user',
      reply(550, '550 5.1.1 no such user'),
      { state: 'failed', attempted: true, suppress: true, breaker: 'failed' },
    ],
    [
      'a 554 policy refusal',
      reply(554, '554 5.7.1 rejected by policy'),
      { state: 'failed', suppress: false, rest: 'blocked', restMinMs: 60_000 },
    ],
    [
      'a 552 mailbox full',
      reply(552, '552 5.2.2 mailbox full'),
      { state: 'failed', suppress: false, rest: null, breaker: 'failed' },
    ],
    [
      'a 535 login refusal',
      reply(535, '535 5.7.8 Authentication failed'),
      { state: 'queued', attempted: false, pause: 'smtp_auth', breaker: null },
    ],
    [
      'a TLS error',
      net('ETLS', 'TLS handshake failed'),
      { state: 'queued', pause: 'smtp_tls', breaker: null },
    ],
    [
      'a connection cut mid-DATA',
      net('ECONNECTION', 'Connection closed unexpectedly'),
      { state: 'unknown', attempted: true, breaker: 'connection' },
    ],
    [
      'a message the pool gave back unsent',
      { message: 'Reached maximum number of retries after connection was closed' },
      { state: 'queued', attempted: false, unsent: true, breaker: null },
    ],
  ])('%s', (_name, outcome, expected) => {
    const o = rowOutcome(row, 'mid@example.test', outcome, policy);
    const seen = {
      state: o.result.state,
      attempted: o.result.attempted,
      retry: !!o.retry,
      rest: o.rest?.reason ?? null,
      restMinMs: o.restMinMs ?? 0,
      suppress: !!o.suppress,
      pause: o.pause?.reason ?? null,
      unsent: !!o.unsent,
      breaker: o.breaker,
    };
    expect(seen).toMatchObject(expected);
  });

  it.each([
    // attempts used before → what a 451 does now
    [0, 'deferred', 1],
    [2, 'deferred', 3],
    [3, 'failed', null],
  ])('a 451 after %i attempts: %s (attempt %s)', (attempts, state, attempt) => {
    const o = rowOutcome({ ...row, attempts }, 'm', reply(451, '451 try later'), policy);
    expect(o.result.state).toBe(state);
    expect(o.retry?.attempt ?? null).toBe(attempt);
    if (state === 'failed') expect(o.result.errorClass).toBe('retries_exhausted');
  });

  it.each([
    // attempt, random → delay: full jitter over the upper half of base × 2^(attempt-1)
    [1, 0, 500],
    [1, 1, 1000],
    [2, 0.5, 1500],
    [3, 1, 4000],
  ])('retry %i with random %d waits %i ms', (attempt, random, ms) => {
    expect(retryDelayMs(attempt, 1000, () => random)).toBe(ms);
    if (attempt === 1) {
      const o = rowOutcome(row, 'm', reply(451, '451'), { ...policy, now: 10, random: () => random });
      expect(o.retry?.at.getTime()).toBe(10 + ms);
    }
  });

  it('folds a group: the first rest cause wins, a reply-level pause is kept, accepted rows are counted', () => {
    const g = emptyGroup(0);
    for (const outcome of [
      reply(250, '250 ok'),
      net('ECONNECTION', 'connect ECONNREFUSED'),
      reply(421, '421 slow down'),
      reply(535, '535 auth'),
      { message: 'Reached maximum number of retries after connection was closed' },
    ])
      addToGroup(g, rowOutcome({ ...row, id: g.results.length + 1 }, 'm', outcome, policy));
    expect(g).toMatchObject({ accepted: 1, pauseReason: 'smtp_auth', pauseReply: '535 auth', unsentMin: 5 });
    expect(g.rest?.reason).toBe('unreachable');
    expect(g.results.map((r) => r.state)).toEqual(['accepted', 'queued', 'queued', 'queued', 'queued']);
  });
});

describe('relay rests: one per burst, doubled only by a failed probe', () => {
  const redis = createRedis(TEST_REDIS_URL);
  afterAll(() => redis.disconnect());
  // [what, a rest already running? (level, ends at), refused message went out at, now] → raised, level, ms
  it.each<
    [string, { level: number; until: number } | null, number, number, boolean, number | null, number | null]
  >([
    ['no rest yet: a first rest (base, + a fifth at most for jitter)', null, 1000, 1000, true, 0, 1200],
    ['a refusal during the rest: same burst', { level: 0, until: 2500 }, 1100, 1200, false, null, null],
    [
      'a message sent before the rest ended, refused after it: same burst',
      { level: 0, until: 2500 },
      2400,
      2600,
      false,
      null,
      null,
    ],
    ['a probe refused after the rest: doubled', { level: 0, until: 2500 }, 2600, 2600, true, 1, 2400],
    ['a third failed probe: quadrupled', { level: 1, until: 5600 }, 5700, 5700, true, 2, 4800],
    ['capped at maxMs', { level: 9, until: 100 }, 200, 200, true, 10, 12_000],
  ])('%s', async (_what, running, startedAt, now, raised, level, ms) => {
    let clock = 0;
    const prefix = `gtest-${randomBytes(5).toString('hex')}`;
    const rests = new RelayRests(redis, prefix, {
      baseMs: 1000,
      maxMs: 10_000,
      random: () => 1,
      now: () => clock,
    });
    if (running) {
      await redis.hset(`${prefix}:relay-rest:r`, { ...running, since: 0, reason: 'throttled', reply: '421' });
    }
    clock = now;
    const out = await rests.rest('r', { reason: 'throttled', reply: '421 slow down' }, startedAt);
    expect(out.raised).toBe(raised);
    if (raised) {
      expect(out.state.level).toBe(level);
      expect(out.ms).toBe(ms);
      expect(out.state.until).toBe(now + (ms as number));
    } else expect(out.state.until).toBe(running?.until);
  });
});

describe('the relay scheduler: which relay sends, and how many rows', () => {
  const relay = (name: string, weight = 1): Relay =>
    ({ spec: { name, url: `smtp://${name}`, weight, perSecond: 0, perHour: 0 } }) as Relay;
  const grant = (granted: number, extra: Partial<RateGrant> = {}): RateGrant => ({
    granted,
    retryInMs: granted ? 0 : 400,
    hourly: false,
    slotAt: () => 0,
    late: () => false,
    refundKey: null,
    ...extra,
  });
  type Gate = 'open' | 'probe' | number; // a number: resting that many ms more
  function scheduler(gates: Record<string, Gate>, grants: Record<string, RateGrant>) {
    const probesGivenBack: string[] = [];
    const rests: RestBook = {
      gate: async (name) => {
        const g = gates[name] ?? 'open';
        return typeof g === 'number' ? { kind: 'wait', ms: g, rest: {} as never } : { kind: g };
      },
      rest: async () => ({ raised: false, state: {} as never, ms: 0 }),
      recovered: async () => null,
      probeInconclusive: async (name) => {
        probesGivenBack.push(name);
      },
    };
    const asked: [string, number][] = [];
    const budgets: Budgets = {
      acquire: async (name, _limits, n) => {
        asked.push([name, n]);
        const g = grants[name] ?? grant(n);
        return { ...g, granted: Math.min(g.granted, n) };
      },
      refund: async () => {},
    };
    // random 0: weighted order is list order among equal weights.
    const s = new RelayScheduler({ rests, budgets, chunkSize: 10, log: silentLogger, random: () => 0 });
    return { s, asked, probesGivenBack };
  }

  it.each<[string, Record<string, Gate>, Record<string, RateGrant>, object]>([
    ['an open relay takes a chunk', {}, {}, { relay: 'a', granted: 10, probe: false }],
    [
      'a relay whose rest ended sends one message, the probe',
      { a: 'probe' },
      {},
      { relay: 'a', granted: 1, probe: true },
    ],
    ['a resting relay hands its share to the next', { a: 5000 }, {}, { relay: 'b', granted: 10 }],
    ['a relay out of this second’s budget hands on too', {}, { a: grant(0) }, { relay: 'b' }],
    ['a partial grant is what the job may claim', {}, { a: grant(3) }, { relay: 'a', granted: 3 }],
    [
      'every relay resting: wait for the first rest to end',
      { a: 5000, b: 800 },
      {},
      { relay: null, retryInMs: 800, hourly: false },
    ],
    [
      'every second budget spent: wait for the next second',
      {},
      { a: grant(0), b: grant(0) },
      { relay: null, retryInMs: 400, hourly: false },
    ],
    [
      'every hourly budget spent: the whole queue waits',
      {},
      { a: grant(0, { hourly: true, retryInMs: 9000 }), b: grant(0, { hourly: true, retryInMs: 7000 }) },
      { relay: null, retryInMs: 7000, hourly: true },
    ],
  ])('%s', async (_name, gates, grants, expected) => {
    const { s } = scheduler(gates, grants);
    const pick = await s.pick([relay('a'), relay('b')]);
    expect({ ...pick, relay: pick.relay?.spec.name ?? null }).toMatchObject(expected);
  });

  it('a probe that gets no budget is given back, so another sender may probe', async () => {
    const { s, probesGivenBack } = scheduler({ a: 'probe', b: 1000 }, { a: grant(0) });
    expect((await s.pick([relay('a'), relay('b')])).relay).toBeNull();
    expect(probesGivenBack).toEqual(['a']);
  });

  it('a relay out of its hourly budget is not asked again until the hour it was told', async () => {
    const { s, asked } = scheduler({}, { a: grant(0, { hourly: true, retryInMs: 60_000 }) });
    const relays = [relay('a'), relay('b')];
    await s.pick(relays);
    await s.pick(relays);
    expect(asked.map(([name]) => name)).toEqual(['a', 'b', 'b']);
  });
});
