import { generateKeyPair, randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import { simpleParser } from 'mailparser';
import pino from 'pino';
import { SMTPServer } from 'smtp-server';
import { describe, expect, it } from 'vitest';
import {
  cancelIssue,
  IssueFailedError,
  pauseIssue,
  resendUnknown,
  resumeIssue,
  startIssueSend,
} from '../../src/delivery/control.js';
import { ContentError } from '../../src/delivery/deps.js';
import { issueStats } from '../../src/delivery/ledger.js';
import { enqueueRanges } from '../../src/delivery/queue.js';
import { IllegalIssueTransitionError } from '../../src/issues/state-machine.js';
import { createRedis } from '../../src/queue/redis.js';
import type { SmtpCatcher } from '../../src/smtp/catcher.js';
import { bounceStatistics, formatBounceStatistics } from '../../src/tracking/bounce-stats.js';
import { checkWithPython, pythonDkimReady } from '../support/python-mail.js';
import { queueDrained, staysTrue, waitFor } from '../support/wait.js';
import { deliveryHarness, emails as supportEmails } from './harness.js';
import { addSubscribers, captureLog, createIssue, renderable, standInContent } from './support.js';

const hasDkim = pythonDkimReady();
const empties = new Map<number, string[]>();
const h = deliveryHarness({
  env: {
    SEND_LEASE_SECONDS: '5',
    SEND_RETRY_BASE_MS: '200',
    SEND_MAX_ATTEMPTS: '4',
    SEND_CONCURRENCY: '5',
    SEND_BATCH_SIZE: '10',
    SEND_BREAKER_WINDOW: '1000',
    BOUNCE_DOMAIN: 'bounces.gazette.test',
  },
  content: (compiled) => standInContent((id) => renderable(id, empties.get(id) ?? []), compiled),
  workers: { throttleMs: 200 },
});
const { compiled } = h;
const worker = (smtpUrl: string, extra: Parameters<typeof h.worker>[1] = {}) => h.worker(smtpUrl, extra);
const catcher = h.catcher;
const emails = (n: number, tag: string) => supportEmails(n, tag, (i) => `读者${i}`);

function recipientsOf(c: SmtpCatcher): string[] {
  return c.messages.flatMap((m) => m.to);
}

async function auditOf(issueId: number) {
  const rows = await h.tdb.db
    .selectFrom('issue_audit')
    .select(['action', 'actor', 'detail'])
    .where('issue_id', '=', issueId)
    .orderBy('id')
    .execute();
  return rows.map((r) => ({ ...r, detail: typeof r.detail === 'string' ? JSON.parse(r.detail) : r.detail }));
}

describe('delivery engine', () => {
  it('sends exactly one message per eligible subscriber, with the per-recipient headers and tokens', async () => {
    const sink = await catcher();
    const w = await worker(sink.url);
    const issueId = await createIssue(h.tdb.db);
    empties.set(issueId, ['cases']);
    const eligible = emails(23, 'once');
    await addSubscribers(h.tdb.db, h.sectionIds, [
      ...eligible,
      { email: 'picky.once@example.test', sections: ['cases'] }, // chose only an empty section
      { email: 'two.once@example.test', sections: ['foreign', 'cases'] },
      { email: 'pending.once@example.test', status: 'pending' },
      { email: 'gone.once@example.test', status: 'unsubscribed' },
      { email: 'blocked.once@example.test' },
    ]);
    await h.tdb.db
      .insertInto('suppressions')
      .values({ kind: 'address', value: 'blocked.once@example.test', reason: 'manual' })
      .execute();

    await startIssueSend({ ...h.base, queue: w.queue }, issueId);
    const { state, stats } = await h.settled(issueId, 25_000);

    expect(state).toBe('sent');
    expect(stats.byState.accepted).toBe(24);
    expect(stats.byState.skipped).toBe(1);
    const to = recipientsOf(sink).sort();
    expect(to).toEqual([...eligible.map((e) => e.email), 'two.once@example.test'].sort());
    expect(new Set(to).size).toBe(to.length);
    const skipped = await h.tdb.db
      .selectFrom('deliveries')
      .select('skip_reason')
      .where('issue_id', '=', issueId)
      .where('state', '=', 'skipped')
      .execute();
    expect(skipped.map((s) => s.skip_reason)).toEqual(['chosen_sections_empty']);

    const msg = sink.messages.find((m) => m.to[0] === 'reader3.once@example.test');
    const parsed = await simpleParser(msg?.raw as Buffer);
    const row = await h.tdb.db
      .selectFrom('deliveries')
      .innerJoin('subscribers', 'subscribers.id', 'deliveries.subscriber_id')
      .select(['deliveries.id', 'deliveries.message_id', 'deliveries.subscriber_id'])
      .where('subscribers.email', '=', 'reader3.once@example.test')
      .where('issue_id', '=', issueId)
      .executeTakeFirstOrThrow();
    expect(parsed.messageId).toBe(`<${row.message_id}>`);
    expect(parsed.subject).toBe('数字科技月报 读者3');
    expect(parsed.headerLines.map((h) => h.line)).toContain(
      'List-Unsubscribe-Post: List-Unsubscribe=One-Click',
    );
    const lines = parsed.headerLines.map((h) => h.line);
    const token = `${issueId}.${row.subscriber_id}.${row.id}`;
    expect(lines).toContain(`Feedback-ID: ${issueId}:1:newsletter:gazettetest`);
    expect(lines.find((l) => l.startsWith('List-Id:'))).toContain('<digest.gazette.test>');
    // The mailto: reaches the bounce receiver, which unsubscribes on the same signed token.
    expect((parsed.headers.get('list') as { unsubscribe?: unknown }).unsubscribe).toMatchObject({
      url: `http://localhost:3000/u/${token}/one-click`,
      mail: `unsubscribe@bounces.gazette.test?subject=unsubscribe%20${token}`,
    });
    expect(lines.join('\n')).toContain(
      `List-Unsubscribe: <mailto:unsubscribe@bounces.gazette.test?subject=unsubscribe%20${token}>`,
    );
    expect(parsed.html).toContain(`href="http://localhost:3000/u/${token}?a&#61;1&amp;b&#61;2"`);
    expect(parsed.html).toContain('您好 读者3');
    expect(parsed.html).not.toContain('{{');
    expect(parsed.text).toContain(`退订: http://localhost:3000/u/${token}?a=1&b=2`);
    expect(msg?.from).toBe(`bounce+${row.id}@bounces.gazette.test`);
    // Variants compiled once each: all four minus the empty one, and the one chosen pair.
    expect(compiled.filter((k) => k === 'zh-CN:domestic+foreign+industry')).toHaveLength(1);
  });

  it('sends nothing twice when a job is duplicated or replayed', async () => {
    const sink = await catcher();
    const w = await worker(sink.url);
    const issueId = await h.startSend(w, emails(12, 'replay'));
    const ids = await h.tdb.db
      .selectFrom('deliveries')
      .select('id')
      .where('issue_id', '=', issueId)
      .orderBy('id')
      .execute();
    const range = { issueId, fromId: ids[0]?.id as number, toId: ids[ids.length - 1]?.id as number };
    for (let i = 0; i < 4; i++) await enqueueRanges(w.queue, [range], { tag: `dup${i}` });
    await h.settled(issueId, 20_000);
    for (let i = 0; i < 3; i++) await enqueueRanges(w.queue, [range], { tag: `late${i}` });
    await queueDrained(w.queue);
    await staysTrue('12 messages, none twice', () => recipientsOf(sink).length === 12);
    expect(new Set(recipientsOf(sink)).size).toBe(12);
  });

  it('retries a 451 and records the later acceptance', async () => {
    let refusals = 0;
    const sink = await catcher(({ to }) => {
      if (to[0]?.startsWith('reader1.') && refusals < 2) {
        refusals++;
        return Object.assign(new Error('4.3.0 try again later'), { responseCode: 451 });
      }
      return undefined;
    });
    const w = await worker(sink.url);
    const issueId = await h.startSend(w, emails(3, 'retry'));
    const { state, stats } = await h.settled(issueId, 25_000);
    expect(state).toBe('sent');
    expect(stats.byState.accepted).toBe(3);
    const row = await h.tdb.db
      .selectFrom('deliveries')
      .innerJoin('subscribers', 'subscribers.id', 'deliveries.subscriber_id')
      .select(['attempts', 'state'])
      .where('email', '=', 'reader1.retry@example.test')
      .executeTakeFirstOrThrow();
    expect(row).toEqual({ attempts: 3, state: 'accepted' });
    expect(recipientsOf(sink).filter((t) => t === 'reader1.retry@example.test')).toHaveLength(1);
  });

  it('fails a 550 mailbox refusal and suppresses the address', async () => {
    const sink = await catcher(({ to }) =>
      to[0] === 'reader0.bad@example.test'
        ? Object.assign(new Error('5.1.1 no such user'), { responseCode: 550 })
        : undefined,
    );
    const w = await worker(sink.url);
    const issueId = await h.startSend(w, emails(4, 'bad'));
    const { stats } = await h.settled(issueId, 20_000);
    expect(stats.byState).toMatchObject({ accepted: 3, failed: 1 });
    const row = await h.tdb.db
      .selectFrom('deliveries')
      .select(['smtp_code', 'error_class', 'attempts'])
      .where('issue_id', '=', issueId)
      .where('state', '=', 'failed')
      .executeTakeFirstOrThrow();
    expect(row).toEqual({ smtp_code: 550, error_class: 'user_unknown', attempts: 1 });
    const sup = await h.tdb.db
      .selectFrom('suppressions')
      .selectAll()
      .where('value', '=', 'reader0.bad@example.test')
      .execute();
    expect(sup.map((s) => s.reason)).toEqual(['smtp_rejected']);
  });

  it('takes QQ\'s "550 Domain frequency limited" as a throttle: the row waits and goes out, nobody is suppressed', async () => {
    let refusals = 0;
    const sink = await catcher(({ to }) => {
      if (to[0] === 'reader1.qq@example.test' && refusals < 2) {
        refusals++;
        return Object.assign(new Error('Domain frequency limited'), { responseCode: 550 });
      }
      return undefined;
    });
    const w = await worker(sink.url);
    const issueId = await h.startSend(w, emails(3, 'qq'));
    const { state, stats } = await h.settled(issueId, 25_000);
    expect(state).toBe('sent');
    expect(stats.byState.accepted).toBe(3);
    expect(refusals).toBe(2);
    const sup = await h.tdb.db
      .selectFrom('suppressions')
      .select('value')
      .where('value', 'like', '%.qq@%')
      .execute();
    expect(sup).toEqual([]);
  });

  it('keeps the refusals of rows throttled or deferred and then accepted, for the statistics by domain', async () => {
    const refusedOnce = new Set<string>();
    const sink = await catcher(({ to }) => {
      const rcpt = to[0] ?? '';
      if (refusedOnce.has(rcpt)) return undefined;
      if (rcpt.endsWith('@qq.com')) {
        refusedOnce.add(rcpt);
        return Object.assign(new Error('Domain frequency limited'), { responseCode: 550 });
      }
      if (rcpt === 'b0.refusals@163.com') {
        refusedOnce.add(rcpt);
        return Object.assign(new Error('4.3.0 try again later'), { responseCode: 451 });
      }
      return undefined;
    });
    const w = await worker(sink.url);
    const issueId = await createIssue(h.tdb.db);
    await addSubscribers(h.tdb.db, h.sectionIds, [
      ...[0, 1, 2].map((i) => ({ email: `a${i}.refusals@qq.com`, name: null })),
      ...[0, 1].map((i) => ({ email: `b${i}.refusals@163.com`, name: null })),
    ]);
    await startIssueSend({ ...h.base, queue: w.queue }, issueId);
    const { state, stats } = await h.settled(issueId, 40_000);
    expect(state).toBe('sent');
    expect(stats.byState.accepted).toBe(5);
    expect(refusedOnce.size).toBe(4);
    const b = await bounceStatistics(h.tdb.db, issueId);
    expect(b.refusedThenAccepted).toEqual([
      { domain: 'qq.com', reason: 'rate_limited', rows: 3, refusals: 3 },
      { domain: '163.com', reason: expect.any(String), rows: 1, refusals: 1 },
    ]);
    expect(b.refusedThenAccepted[1]?.reason).not.toBe('rate_limited');
    // Nothing failed, so the refusals are not counted as failures.
    expect(b.reconciliation).toMatchObject({ accepted: 5, failed: 0 });
    expect(formatBounceStatistics(b, 'en')).toMatch(/qq\.com: .* 3 \(3 refusals\), accepted/);
  });

  it('fails a NetEase "554 DT:SPM" spam refusal without suppressing, and rests the relay before it sends more', async () => {
    const logged: Array<Record<string, unknown>> = [];
    const log = pino({ level: 'warn' }, { write: (line: string) => void logged.push(JSON.parse(line)) });
    const sink = await catcher(({ to }) =>
      to[0] === 'reader0.spm@example.test'
        ? Object.assign(new Error('DT:SPM 163 mx3, content judged as spam'), { responseCode: 554 })
        : undefined,
    );
    const w = await worker(sink.url, { blockRestMs: 300, log });
    const issueId = await h.startSend(w, emails(3, 'spm'));
    const { stats } = await h.settled(issueId, 25_000);
    expect(stats.byState).toMatchObject({ accepted: 2, failed: 1 });
    const row = await h.tdb.db
      .selectFrom('deliveries')
      .select(['smtp_code', 'error_class'])
      .where('issue_id', '=', issueId)
      .where('state', '=', 'failed')
      .executeTakeFirstOrThrow();
    expect(row).toEqual({ smtp_code: 554, error_class: 'spam_content' });
    expect(logged.find((l) => l.event === 'delivery.relay.blocked')).toMatchObject({
      issueId,
      reason: 'spam_content',
      smtpCode: 554,
      ms: 300,
    });
    const sup = await h.tdb.db
      .selectFrom('suppressions')
      .select('value')
      .where('value', 'like', '%.spm@%')
      .execute();
    expect(sup).toEqual([]);
  });

  it('slows down on 421 and then delivers everything', async () => {
    let refusals = 0;
    const sink = await catcher(() => {
      if (refusals < 3) {
        refusals++;
        return Object.assign(new Error('4.7.0 too many messages, slow down'), { responseCode: 421 });
      }
      return undefined;
    });
    const logs = captureLog();
    const w = await worker(sink.url, { log: logs.log });
    const issueId = await h.startSend(w, emails(8, 'slow'));
    const { state, stats } = await h.settled(issueId, 25_000);
    expect(state).toBe('sent');
    expect(stats.byState.accepted).toBe(8);
    // The relay rested, said why in its own words, and answered the probe that ended the rest.
    const rested = logs.events('delivery.relay.resting');
    expect(rested.length).toBeGreaterThan(0);
    expect(rested[0]?.reply).toMatch(/^421 4\.7\.0 too many messages/);
    expect(logs.events('delivery.relay.recovered').length).toBeGreaterThan(0);
    expect(new Set(recipientsOf(sink)).size).toBe(8);
    expect(recipientsOf(sink)).toHaveLength(8);
  });

  it('records a message as unknown when the connection drops mid-DATA, and re-sends it only on request', async () => {
    let dropped = false;
    const server = new SMTPServer({
      authOptional: true,
      disabledCommands: ['STARTTLS'],
      logger: false,
      onData(stream, session, callback) {
        const to = session.envelope.rcptTo[0]?.address ?? '';
        if (to.startsWith('reader2.') && !dropped) {
          // Take part of the body, then cut the connection before any reply.
          dropped = true;
          stream.once('data', () => {
            const conns = (
              server as unknown as {
                connections: Set<{ session: { id: string }; _socket: { destroy(): void } }>;
              }
            ).connections;
            for (const conn of conns) if (conn.session.id === session.id) conn._socket.destroy();
          });
          stream.resume();
          return;
        }
        stream.on('data', () => {});
        stream.on('end', () => {
          received.push(to);
          callback(null, 'ok');
        });
      },
    });
    const received: string[] = [];
    server.on('error', () => {}); // the cut connection is reported here
    await new Promise<void>((ok) => server.listen(0, '127.0.0.1', () => ok()));
    h.own({ close: () => new Promise<void>((ok) => server.close(() => ok())) });
    const port = (server.server.address() as { port: number }).port;
    const w = await worker(`smtp://127.0.0.1:${port}`);
    const issueId = await h.startSend(w, emails(5, 'drop'));
    const { state, stats } = await h.settled(issueId, 25_000);
    expect(state).toBe('sent');
    expect(stats.byState).toMatchObject({ accepted: 4, unknown: 1 });
    // Unknown is never retried on its own: once the queue is idle, reader2 still has nothing.
    await queueDrained(w.queue);
    await staysTrue('no retry to reader2', () => !received.some((t) => t.startsWith('reader2.')));

    expect(await resendUnknown({ ...h.base, queue: w.queue }, issueId)).toBe(1);
    const after = await h.settled(issueId, 20_000);
    expect(after.stats.byState).toMatchObject({ accepted: 5, unknown: 0 });
    expect(received.filter((t) => t.startsWith('reader2.'))).toHaveLength(1);
  });

  it('pauses, resumes and cancels an issue while it sends', async () => {
    const sink = await catcher();
    const w = await worker(sink.url, { concurrency: 1, chunkSize: 2 });
    const issueId = await createIssue(h.tdb.db);
    await addSubscribers(h.tdb.db, h.sectionIds, emails(40, 'ctl'));
    // Hold the worker so the pause lands before any job runs; then nothing may go out.
    await w.worker.pause();
    await startIssueSend({ ...h.base, queue: w.queue }, issueId, 'cli:ops');
    expect(await pauseIssue(h.base, issueId, 'operator', 'user:editor@committee.example')).toBe(true);
    w.worker.resume();
    await queueDrained(w.queue);
    await staysTrue('nothing sent while paused', () => recipientsOf(sink).length === 0);
    const paused = await issueStats(h.tdb.db, issueId);
    expect(paused.byState.queued).toBe(40);

    await resumeIssue({ ...h.base, queue: w.queue }, issueId, 'user:editor@committee.example');
    const done = await h.settled(issueId, 20_000);
    expect(done.state).toBe('sent');
    expect(done.stats.byState.accepted).toBe(40);
    // Each move is in the issue's audit log under whoever made it.
    // With the states it joined; the worker's finish too.
    const move = (from: string, to: string, more = {}) => ({ from, to, revision: 1, ...more });
    expect(await auditOf(issueId)).toEqual([
      { action: 'start-sending', actor: 'cli:ops', detail: move('approved', 'sending') },
      {
        action: 'pause',
        actor: 'user:editor@committee.example',
        detail: move('sending', 'paused', { reason: 'operator' }),
      },
      { action: 'resume', actor: 'user:editor@committee.example', detail: move('paused', 'sending') },
      { action: 'finish', actor: 'system', detail: move('sending', 'sent') },
    ]);

    const second = await createIssue(h.tdb.db);
    await w.worker.pause();
    await startIssueSend({ ...h.base, queue: w.queue }, second);
    const { skipped: cancelled } = await cancelIssue(h.base, second);
    w.worker.resume();
    await queueDrained(w.queue);
    await staysTrue('nothing of the cancelled issue sent', () => recipientsOf(sink).length === 40);
    expect(cancelled).toBe(40);
    const after = await issueStats(h.tdb.db, second);
    expect(after.byState).toMatchObject({ skipped: 40, accepted: 0 });
    expect(recipientsOf(sink)).toHaveLength(40);
    expect((await auditOf(second)).at(-1)).toEqual({
      action: 'cancel',
      actor: 'system',
      // Cancelled while sending: one move, in the transaction that skipped the rows.
      detail: { from: 'sending', to: 'cancelled', revision: 1, skipped: 40 },
    });
  });

  it('finishes the issue from the ledger after the queue keys are deleted mid-send', async () => {
    const sink = await catcher();
    const prefix = `gtest-${randomBytes(5).toString('hex')}`;
    const w = await worker(sink.url, {
      connection: { url: h.env.REDIS_URL, prefix },
      chunkSize: 2,
      concurrency: 1,
      scanIntervalMs: 300,
    });
    const issueId = await h.startSend(w, emails(60, 'flush'));
    const redis = createRedis(h.env.REDIS_URL);
    await waitFor('4 accepted', async () => (await issueStats(h.tdb.db, issueId)).byState.accepted >= 4, {
      intervalMs: 20,
    });
    const keys = await redis.keys(`${prefix}:*`);
    if (keys.length) await redis.del(...keys);
    redis.disconnect();
    const { state, stats } = await h.settled(issueId, 25_000);
    expect(state).toBe('sent');
    expect(stats.byState.accepted + stats.byState.unknown).toBe(60);
    const to = recipientsOf(sink);
    expect(new Set(to).size).toBe(to.length);
  });

  it('freezes the audience: later subscribers are not added, and one who leaves before the claim is skipped', async () => {
    const sink = await catcher();
    const w = await worker(sink.url);
    await w.worker.pause();
    const issueId = await createIssue(h.tdb.db);
    const [leaver] = await addSubscribers(h.tdb.db, h.sectionIds, emails(5, 'frozen'));
    await startIssueSend({ ...h.base, queue: w.queue }, issueId);
    await addSubscribers(h.tdb.db, h.sectionIds, [{ email: 'late.frozen@example.test' }]);
    await h.tdb.db
      .updateTable('subscribers')
      .set({ status: 'unsubscribed' })
      .where('id', '=', leaver as number)
      .execute();
    w.worker.resume();
    const { stats } = await h.settled(issueId, 20_000);
    expect(stats.total).toBe(5);
    expect(stats.byState).toMatchObject({ accepted: 4, skipped: 1 });
    const skipped = await h.tdb.db
      .selectFrom('deliveries')
      .select(['subscriber_id', 'skip_reason'])
      .where('issue_id', '=', issueId)
      .where('state', '=', 'skipped')
      .execute();
    expect(skipped).toEqual([{ subscriber_id: leaver, skip_reason: 'unsubscribed' }]);
    expect(recipientsOf(sink)).not.toContain('late.frozen@example.test');
    expect(recipientsOf(sink)).not.toContain('reader0.frozen@example.test');
  });

  it('pauses the issue when too many messages fail (circuit breaker)', async () => {
    const sink = await catcher(() =>
      Object.assign(new Error('5.3.0 mail system error'), { responseCode: 554 }),
    );
    const w = await worker(sink.url, {
      env: { ...h.env, SEND_BREAKER_WINDOW: 10, SEND_BREAKER_RATIO: 0.5 },
      chunkSize: 2,
      concurrency: 1,
    });
    const issueId = await h.startSend(w, emails(60, 'breaker'));
    const { state, stats } = await h.settled(issueId, 20_000);
    expect(state).toBe('paused');
    const issue = await h.tdb.db
      .selectFrom('issues')
      .select('pause_reason')
      .where('id', '=', issueId)
      .executeTakeFirstOrThrow();
    expect(issue.pause_reason).toBe('failure_rate');
    // The worker's guard paused it, and the audit log says so.
    expect((await auditOf(issueId)).at(-1)).toEqual({
      action: 'pause',
      actor: 'system',
      detail: {
        from: 'sending',
        to: 'paused',
        revision: 1,
        reason: 'failure_rate',
        reply: '554 5.3.0 mail system error',
      },
    });
    expect(stats.byState.failed).toBeLessThan(60);
    expect(stats.byState.queued).toBeGreaterThan(0);
  });

  it('fails the issue, sending nothing, when its content cannot be rendered; the resume scan leaves it failed', async () => {
    const sink = await catcher();
    const broken = {
      ...h.base,
      content: {
        ...h.base.content,
        compileVariant: async () => {
          throw new ContentError('layout.mjml line 3: unclosed mj-section');
        },
      },
    };
    const w = await worker(sink.url, { content: broken.content });
    const issueId = await createIssue(h.tdb.db);
    await addSubscribers(h.tdb.db, h.sectionIds, emails(6, 'broken'));
    await expect(startIssueSend({ ...broken, queue: w.queue }, issueId)).rejects.toThrow(IssueFailedError);
    const issue = await h.tdb.db
      .selectFrom('issues')
      .select(['state', 'pause_reason'])
      .where('id', '=', issueId)
      .executeTakeFirstOrThrow();
    expect(issue.state).toBe('failed');
    expect(issue.pause_reason).toContain('unclosed mj-section');
    const stats = await issueStats(h.tdb.db, issueId);
    expect(stats.byState.skipped).toBe(stats.total);
    // A later scan finds nothing to do for a failed issue, and nothing was sent.
    await w.scan(true);
    await queueDrained(w.queue);
    await staysTrue('nothing sent', () => recipientsOf(sink).length === 0);
    expect((await issueStats(h.tdb.db, issueId)).byState.skipped).toBe(stats.total);
    expect(recipientsOf(sink)).toHaveLength(0);
    // Editorial's lifecycle has no way out of failed.
    await expect(resumeIssue({ ...h.base, queue: w.queue }, issueId)).rejects.toThrow(
      IllegalIssueTransitionError,
    );
  });

  it('signs messages with DKIM when a key is configured; dkimpy verifies each as delivered', async () => {
    const { privateKey, publicKey } = await promisify(generateKeyPair)('rsa', { modulusLength: 2048 });
    const sink = await catcher();
    const w = await worker(sink.url, {
      env: {
        ...h.env,
        DKIM_DOMAIN: 'gazette.test',
        DKIM_SELECTOR: 'mail',
        DKIM_PRIVATE_KEY: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
      },
    });
    const issueId = await h.startSend(w, emails(2, 'dkim'));
    await h.settled(issueId, 20_000);
    expect(sink.messages).toHaveLength(2);
    for (const m of sink.messages) {
      const head = m.raw.toString('utf8').split('\r\n\r\n')[0] as string;
      expect(head).toMatch(/^DKIM-Signature: v=1; a=rsa-sha256; c=relaxed\/relaxed; d=gazette.test;/m);
      expect(head).toMatch(/s=mail;/);
      if (hasDkim)
        expect(checkWithPython(m.raw, publicKey)).toEqual({ verified: true, defects: [], downgraded: false });
    }
  });
});
