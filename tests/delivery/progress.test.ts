import { randomBytes } from 'node:crypto';
import { Command } from 'commander';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { registerSendCommands } from '../../src/cli/commands/send.js';
import { type CliRuntime, processIo } from '../../src/cli/runtime.js';
import { type IssueStats, statsOf } from '../../src/delivery/ledger.js';
import {
  formatDuration,
  formatProgress,
  loadSendProgress,
  type ProgressInput,
  sendProgress,
} from '../../src/delivery/progress.js';
import { silentLogger } from '../../src/log.js';
import { type SmtpCatcher, startSmtpCatcher } from '../../src/smtp/catcher.js';
import { createTestDatabase, type TestDatabase } from '../support/test-db.js';
import { waitFor } from '../support/wait.js';
import { seedSentIssue } from '../tracking/seed.js';
import { deliveryHarness, emails } from './harness.js';

const stats = statsOf;
const progress = (input: Partial<ProgressInput> & Pick<ProgressInput, 'stats'>) =>
  sendProgress({
    issueId: 1,
    state: 'sending',
    pauseReason: null,
    holdReason: null,
    recentFinished: 0,
    windowSeconds: 60,
    ...input,
  });

describe('send progress (pure), one derivation for the send page and the command line', () => {
  it('measures the rate over the last minute and the ETA of what is left', () => {
    const p = progress({
      stats: stats({ queued: 780, accepted: 200, failed: 10, skipped: 5, deferred: 5 }),
      // 660 rows answered in the last 60 s: 11 a second.
      recentFinished: 660,
    });
    expect(p.ratePerSecond).toBe(11);
    expect(p).toMatchObject({
      total: 1000,
      accepted: 200,
      deferred: 5,
      failed: 10,
      done: 215,
      remaining: 785,
    });
    expect(p.etaSeconds).toBe(Math.ceil(785 / 11));
    expect(formatProgress(p, 10)).toBe(
      'sending |██░░░░░░░░| 215/1000 21% · accepted 200 deferred 5 failed 10 skipped 5 · 11 msg/s · ETA 1 min 12 s',
    );
  });

  it('measures a young send over the seconds it has run, not a whole minute', () => {
    expect(
      progress({ stats: stats({ queued: 50, accepted: 20 }), recentFinished: 20, windowSeconds: 10 }),
    ).toMatchObject({
      ratePerSecond: 2,
      etaSeconds: 25,
    });
  });

  it('says nothing about the ETA before there is a rate or once the send stopped, and shows how it ended', () => {
    const first = progress({ stats: stats({ queued: 3 }), windowSeconds: null });
    expect(first.etaSeconds).toBeNull();
    expect(formatProgress(first, 4)).toBe(
      'sending |░░░░| 0/3 0% · accepted 0 deferred 0 failed 0 · 0 msg/s · ETA –',
    );
    const end = progress({ state: 'sent', stats: stats({ accepted: 2, unknown: 1 }), recentFinished: 2 });
    expect(formatProgress(end, 4)).toBe(
      'sent |████| 3/3 100% · accepted 2 deferred 0 failed 0 unknown 1 · 0 msg/s · ETA –',
    );
    expect(formatProgress(progress({ state: 'sent', stats: stats({}) }), 2)).toContain('|██| 0/0 100%');
    expect(
      progress({ state: 'paused', stats: stats({ queued: 5 }), recentFinished: 30 }).etaSeconds,
    ).toBeNull();
  });

  it('formats durations in words, English unless a page gives its own', () => {
    expect([0, 59.6, 61, 3599, 3723, null, Number.NaN].map((s) => formatDuration(s))).toEqual([
      '0 s',
      '1 min 0 s',
      '1 min 1 s',
      '59 min 59 s',
      '1 h 2 min',
      '–',
      '–',
    ]);
    expect(formatDuration(200, { h: '小时', min: '分', s: '秒' })).toBe('3 分 20 秒');
  });
});

describe('the send rate, measured over the relay’s answers (issue 19: 8 msg/s shown for a 190/s send)', () => {
  let tdb: TestDatabase;
  beforeAll(async () => {
    tdb = await createTestDatabase();
  });
  afterAll(() => tdb?.drop());

  /** An issue whose `n` rows were answered `spanMs` apart, ending `agoMs` ago, after a slow start. */
  async function answered(state: 'sending' | 'sent', n: number, spanMs: number, agoMs: number) {
    const { issueId } = await seedSentIssue(tdb.db, { recipients: n });
    await sql`
      UPDATE issues SET state = ${state},
        sending_started_at = now() - make_interval(secs => ${(agoMs + spanMs) / 1000 + 15}::double precision)
       WHERE id = ${issueId}`.execute(tdb.db);
    await sql`
      UPDATE deliveries d SET state = 'accepted',
        accepted_at = now() - make_interval(secs => ${agoMs / 1000}::double precision)
          - make_interval(secs => ${spanMs / 1000}::double precision * (r.k - 1) / greatest(${n} - 1, 1))
        FROM (SELECT id, row_number() OVER (ORDER BY id) AS k FROM deliveries WHERE issue_id = ${issueId}) r
       WHERE d.id = r.id`.execute(tdb.db);
    return issueId;
  }

  it('gives a finished send the rate it ran at, not its answers over the time since it started', async () => {
    // 121 answers within 0.64 s, after 15 s of preparing: about 190 a second.
    const id = await answered('sent', 121, 640, 5 * 60_000);
    const p = await loadSendProgress(tdb.db, id);
    expect(p?.ratePerSecond).toBeGreaterThan(170);
    expect(p?.ratePerSecond).toBeLessThan(200);
  });

  it('measures a running send over the last minute of answers, up to now', async () => {
    // 600 answers spread over the last 2 minutes: 300 in the last minute, 5 a second.
    const id = await answered('sending', 600, 120_000, 0);
    const p = await loadSendProgress(tdb.db, id);
    expect(p?.ratePerSecond).toBeGreaterThan(4.5);
    expect(p?.ratePerSecond).toBeLessThan(5.5);
    // No answers yet (still preparing): no rate, no ETA.
    const { issueId } = await seedSentIssue(tdb.db, {
      recipients: 3,
      states: ['queued', 'queued', 'queued'],
    });
    await tdb.db.updateTable('issues').set({ state: 'sending' }).where('id', '=', issueId).execute();
    expect(await loadSendProgress(tdb.db, issueId)).toMatchObject({ ratePerSecond: 0, etaSeconds: null });
  });

  it('calls one answer one a second, not a thousand', () => {
    expect(
      progress({ stats: stats({ accepted: 1 }), recentFinished: 1, windowSeconds: 0.001 }).ratePerSecond,
    ).toBe(1);
    expect(
      progress({ stats: stats({ accepted: 50 }), recentFinished: 50, windowSeconds: 0 }).ratePerSecond,
    ).toBe(500);
  });
});

describe('gazette issue send --wait, pause, resume and cancel-send', () => {
  const h = deliveryHarness({ env: { SEND_BATCH_SIZE: '10', SEND_CONCURRENCY: '5' } });
  let sink: SmtpCatcher;
  beforeAll(async () => {
    sink = await startSmtpCatcher();
  });
  afterAll(() => sink.close());

  /** The send commands on a runtime over this file's database; `printed` collects their JSON. */
  function cli() {
    const e = h.env;
    const printed: unknown[] = [];
    const runtime: CliRuntime = {
      json: true,
      env: () => e,
      log: () => silentLogger,
      context: async () => ({
        env: e,
        log: silentLogger,
        db: h.tdb.db,
        database: { db: h.tdb.db, kind: 'postgres', where: 'test', close: async () => {} },
        secrets: { current: randomBytes(32).toString('hex') },
        now: () => new Date(),
        close: async () => {},
      }),
      print: (value) => printed.push(value),
      io: processIo(),
      exitCode: 0,
      close: async () => {},
    };
    const program = new Command('gazette').exitOverride();
    registerSendCommands(program, runtime);
    return { printed, run: (...args: string[]) => program.parseAsync(['node', 'gazette', ...args]) };
  }

  /** An issue with `n` subscribers, sending, while the worker (on the CLI's queue) holds off. */
  async function heldSend(n: number, tag: string) {
    const worker = await h.worker(sink.url, {
      connection: { url: h.env.REDIS_URL, prefix: h.env.QUEUE_PREFIX },
    });
    await worker.worker.pause();
    const issueId = await h.startSend(worker, emails(n, tag));
    return { issueId, worker };
  }

  const auditOf = (issueId: number) =>
    h.tdb.db
      .selectFrom('issue_audit')
      .select(['action', 'actor'])
      .where('issue_id', '=', issueId)
      .orderBy('id')
      .execute();

  it('shows progress while workers send the issue and returns once it is sent', async () => {
    const n = 30;
    // Prepared while the worker holds off; the command then finds the issue sending and watches it.
    const { issueId, worker } = await heldSend(n, 'wait');
    const { printed, run } = cli();
    const stderr: string[] = [];
    const spy = vi.spyOn(process.stderr, 'write').mockImplementation((chunk) => {
      stderr.push(String(chunk));
      return true;
    });
    try {
      const command = run('issue', 'send', String(issueId), '--wait');
      await waitFor('the first progress line', () => stderr.join('').includes('\n'), { intervalMs: 20 });
      expect(stderr.join('')).toMatch(/^sending \|░+\| 0\/30 0% · accepted 0 /);
      worker.worker.resume();
      await command;
    } finally {
      spy.mockRestore();
    }
    const result = printed[0] as { state: string; stats: IssueStats };
    expect(result.state).toBe('sent');
    expect(result.stats.byState.accepted).toBe(n);
    expect(sink.messages.filter((m) => m.to.some((t) => t.includes('.wait@')))).toHaveLength(n);
    const lines = stderr.join('').trim().split('\n');
    expect(lines[lines.length - 1]).toMatch(
      /^sent \|█+\| 30\/30 100% · accepted 30 deferred 0 failed 0 · [\d.]+ msg\/s · ETA –$/,
    );
  });

  it('pauses, resumes and cancels from the command line, naming the operator in the audit log', async () => {
    const { issueId } = await heldSend(12, 'ctl');
    const { printed, run } = cli();
    await run('issue', 'pause', String(issueId), '--actor', 'ops@committee.example');
    await run('issue', 'resume', String(issueId), '--actor', 'ops@committee.example');
    await run('issue', 'cancel', String(issueId), '--actor', 'chief@committee.example');
    // The audience, none of it sent to: all are skipped.
    const audience = await h.tdb.db
      .selectFrom('deliveries')
      .select((eb) => eb.fn.countAll<string>().as('n'))
      .where('issue_id', '=', issueId)
      .executeTakeFirstOrThrow();
    expect(printed).toEqual([
      { issueId, state: 'paused' },
      { issueId, state: 'sending' },
      { issueId, state: 'cancelled', skipped: Number(audience.n) },
    ]);
    expect(Number(audience.n)).toBe(12);
    expect(await auditOf(issueId)).toEqual([
      { action: 'start-sending', actor: 'system' },
      { action: 'pause', actor: 'ops@committee.example' },
      { action: 'resume', actor: 'ops@committee.example' },
      { action: 'cancel', actor: 'chief@committee.example' },
    ]);
    // Pausing what is no longer sending is refused, naming the issue.
    await expect(run('issue', 'pause', String(issueId))).rejects.toThrow(`issue ${issueId} is not sending`);
  });
});
