import { Queue } from 'bullmq';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { statsOf } from '../../src/delivery/ledger.js';
import { formatDuration, type SendProgress, sendProgress } from '../../src/delivery/progress.js';
import { defaultScheduleTime, sendControls } from '../../src/http/admin/pages/send.js';
import { scheduleJobId } from '../../src/issues/lifecycle.js';
import { QUEUES } from '../../src/queue/names.js';
import { createRedis } from '../../src/queue/redis.js';
import { FORM, form } from '../http/support.js';
import { MODEL_DOCUMENT, sharedFixture } from '../support/shared.js';
import { seedSentIssue } from '../tracking/seed.js';
import { type Browser, startWebHarness, type WebHarness } from './support.js';

const byState = statsOf;

describe('send progress (pure)', () => {
  it('counts, rate over the last minute and ETA', () => {
    const p = sendProgress({
      issueId: 1,
      state: 'sending',
      pauseReason: null,
      holdReason: null,
      stats: byState({
        queued: 80,
        claimed: 10,
        sending: 10,
        accepted: 880,
        deferred: 20,
        failed: 5,
        unknown: 1,
      }),
      recentFinished: 600,
      windowSeconds: 60,
    });
    expect(p).toMatchObject({
      total: 1006,
      accepted: 880,
      deferred: 20,
      failed: 5,
      unknown: 1,
      pending: 100,
      remaining: 120,
      done: 886,
      percent: 88,
      ratePerSecond: 10,
      etaSeconds: 12,
      live: true,
    });
  });
  it('measures a young send over its age, and gives no ETA when paused or idle', () => {
    const young = sendProgress({
      issueId: 1,
      state: 'sending',
      pauseReason: null,
      holdReason: null,
      stats: byState({ queued: 50, accepted: 20 }),
      recentFinished: 20,
      windowSeconds: 10,
    });
    expect(young.ratePerSecond).toBe(2);
    expect(young.etaSeconds).toBe(25);
    const paused = sendProgress({
      ...young,
      state: 'paused',
      stats: byState({ queued: 50 }),
      recentFinished: 0,
    } as never);
    expect(paused.etaSeconds).toBeNull();
    const sent: SendProgress = sendProgress({
      issueId: 1,
      state: 'sent',
      pauseReason: null,
      holdReason: null,
      stats: byState({ accepted: 3 }),
      recentFinished: 0,
      windowSeconds: 5000,
    });
    expect(sent).toMatchObject({ live: false, etaSeconds: null, percent: 100 });
  });
  it('writes durations and offers controls by state', () => {
    const u = { h: 'h', min: 'min', s: 's' };
    expect(formatDuration(3900, u)).toBe('1 h 5 min');
    expect(formatDuration(200, u)).toBe('3 min 20 s');
    expect(formatDuration(null, u)).toBe('–');
    expect(sendControls('sending')).toMatchObject({
      pause: true,
      resume: false,
      cancel: true,
      approve: false,
    });
    expect(sendControls('paused', 2)).toMatchObject({ pause: false, resume: true, resendUnknown: true });
    expect(sendControls('approved')).toMatchObject({ schedule: true, sendNow: true, approve: false });
    expect(sendControls('draft')).toMatchObject({ approve: true, schedule: false, cancel: false });
    expect(sendControls('sent')).toMatchObject({ cancel: false, pause: false });
    expect(sendControls('scheduled')).toMatchObject({ sendNow: true, reschedule: true, unschedule: true });
    // 09:00 in the publication's zone: today while it is still ahead, else tomorrow.
    expect(defaultScheduleTime(new Date('2025-07-31T17:00:00Z'), 'Asia/Shanghai')).toEqual({
      date: '2025-08-01', // 01:00 there: 09:00 is hours away
      time: '09:00',
    });
    expect(defaultScheduleTime(new Date('2025-08-01T00:59:00Z'), 'Asia/Shanghai').date).toBe('2025-08-01');
    expect(defaultScheduleTime(new Date('2025-08-01T01:00:00Z'), 'Asia/Shanghai').date).toBe('2025-08-02');
    expect(defaultScheduleTime(new Date('2025-08-01T05:00:00Z'), 'Asia/Shanghai').date).toBe('2025-08-02');
  });
});

const modelDocument = sharedFixture(MODEL_DOCUMENT);
describe.skipIf(!modelDocument.present)('the send page', () => {
  let h: WebHarness;
  let editor: Browser;
  let viewer: Browser;
  let issuesQueue: Queue;
  let modelId: number;

  beforeAll(async () => {
    h = await startWebHarness();
    modelId = await h.importModel();
    editor = await h.signIn('editor');
    viewer = await h.signIn('viewer');
    issuesQueue = new Queue(QUEUES.issues, {
      connection: createRedis(h.env.REDIS_URL),
      prefix: h.env.QUEUE_PREFIX,
    });
  });
  afterAll(async () => {
    await issuesQueue?.close();
    await h?.close();
  });

  const state = async (id: number) =>
    await h.ctx.db.selectFrom('issues').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
  /** A real form post (urlencoded, as a browser sends it), with the CSRF field. */
  const submit = (b: Browser, url: string, fields: Record<string, string> = {}) =>
    h.web.inject({
      method: 'POST',
      url,
      headers: { cookie: b.cookie, ...FORM },
      payload: form({ ...fields, _csrf: b.csrf }),
    });
  /** The page the 303 leads to, with the flash cookie it set. */
  const follow = (
    b: Browser,
    res: { headers: Record<string, unknown>; cookies: { name: string; value: string }[] },
  ) =>
    h.web.inject({
      method: 'GET',
      url: res.headers.location as string,
      headers: {
        cookie: `${b.cookie}; ${res.cookies.map((c) => `${c.name}=${encodeURIComponent(c.value)}`).join('; ')}`,
      },
    });

  it('refuses to approve an issue that fails the checklist and shows the failures', async () => {
    const empty = await h.ctx.db
      .insertInto('issues')
      .values({ period: '2031-01', title: 'Empty', state: 'draft' })
      .returning('id')
      .executeTakeFirstOrThrow();
    const page = await editor.get(`/admin/issues/${empty.id}/send`);
    expect(page.statusCode).toBe(200);
    expect(page.body).toMatch(/data-check="empty-issue" data-status="fail"/);
    const res = await submit(editor, `/admin/issues/${empty.id}/send/approve`, {});
    expect(res.statusCode).toBe(303);
    expect((await state(empty.id)).state).toBe('draft');
    const after = await follow(editor, res);
    expect(after.body).toMatch(/class="flash error" role="status">未通过发送前检查（1 项未通过）/);
  });

  it('approves, then schedules in the publication’s time zone (shown) and stores the UTC instant', async () => {
    const approve = await submit(editor, `/admin/issues/${modelId}/send/approve`, {});
    expect(approve.statusCode).toBe(303);
    expect((await state(modelId)).state).toBe('approved');
    expect((await state(modelId)).approved_by).toBe(`user:${editor.email}`);

    const page = await editor.get(`/admin/issues/${modelId}/send`);
    expect(page.body).toContain('时区：Asia/Shanghai（+08:00）');
    expect(page.body).toContain('name="date"');

    const res = await submit(editor, `/admin/issues/${modelId}/send/schedule`, {
      date: '2099-08-01',
      time: '09:00',
    });
    expect(res.statusCode).toBe(303);
    const row = await state(modelId);
    expect(row.state).toBe('scheduled');
    expect(row.scheduled_at?.toISOString()).toBe('2099-08-01T01:00:00.000Z');
    expect(row.schedule_time_zone).toBe('Asia/Shanghai');
    const job = await issuesQueue.getJob(scheduleJobId(modelId));
    expect(job?.data).toMatchObject({ issueId: modelId, action: 'send' });
    const shown = await follow(editor, res);
    expect(shown.body).toContain('已排期：2099-08-01 09:00（Asia/Shanghai）。');
    expect(shown.body).toContain('计划于 2099-08-01 09:00（Asia/Shanghai）发送');
  });

  it('reschedules in another publication time zone, then unschedules', async () => {
    await h.ctx.db.updateTable('publication').set({ time_zone: 'America/New_York' }).execute();
    try {
      const page = await editor.get(`/admin/issues/${modelId}/send`);
      expect(page.body).toContain('America/New_York');
      // The form offers the stored time in the zone shown: 2099-07-31 21:00 in New York.
      expect(page.body).toContain('value="2099-07-31"');
      expect(page.body).toContain('value="21:00"');
      const res = await submit(editor, `/admin/issues/${modelId}/send/schedule`, {
        date: '2099-01-15',
        time: '09:00',
      });
      expect(res.statusCode).toBe(303);
      const row = await state(modelId);
      expect(row.state).toBe('scheduled');
      expect(row.scheduled_at?.toISOString()).toBe('2099-01-15T14:00:00.000Z');
      expect(row.schedule_time_zone).toBe('America/New_York');

      const bad = await submit(editor, `/admin/issues/${modelId}/send/schedule`, {
        date: '2020-01-01',
        time: '09:00',
      });
      const badPage = (await follow(editor, bad)).body;
      // Said in the editor's language, naming the time and zone that were refused.
      expect(badPage).toMatch(
        /class="flash error"[^>]*>操作未完成：2020-01-01 09:00（America\/New_York）已经过去，请选择更晚的时间。/,
      );
      expect(badPage).not.toContain('in the past');
      const garbled = await submit(editor, `/admin/issues/${modelId}/send/schedule`, {
        date: 'soon',
        time: '9',
      });
      expect((await follow(editor, garbled)).body).toContain('“soon 9”不是有效的日期和时间');
      expect((await state(modelId)).scheduled_at?.toISOString()).toBe('2099-01-15T14:00:00.000Z');
    } finally {
      await h.ctx.db.updateTable('publication').set({ time_zone: 'Asia/Shanghai' }).execute();
    }
    const un = await submit(editor, `/admin/issues/${modelId}/send/unschedule`, {});
    expect(un.statusCode).toBe(303);
    const row = await state(modelId);
    expect(row.state).toBe('approved');
    expect(row.scheduled_at).toBeNull();
    expect(await issuesQueue.getJob(scheduleJobId(modelId))).toBeUndefined();
  });

  it('lets a viewer read the page and the progress but not act', async () => {
    const page = await viewer.get(`/admin/issues/${modelId}/send`);
    expect(page.statusCode).toBe(200);
    expect(page.body).toContain('您的角色为只读');
    expect(page.body).not.toContain('/send/approve"');
    expect(page.body).not.toContain('/send/schedule"');
    expect((await viewer.get(`/admin/issues/${modelId}/send/progress`)).statusCode).toBe(200);
    for (const act of [
      'approve',
      'schedule',
      'now',
      'unschedule',
      'cancel',
      'pause',
      'resume',
      'resend-unknown',
    ]) {
      const res = await submit(viewer, `/admin/issues/${modelId}/send/${act}`, {
        date: '2099-01-01',
        time: '09:00',
      });
      expect(res.statusCode, act).toBe(403);
    }
    expect((await state(modelId)).state).toBe('approved');
  });

  it('sends a scheduled issue now, without unscheduling: sending at once, then cancels it', async () => {
    await submit(editor, `/admin/issues/${modelId}/send/schedule`, { date: '2099-08-01', time: '09:00' });
    expect((await state(modelId)).state).toBe('scheduled');
    const before = await editor.get(`/admin/issues/${modelId}/send`);
    expect(before.body).toContain(`action="/admin/issues/${modelId}/send/now"`);

    const now = await submit(editor, `/admin/issues/${modelId}/send/now`, {});
    expect(now.statusCode).toBe(303);
    const row = await state(modelId);
    // Sending from this request on: no wait for a scheduled job to fire.
    expect(row.state).toBe('sending');
    expect(row.sending_started_at?.getTime()).toBe(h.clock.now.getTime());
    expect(row.scheduled_at).toBeNull();
    // The worker is asked at once (no delay) to freeze the audience and enqueue the batches.
    const job = await issuesQueue.getJob(scheduleJobId(modelId));
    expect(job?.data).toMatchObject({ issueId: modelId, action: 'start' });
    expect(job?.opts.delay ?? 0).toBe(0);

    const page = await follow(editor, now);
    expect(page.body).toContain('已开始发送：先冻结收件人名单，再逐批发出；本页实时显示进度。');
    expect(page.body).toContain('data-state="sending"');
    expect(page.body).toContain('data-live="true"');
    expect(page.body).not.toContain('计划于'); // no longer "to be sent at"
    expect(page.body).toMatch(
      /<span data-progress="startedText">开始发送：\d{4}-\d{2}-\d{2} \d{2}:\d{2}<\/span>/,
    );
    // The history names the editor's choice: 立即发送, not a schedule for this minute.
    expect(page.body).toMatch(new RegExp(`<td>${editor.email}</td><td>立即发送</td>`));

    const cancel = await submit(editor, `/admin/issues/${modelId}/send/cancel`, {});
    expect(cancel.statusCode).toBe(303);
    expect((await state(modelId)).state).toBe('cancelled');
    // A "start" job still waiting finds the issue cancelled and does nothing (workers/issues.ts).
    expect((await follow(editor, cancel)).body).toContain('本期已取消，0 封尚未发出的邮件不再发送。');

    // A control the state no longer allows is refused in the editor's language, naming the state.
    const again = await submit(editor, `/admin/issues/${modelId}/send/schedule`, {
      date: '2099-01-15',
      time: '09:00',
    });
    expect((await follow(editor, again)).body).toContain('本期当前状态为“已取消”，不能排期。');
  });

  describe('while sending', () => {
    let issueId: number;
    beforeAll(async () => {
      const seeded = await seedSentIssue(h.ctx.db, {
        recipients: 12,
        period: '2030-05',
        states: [
          'accepted',
          'accepted',
          'accepted',
          'accepted',
          'accepted',
          'deferred',
          'deferred',
          'failed',
          'unknown',
          'queued',
          'queued',
          'queued',
        ],
      });
      issueId = seeded.issueId;
      await h.ctx.db
        .updateTable('issues')
        .set({
          state: 'sending',
          prepared_at: new Date(),
          sending_started_at: sql<Date>`now() - interval '30 seconds'` as never,
        })
        .where('id', '=', issueId)
        .execute();
      await h.ctx.db
        .updateTable('deliveries')
        .set({ accepted_at: sql<Date>`now() - interval '20 seconds'` as never })
        .where('issue_id', '=', issueId)
        .where('state', '=', 'accepted')
        .execute();
    });

    it('says on the page when messages were refused for reputation or spam, and that nobody was suppressed', async () => {
      const before = await viewer.get(`/admin/issues/${issueId}/send`);
      expect(before.body).not.toContain('data-progress="blocked"');
      await h.ctx.db
        .updateTable('deliveries')
        .set({ error_class: 'spam_content', smtp_code: 554, smtp_response: '554 DT:SPM' })
        .where('issue_id', '=', issueId)
        .where('state', '=', 'failed')
        .execute();
      const page = await viewer.get(`/admin/issues/${issueId}/send`);
      expect(page.body).toMatch(
        /data-progress="blocked"><a href="\/admin\/issues\/\d+\/stats">有 1 封因发件信誉/,
      );
      await h.ctx.db
        .updateTable('deliveries')
        .set({ error_class: null })
        .where('issue_id', '=', issueId)
        .where('state', '=', 'failed')
        .execute();
    });

    it('reports the counts, a rate and an ETA as JSON', async () => {
      const res = await viewer.get(`/admin/issues/${issueId}/send/progress`);
      expect(res.statusCode).toBe(200);
      expect(res.headers['cache-control']).toBe('no-store');
      const p = res.json() as SendProgress & { rateText: string; controls: Record<string, boolean> };
      expect(p).toMatchObject({
        state: 'sending',
        total: 12,
        accepted: 5,
        deferred: 2,
        failed: 1,
        unknown: 1,
        pending: 3,
        remaining: 5,
        done: 7,
        live: true,
      });
      // Six rows answered, the first 20 s ago: 0.3 a second (measured from that answer, not the start).
      expect(p.ratePerSecond).toBeGreaterThanOrEqual(0.2);
      expect(p.ratePerSecond).toBeLessThanOrEqual(0.3);
      expect(p.etaSeconds).toBe(Math.ceil(5 / p.ratePerSecond));
      expect(p.rateText).toMatch(/封\/秒$/);
      expect(p.controls).toMatchObject({ pause: true, resume: false, cancel: true });
    });

    it('shows the progress on the page, refreshing itself without JS', async () => {
      const page = await editor.get(`/admin/issues/${issueId}/send`);
      expect(page.body).toContain(`data-progress-url="/admin/issues/${issueId}/send/progress"`);
      expect(page.body).toMatch(/data-progress="accepted">5</);
      expect(page.body).toMatch(/data-progress="failed">1</);
      expect(page.body).toContain('<noscript><meta http-equiv="refresh" content="10"></noscript>');
      expect(page.body).toMatch(/role="status" aria-live="polite"/);
      expect(page.body).toContain('<script src="/static/send.js" defer></script>');
      const script = await h.web.inject({ method: 'GET', url: '/static/send.js' });
      expect(script.statusCode).toBe(200);
    });

    it('pauses and resumes (form and JSON), re-enqueueing the waiting rows', async () => {
      const pause = await submit(editor, `/admin/issues/${issueId}/send/pause`, {});
      expect(pause.statusCode).toBe(303);
      let row = await state(issueId);
      expect(row.state).toBe('paused');
      expect(row.pause_reason).toBe('operator');
      // The page says why in words, not the stored code.
      const paused = await editor.get(`/admin/issues/${issueId}/send`);
      expect(paused.body).toContain('暂停原因：操作员暂停了发送。');
      expect(paused.body).not.toContain('暂停原因：operator');
      const again = await editor.json('POST', `/admin/issues/${issueId}/send/pause`, {});
      expect(again.statusCode).toBe(409);
      // The lifecycle's own refusal, naming the state and the action.
      expect((again.json() as { message: string }).message).toContain('本期当前状态为“已暂停”，不能暂停。');

      const sendQueue = new Queue(QUEUES.send, {
        connection: createRedis(h.env.REDIS_URL),
        prefix: h.env.QUEUE_PREFIX,
      });
      try {
        const before = await sendQueue.count();
        const resume = await editor.json('POST', `/admin/issues/${issueId}/send/resume`, {});
        expect(resume.statusCode).toBe(200);
        const body = resume.json() as { ok: boolean; message: string; progress: SendProgress };
        expect(body).toMatchObject({ ok: true, message: '已继续发送。', progress: { state: 'sending' } });
        expect(await sendQueue.count()).toBeGreaterThan(before);
      } finally {
        await sendQueue.close();
      }
      row = await state(issueId);
      expect(row.state).toBe('sending');
      const audit = await h.ctx.db
        .selectFrom('issue_audit')
        .select(['action', 'actor'])
        .where('issue_id', '=', issueId)
        .orderBy('id')
        .execute();
      expect(audit.map((a) => a.action)).toEqual(['pause', 'resume']);
      expect(audit[0]?.actor).toBe(`user:${editor.email}`);
      // The page's history says who did it, newest first, in the editor's language.
      const page = (await editor.get(`/admin/issues/${issueId}/send`)).body;
      const history = page.split('id="history-title"')[1]?.split('</section>')[0] ?? '';
      const rows = [...history.matchAll(/<tr><td>[^<]+<\/td><td>([^<]+)<\/td><td>([^<]+)<\/td><\/tr>/g)].map(
        (m) => [m[1], m[2]],
      );
      expect(rows).toEqual([
        [editor.email, '继续发送'],
        [editor.email, '暂停（手动）'],
      ]);
    });

    it('cancels: rows not yet on the wire are skipped', async () => {
      const res = await submit(editor, `/admin/issues/${issueId}/send/cancel`, {});
      expect(res.statusCode).toBe(303);
      expect((await state(issueId)).state).toBe('cancelled');
      const p = (await editor.get(`/admin/issues/${issueId}/send/progress`)).json() as SendProgress;
      expect(p).toMatchObject({
        state: 'cancelled',
        skipped: 5,
        pending: 0,
        deferred: 0,
        accepted: 5,
        live: false,
      });
      expect((await follow(editor, res)).body).toContain('本期已取消，5 封尚未发出的邮件不再发送。');
    });

    it('is drawn in English for an English user', async () => {
      await editor.post('/admin/locale', { locale: 'en', next: '/admin' });
      try {
        const page = await editor.get(`/admin/issues/${issueId}/send`);
        expect(page.body).toContain('Accepted by the relay');
        expect(page.body).toContain('Cancelled');
        const refused = await submit(editor, `/admin/issues/${issueId}/send/resume`, {});
        expect((await follow(editor, refused)).body).toContain(
          'This issue is cancelled; it cannot resume now.',
        );
      } finally {
        await editor.post('/admin/locale', { locale: 'zh-CN', next: '/admin' });
      }
    });
  });

  it('answers 404 for an unknown issue', async () => {
    expect((await editor.get('/admin/issues/999999/send')).statusCode).toBe(404);
    expect((await editor.get('/admin/issues/999999/send/progress')).statusCode).toBe(404);
    expect((await submit(editor, '/admin/issues/999999/send/pause')).statusCode).toBe(404);
  });
});
