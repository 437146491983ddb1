import { describe, expect, it } from 'vitest';
import type { SendWorker } from '../../src/delivery/send-worker.js';
import type { SmtpCatcher } from '../../src/smtp/catcher.js';
import { waitFor } from '../support/wait.js';
import { deliveryHarness, emails } from './harness.js';

/**
 * Several SMTP relays, each a real smtp-server peer, configured the way an operator does it:
 * SMTP_URL entries with `#weight=N&perSecond=N&perHour=N`.
 */
const h = deliveryHarness({
  env: { SEND_CONCURRENCY: '5', SEND_BATCH_SIZE: '10', SMTP_POOL_CONNECTIONS: '2' },
});

/** A peer that records when each message arrived. */
async function peer(): Promise<SmtpCatcher & { at: number[] }> {
  const at: number[] = [];
  const c = await h.catcher(() => {
    at.push(Date.now());
    return undefined;
  });
  return Object.assign(c, { at });
}

const worker = (urls: string[], throttleMs?: number) => h.worker(urls, throttleMs ? { throttleMs } : {});

async function sendTo(n: number, tag: string, w: SendWorker) {
  return h.settled(await h.startSend(w, emails(n, tag)), 40_000);
}

const recipients = (...peers: SmtpCatcher[]) => peers.flatMap((p) => p.messages.flatMap((m) => m.to));
const hour = () => Math.floor(Date.now() / 3_600_000);

describe('several relays', () => {
  it('share the work by weight, and a weight-0 relay is only a fallback', async () => {
    const [a, b, spare] = [await peer(), await peer(), await peer()];
    const w = await worker([`${a.url}#weight=3`, `${b.url}#weight=1`, `${spare.url}#weight=0`]);
    const n = 200;
    const { state, stats } = await sendTo(n, 'weights', w);
    expect(state).toBe('sent');
    expect(stats.byState.accepted).toBe(n);
    // 40 chunks of 5, each to a relay picked by weight: 3 to 1 in expectation.
    expect(a.messages.length).toBeGreaterThan(b.messages.length);
    expect(b.messages.length).toBeGreaterThan(0);
    expect(spare.messages).toHaveLength(0);
    const to = recipients(a, b, spare);
    expect(to).toHaveLength(n);
    expect(new Set(to).size).toBe(n);
    const byRelay = await h.tdb.db
      .selectFrom('deliveries')
      .select(['relay', h.tdb.db.fn.countAll<number>().as('n')])
      .where('state', '=', 'accepted')
      .where('relay', 'is not', null)
      .groupBy('relay')
      .execute();
    // The ledger names the relay of every row, matching what each peer received.
    const counted = Object.fromEntries(byRelay.map((r) => [r.relay, Number(r.n)]));
    expect(counted[`127.0.0.1:${a.port}`]).toBe(a.messages.length);
    expect(counted[`127.0.0.1:${b.port}`]).toBe(b.messages.length);
  });

  it('rests a relay that answers 421 while the others carry on, without holding the whole queue', async () => {
    const busy = await h.catcher(() =>
      Object.assign(new Error('4.7.0 too many messages, slow down'), { responseCode: 421 }),
    );
    const calm = await peer();
    // A pause long enough that, were the whole queue held, this send could not finish in the wait.
    const w = await worker([`${busy.url}#weight=1`, `${calm.url}#weight=1`], 120_000);
    const n = 60;
    const { state, stats } = await sendTo(n, 'rest', w);
    expect(state).toBe('sent');
    expect(stats.byState.accepted).toBe(n);
    expect(new Set(recipients(calm)).size).toBe(n);
    expect(busy.messages).toHaveLength(0);
    expect(await w.queue.getRateLimitTtl()).toBeLessThanOrEqual(0);
    const latest = await h.tdb.db
      .selectFrom('issues')
      .select('id')
      .orderBy('id', 'desc')
      .limit(1)
      .executeTakeFirstOrThrow();
    const via = await h.tdb.db
      .selectFrom('deliveries')
      .select('relay')
      .distinct()
      .where('issue_id', '=', latest.id)
      .where('state', '=', 'accepted')
      .execute();
    expect(via.map((r) => r.relay)).toEqual([w.relays[1]?.spec.name]);
  });

  it('keeps a relay within its hourly budget and sends the rest through the others', async () => {
    const [a, b] = [await peer(), await peer()];
    // b is preferred 9 to 1 but may take only 7 messages this hour.
    const w = await worker([`${a.url}#weight=1`, `${b.url}#weight=9&perHour=7`]);
    const n = 60;
    const startHour = hour();
    const { state, stats } = await sendTo(n, 'hourly', w);
    expect(state).toBe('sent');
    expect(stats.byState.accepted).toBe(n);
    // A send that straddles the top of the hour may use two hours' budgets.
    if (hour() === startHour) expect(b.messages).toHaveLength(7);
    else expect(b.messages.length).toBeLessThanOrEqual(14);
    expect(a.messages.length + b.messages.length).toBe(n);
    expect(new Set(recipients(a, b)).size).toBe(n);
  });

  it('keeps a relay within its per-second budget', async () => {
    const a = await peer();
    const w = await worker([`${a.url}#perSecond=10`]);
    const n = 35;
    const { state, stats } = await sendTo(n, 'persecond', w);
    expect(state).toBe('sent');
    expect(stats.byState.accepted).toBe(n);
    expect(a.messages).toHaveLength(n);
    // 35 messages at 10 per (wall-clock) second need grants in 4 distinct seconds, so the grants
    // span more than 2 s; arrivals lag their grants by a varying few ms (the first one also opens
    // a connection), hence the margin. Unlimited, all 35 arrive within a fraction of a second.
    const at = a.at.sort((x, y) => x - y);
    expect((at[at.length - 1] as number) - (at[0] as number)).toBeGreaterThan(1500);
  });

  it('falls back to a weight-0 relay, then waits for the next hour when every budget is spent', async () => {
    const [a, b, spare] = [await peer(), await peer(), await peer()];
    const w = await worker([`${a.url}#perHour=4`, `${b.url}#perHour=3`, `${spare.url}#weight=0&perHour=2`]);
    let limitedFor = 0;
    const original = w.queue.rateLimit.bind(w.queue);
    w.queue.rateLimit = async (ms: number) => {
      limitedFor = ms;
      return original(ms);
    };
    const startHour = hour();
    const issueId = await h.startSend(w, emails(20, 'spent'));
    const total = () => a.messages.length + b.messages.length + spare.messages.length;
    // Until the queue is held, what was granted before that has arrived, and the ledger says so
    // (the relay has a message a moment before its batched ledger write lands).
    const accepted = async () =>
      (
        await h.tdb.db
          .selectFrom('deliveries')
          .select('id')
          .where('issue_id', '=', issueId)
          .where('state', '=', 'accepted')
          .execute()
      ).length;
    await waitFor(
      'the queue held, 9 messages arrived and the ledger recorded them',
      async () => limitedFor > 0 && total() >= 9 && (await accepted()) >= 9,
      { intervalMs: 50 },
    );
    if (hour() !== startHour) return; // the budgets renewed during the test; nothing to see
    expect([a.messages.length, b.messages.length, spare.messages.length]).toEqual([4, 3, 2]);
    // The queue is held until the hour turns (never longer than an hour).
    expect(limitedFor).toBeGreaterThan(0);
    expect(limitedFor).toBeLessThanOrEqual(3_600_000);
    const left = await h.tdb.db
      .selectFrom('deliveries')
      .select('state')
      .where('issue_id', '=', issueId)
      .where('state', 'in', ['queued', 'claimed', 'sending'])
      .execute();
    expect(left.filter((r) => r.state !== 'queued')).toHaveLength(0);
    expect(left).toHaveLength(11);
  });
});
