import { randomBytes } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { pauseIssue } from '../../src/delivery/control.js';
import { issueStats } from '../../src/delivery/ledger.js';
import { prepareLockName, tryLock } from '../../src/delivery/locks.js';
import { prepareIssue } from '../../src/delivery/prepare.js';
import { RelayRests } from '../../src/delivery/relay-rest.js';
import { resumeScan } from '../../src/delivery/resume.js';
import type { SendWorker } from '../../src/delivery/send-worker.js';
import { describeReason } from '../../src/delivery/stop-reasons.js';
import { createRedis } from '../../src/queue/redis.js';
import type { FaultSmtp } from '../support/fault-smtp.js';
import { waitFor } from '../support/wait.js';
import { deliveryHarness, emails } from './harness.js';
import { addSubscribers, captureLog, createIssue } from './support.js';

const h = deliveryHarness({
  env: { SEND_LEASE_SECONDS: '30', SEND_CONCURRENCY: '5', SEND_BATCH_SIZE: '10' },
  workers: { throttleMs: 150 },
});
const redis = createRedis(process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379');
afterAll(() => redis.disconnect());

const prefix = () => `gtest-${randomBytes(5).toString('hex')}`;

/** A worker sending through `peer`; workers given the same `connectionPrefix` share one queue. */
function worker(
  peer: FaultSmtp,
  connectionPrefix: string,
  extra: Parameters<typeof h.worker>[1] = {},
): Promise<SendWorker> {
  return h.worker(peer.url, { connection: { url: h.env.REDIS_URL, prefix: connectionPrefix }, ...extra });
}

const peer = () => h.faultPeer();

describe('relay rests shared through Redis', () => {
  it('raise once per burst: a refusal of a message sent before the rest ended is not counted again; one probe at a time; a success ends it', async () => {
    let now = 1_000_000;
    const rests = new RelayRests(redis, prefix(), { baseMs: 1000, random: () => 1, now: () => now });
    const first = await rests.rest('qq', { reason: 'throttled', reply: '421 4.7.0 slow down' }, now);
    expect(first.raised).toBe(true);
    // Jitter lengthens a rest by up to a fifth: 1000 ms × 1.2 with random() = 1.
    expect(first.state.until - now).toBe(1200);
    // Every other job's message refused in the same burst: no change.
    const again = await rests.rest('qq', { reason: 'throttled', reply: '421' }, now - 10);
    expect(again.raised).toBe(false);
    expect(again.state.until).toBe(first.state.until);
    expect((await rests.gate('qq')).kind).toBe('wait');
    now += 1300;
    // A message that went out during the rest and is refused after it: still the same burst.
    expect((await rests.rest('qq', { reason: 'throttled', reply: '421' }, now - 1000)).raised).toBe(false);
    // After the rest, one caller probes; the others wait for its outcome.
    expect((await rests.gate('qq')).kind).toBe('probe');
    expect((await rests.gate('qq')).kind).toBe('wait');
    // The probe is refused: the rest doubles.
    const second = await rests.rest('qq', { reason: 'throttled', reply: '421' }, now);
    expect(second.raised).toBe(true);
    expect(second.state.level).toBe(1);
    expect(second.state.until - now).toBe(2400);
    now += 2500;
    expect((await rests.gate('qq')).kind).toBe('probe');
    const ended = await rests.recovered('qq');
    expect(ended?.reply).toBe('421');
    expect(await rests.gate('qq')).toEqual({ kind: 'open' });
  });
});

describe('a relay that throttles with 421-and-close', () => {
  it('rests the relay once per burst for every worker, puts refused rows back in the queue (never unknown), and delivers everything once', async () => {
    const p = await peer();
    const shared = prefix();
    const logs = captureLog();
    const w1 = await worker(p, shared, { log: logs.log });
    await worker(p, shared, { log: logs.log });
    // After 15 messages a burst of 421s at MAIL FROM and RCPT TO, then the relay takes mail again.
    // Every refusal reaches the engine (also on a reused connection), and each failed probe
    // doubles the rest (150, 300, 600 ms …): 8 refusals' worth is a burst of a few seconds.
    let budget = 8;
    p.refuse = (command) =>
      p.received.length >= 15 && budget-- > 0 && (command === 'rcpt' || budget % 2 === 0);
    const issueId = await h.startSend(w1, emails(120, 'burst'));
    const { state, stats } = await h.settled(issueId, 90_000);
    expect(state).toBe('sent');
    expect(stats.byState).toMatchObject({ accepted: 120, unknown: 0, failed: 0 });
    expect(stats.byState.unknown).toBe(0);
    expect(p.received).toHaveLength(120);
    expect(new Set(p.received).size).toBe(120);
    const refused = p.refusals.mail + p.refusals.rcpt;
    expect(refused).toBeGreaterThan(0);
    // One rest per burst, lengthened only by failed probes: levels 0, 1, 2, … in order, far
    // fewer raises than refusals, then the relay recovered.
    const raised = logs.events('delivery.relay.resting');
    expect(raised.length).toBeGreaterThan(0);
    expect(raised.length).toBeLessThan(refused);
    expect(raised.map((e) => e.level)).toEqual(raised.map((_, i) => i));
    expect(raised[0]?.reply).toContain('421 4.7.0 Too many messages');
    expect(logs.events('delivery.relay.recovered').length).toBeGreaterThan(0);
    // Refused rows were not attempts: nothing burnt a retry.
    const burnt = await h.tdb.db
      .selectFrom('deliveries')
      .select((eb) => eb.fn.max('attempts').as('max'))
      .where('issue_id', '=', issueId)
      .executeTakeFirstOrThrow();
    expect(Number(burnt.max)).toBe(1);
  });
});

describe('a relay outage', () => {
  it('rests the relay on refused connections instead of pausing the issue, and sends everything once the relay is back', async () => {
    const p = await peer();
    const logs = captureLog();
    const w = await worker(p, prefix(), { log: logs.log });
    await p.down();
    const issueId = await h.startSend(w, emails(30, 'outage'));
    // The refusals rest the relay, said in its own words, and do not trip the breaker.
    await waitFor('two rests', () => logs.events('delivery.relay.resting').length >= 2, {
      timeoutMs: 60_000,
    });
    const rest = logs.events('delivery.relay.resting')[0];
    expect(rest?.reason).toBe('unreachable');
    expect(String(rest?.reply)).toMatch(/ECONNREFUSED/);
    const during = await h.tdb.db
      .selectFrom('issues')
      .select('state')
      .where('id', '=', issueId)
      .executeTakeFirstOrThrow();
    expect(during.state).toBe('sending');
    await p.up();
    const { state, stats } = await h.settled(issueId, 90_000);
    expect(state).toBe('sent');
    expect(stats.byState.accepted).toBe(30);
    expect(stats.byState.unknown).toBe(0);
    expect(new Set(p.received).size).toBe(30);
    expect(p.received).toHaveLength(30);
  });

  it('resumes by itself an issue the breaker paused for broken connections once a probe succeeds, with an audit entry; a reply-level pause waits for a person', async () => {
    const p = await peer();
    const w = await worker(p, prefix());
    const byConnections = await createIssue(h.tdb.db);
    const byReplies = await createIssue(h.tdb.db);
    await addSubscribers(h.tdb.db, h.sectionIds, emails(6, 'autoresume'));
    for (const id of [byConnections, byReplies]) {
      await prepareIssue(h.base, id);
      await h.tdb.db
        .updateTable('issues')
        .set({ state: 'sending', prepared_at: new Date() })
        .where('id', '=', id)
        .execute();
    }
    await pauseIssue(h.base, byConnections, 'relay_connection', 'system', 'Connection closed unexpectedly');
    await pauseIssue(h.base, byReplies, 'failure_rate', 'system', '554 5.7.1 rejected by policy');
    await w.resumeAfterOutage();
    const { state } = await h.settled(byConnections, 30_000);
    expect(state).toBe('sent');
    const audit = await h.tdb.db
      .selectFrom('issue_audit')
      .select(['action', 'actor', 'detail'])
      .where('issue_id', '=', byConnections)
      .orderBy('id')
      .execute();
    const resume = audit.find((a) => a.action === 'resume');
    expect(resume?.actor).toBe('system');
    expect(JSON.stringify(resume?.detail)).toContain('relay_connection');
    const other = await h.tdb.db
      .selectFrom('issues')
      .select(['state', 'pause_reason', 'pause_reply'])
      .where('id', '=', byReplies)
      .executeTakeFirstOrThrow();
    expect(other).toEqual({
      state: 'paused',
      pause_reason: 'failure_rate',
      pause_reply: '554 5.7.1 rejected by policy',
    });
    // What the operator reads, in both languages.
    expect(describeReason('en', 'failure_rate', other.pause_reply)).toContain('554 5.7.1 rejected by policy');
    expect(describeReason('zh-CN', 'smtp_auth', '535 5.7.8 Authentication failed')).toBe(
      '邮件服务器拒绝了登录（用户名或密码错误），请检查 SMTP 设置后继续发送。 服务器回复：“535 5.7.8 Authentication failed”',
    );
  });
});

describe('the resume scan', () => {
  it('never enqueues work already queued, runs one at a time, and skips an issue being prepared', async () => {
    const p = await peer();
    // No worker runs: the queue only fills.
    const w = await worker(p, prefix(), { concurrency: 1 });
    await w.worker.pause(true);
    const issueId = await createIssue(h.tdb.db);
    await addSubscribers(h.tdb.db, h.sectionIds, emails(35, 'scan'));
    await prepareIssue(h.base, issueId);
    await h.tdb.db
      .updateTable('issues')
      .set({ state: 'sending', prepared_at: new Date() })
      .where('id', '=', issueId)
      .execute();
    const first = await resumeScan(h.base, { queue: w.queue, force: true });
    expect(first.enqueued).toBe(35);
    const jobs = await w.queue.count();
    expect(jobs).toBeGreaterThan(0);
    await resumeScan(h.base, { queue: w.queue, force: true });
    await resumeScan(h.base, { queue: w.queue, force: true });
    expect(await w.queue.count()).toBe(jobs);
    // Two scans at once: one does the work, the other stands aside.
    const both = await Promise.all([
      resumeScan(h.base, { queue: w.queue, force: true }),
      resumeScan(h.base, { queue: w.queue, force: true }),
    ]);
    expect(both.filter((r) => r.skipped)).toHaveLength(1);
    // While the issue's preparation holds its lock, the scan leaves it alone.
    const held = await tryLock(w.queue, prepareLockName(issueId));
    expect(held).not.toBeNull();
    const during = await resumeScan(h.base, { queue: w.queue, force: true });
    expect(during.issues).toBe(0);
    await held?.release();
    expect((await issueStats(h.tdb.db, issueId)).byState.queued).toBe(35);
  });
});
