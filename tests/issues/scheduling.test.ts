import { Queue } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Env } from '../../src/config/env.js';
import { cancelIssue } from '../../src/delivery/control.js';
import { addIssueItem, updateIssueFields } from '../../src/issues/edit.js';
import { approveIssue, scheduleJobId } from '../../src/issues/lifecycle.js';
import {
  parseScheduleTime,
  rescheduleIssue,
  resumeScheduledIssues,
  scheduleIssue,
  sendIssueNow,
  unscheduleIssue,
} from '../../src/issues/schedule.js';
import type { EditorialDeps } from '../../src/issues/store.js';
import { getIssue, listAudit } from '../../src/issues/store.js';
import { silentLogger } from '../../src/log.js';
import { MODEL_SECTIONS } from '../../src/publication/model-sections.js';
import { ensurePublication } from '../../src/publication/publication.js';
import { upsertSection } from '../../src/publication/sections.js';
import { QUEUES } from '../../src/queue/names.js';
import { createRedis } from '../../src/queue/redis.js';
import { createIssueWorker } from '../../workers/issues.js';
import { createTestDatabase, type TestDatabase } from '../support/test-db.js';
import { testEnv } from '../support/test-env.js';

let tdb: TestDatabase;
let env: Env;
let queue: Queue;
const clock = new Date('2025-07-31T00:00:00Z');
let deps: EditorialDeps & { queue: Queue };

async function approvedIssue(period: string): Promise<number> {
  const row = await tdb.db
    .insertInto('issues')
    .values({ period, title: '测试', created_at: clock, updated_at: clock })
    .returning('id')
    .executeTakeFirstOrThrow();
  await addIssueItem(
    deps,
    row.id,
    {
      sectionKey: 'industry-news',
      title: '条目',
      summary: '摘要。',
      sources: [{ url: 'https://example.org/' }],
    },
    'alice',
  );
  await approveIssue(deps, row.id, 'chief');
  return row.id;
}

beforeAll(async () => {
  tdb = await createTestDatabase();
  env = testEnv();
  queue = new Queue(QUEUES.issues, { connection: createRedis(env.REDIS_URL), prefix: env.QUEUE_PREFIX });
  deps = { db: tdb.db, log: silentLogger, env, now: () => clock, queue };
  await ensurePublication(tdb.db, env);
  for (const s of MODEL_SECTIONS) await upsertSection(tdb.db, s);
});
afterAll(async () => {
  await queue.obliterate({ force: true });
  await queue.close();
  await tdb.drop();
});

describe('scheduling', () => {
  it('reads the wall time in the given or the publication time zone', () => {
    expect(parseScheduleTime('2025-08-01 09:00', 'Asia/Shanghai').toISOString()).toBe(
      '2025-08-01T01:00:00.000Z',
    );
    expect(parseScheduleTime('2025-08-01T09:00+02:00', 'Asia/Shanghai').toISOString()).toBe(
      '2025-08-01T07:00:00.000Z',
    );
    expect(() => parseScheduleTime('next tuesday', 'Asia/Shanghai')).toThrow('is not a time like');
    expect(() => parseScheduleTime('2025-08-01 09:00', 'Mars/Base')).toThrow('IANA time zone');
  });

  it('only schedules an approved issue', async () => {
    const row = await tdb.db
      .insertInto('issues')
      .values({ period: '2025-01', title: 'x' })
      .returning('id')
      .executeTakeFirstOrThrow();
    await expect(scheduleIssue(deps, row.id, { at: '2025-08-01 09:00' })).rejects.toThrow(
      'Cannot schedule an issue that is draft',
    );
    expect(await queue.getJob(scheduleJobId(row.id))).toBeUndefined();
  });

  it('creates one delayed job carrying only ids and the revision', async () => {
    const id = await approvedIssue('2025-07');
    const issue = await scheduleIssue(deps, id, { at: '2025-08-01 09:00' }, 'chief');
    expect(issue).toMatchObject({ state: 'scheduled', schedule_time_zone: 'Asia/Shanghai' });
    expect(issue.scheduled_at?.toISOString()).toBe('2025-08-01T01:00:00.000Z');
    const job = await queue.getJob(scheduleJobId(id));
    expect(job?.data).toEqual({ issueId: id, action: 'send', revision: issue.revision });
    expect(await job?.getState()).toBe('delayed');
    expect(job?.opts.delay).toBe(25 * 3_600_000); // from the injected clock to 01:00Z the next day
  });

  it('reschedule replaces the job; unschedule and cancel remove it', async () => {
    const id = await approvedIssue('2025-06');
    await scheduleIssue(deps, id, { at: '2025-08-01 09:00' });
    await rescheduleIssue(deps, id, { at: '2025-08-02 10:30', tz: 'Europe/Amsterdam' });
    expect(await queue.getDelayedCount()).toBeGreaterThanOrEqual(1);
    const jobs = (await queue.getDelayed()).filter((j) => j.data.issueId === id);
    expect(jobs).toHaveLength(1);
    expect(jobs[0]?.opts.delay).toBe(new Date('2025-08-02T08:30:00Z').getTime() - clock.getTime());
    expect((await getIssue(tdb.db, id)).schedule_time_zone).toBe('Europe/Amsterdam');

    await unscheduleIssue(deps, id);
    expect(await queue.getJob(scheduleJobId(id))).toBeUndefined();
    expect((await getIssue(tdb.db, id)).state).toBe('approved');

    await scheduleIssue(deps, id, { at: '2025-08-01 09:00' });
    await cancelIssue({ ...deps, issuesQueue: queue }, id, 'chief');
    expect(await queue.getJob(scheduleJobId(id))).toBeUndefined();
    expect((await getIssue(tdb.db, id)).state).toBe('cancelled');
    expect((await listAudit(tdb.db, id)).map((a) => a.action)).toEqual([
      'add-item',
      'approve',
      'schedule',
      'reschedule',
      'unschedule',
      'schedule',
      'cancel',
    ]);
  });

  it('rebuilds a scheduled job lost from Redis from the ledger', async () => {
    const id = await approvedIssue('2025-03');
    await scheduleIssue(deps, id, { at: '2025-08-01 09:00' });
    await (await queue.getJob(scheduleJobId(id)))?.remove();
    expect(await queue.getJob(scheduleJobId(id))).toBeUndefined();
    const restored = await resumeScheduledIssues(deps);
    expect(restored).toContain(id);
    const job = await queue.getJob(scheduleJobId(id));
    expect(job?.data).toMatchObject({ issueId: id, action: 'send' });
    expect(await resumeScheduledIssues(deps)).not.toContain(id);
  });

  it('refuses a time in the past', async () => {
    const id = await approvedIssue('2025-05');
    await expect(scheduleIssue(deps, id, { at: '2025-07-01 09:00' })).rejects.toThrow('is in the past');
  });

  it('editing a scheduled issue returns it to draft so its job does nothing', async () => {
    const id = await approvedIssue('2025-04');
    await scheduleIssue(deps, id, { at: '2025-08-01 09:00' });
    await updateIssueFields(deps, id, { intro: '改了' }, 'alice');
    expect(await getIssue(tdb.db, id)).toMatchObject({ state: 'draft', scheduled_at: null });
  });
});

describe('the issue worker', () => {
  it('calls onDue within the grace period and holds, with the reason, past it', async () => {
    const onTime = await approvedIssue('2024-01');
    const late = await approvedIssue('2024-02');
    await scheduleIssue(deps, onTime, { at: '2025-08-01 09:00' });
    await scheduleIssue(deps, late, { at: '2025-07-31 09:00' });
    // Fire both jobs now; the worker's own clock says it is 2025-08-01 09:30 Shanghai.
    for (const id of [onTime, late]) await (await queue.getJob(scheduleJobId(id)))?.promote();

    const due: number[] = [];
    const finished = new Set<string>();
    const workerClock = new Date('2025-08-01T01:30:00Z');
    const { worker, close } = createIssueWorker({
      db: tdb.db,
      log: silentLogger,
      env,
      now: () => workerClock,
      connection: { url: env.REDIS_URL, prefix: env.QUEUE_PREFIX },
      onDue: async (id) => {
        due.push(id);
      },
      resumeOnStart: false,
    });
    const done = new Promise<void>((resolve, reject) => {
      worker.on('completed', (job) => {
        finished.add(String(job.id));
        if (finished.size === 2) resolve();
      });
      worker.on('failed', (_job, err) => reject(err));
    });
    await done;
    await close();

    expect(due).toEqual([onTime]);
    const held = await getIssue(tdb.db, late);
    expect(held.state).toBe('scheduled');
    expect(held.hold_reason).toContain('more than the 6 h grace period');
    expect((await listAudit(tdb.db, late)).at(-1)).toMatchObject({ actor: 'scheduler', action: 'hold' });
    expect((await getIssue(tdb.db, onTime)).hold_reason).toBeNull();

    // Rescheduling a held issue clears the hold.
    await rescheduleIssue(deps, late, { at: '2025-08-03 09:00' });
    expect((await getIssue(tdb.db, late)).hold_reason).toBeNull();
  });
});

describe('send now', () => {
  it('moves an approved or a scheduled issue to sending at once, and the worker starts it without delay', async () => {
    const approved = await approvedIssue('2025-12');
    const scheduled = await approvedIssue('2026-01');
    await scheduleIssue(deps, scheduled, { at: '2026-02-01 09:00' });

    for (const id of [approved, scheduled]) {
      const issue = await sendIssueNow(deps, id, 'user:chief@example.org');
      expect(issue).toMatchObject({ state: 'sending', scheduled_at: null, sending_started_at: clock });
      expect((await listAudit(tdb.db, id)).at(-1)).toMatchObject({
        actor: 'user:chief@example.org',
        action: 'start-sending',
        detail: { now: true },
      });
      const job = await queue.getJob(scheduleJobId(id));
      expect(job?.data).toMatchObject({ issueId: id, action: 'start' });
      expect(job?.opts.delay ?? 0).toBe(0);
    }
    // A draft is not sent, and says why.
    const draft = await tdb.db
      .insertInto('issues')
      .values({ period: '2026-02', title: '草稿' })
      .returning('id')
      .executeTakeFirstOrThrow();
    await expect(sendIssueNow(deps, draft.id)).rejects.toThrow('Cannot start-sending an issue that is draft');

    // The worker prepares each at once (onDue), and only while it is still sending unprepared.
    await tdb.db.updateTable('issues').set({ state: 'cancelled' }).where('id', '=', scheduled).execute();
    const started: number[] = [];
    const finished = new Set<string>();
    const { worker, close } = createIssueWorker({
      db: tdb.db,
      log: silentLogger,
      env,
      now: () => clock,
      connection: { url: env.REDIS_URL, prefix: env.QUEUE_PREFIX },
      onDue: async (id) => {
        started.push(id);
      },
      resumeOnStart: false,
    });
    await new Promise<void>((resolve, reject) => {
      worker.on('completed', (job) => {
        finished.add(String(job.id));
        if (finished.has(scheduleJobId(approved)) && finished.has(scheduleJobId(scheduled))) resolve();
      });
      worker.on('failed', (_job, err) => reject(err));
    });
    await close();
    expect(started).toEqual([approved]);
  });
});
