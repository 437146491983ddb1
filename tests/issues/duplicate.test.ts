import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { duplicateIssue, latestIssueId } from '../../src/issues/duplicate.js';
import { addIssueItem, reorderIssueSections, updateIssueFields } from '../../src/issues/edit.js';
import { loadIssueSections } from '../../src/issues/load.js';
import { nextPeriod } from '../../src/issues/period.js';
import { type EditorialDeps, EditorialInputError, getIssue, listAudit } from '../../src/issues/store.js';
import { silentLogger } from '../../src/log.js';
import { MODEL_SECTIONS } from '../../src/publication/model-sections.js';
import { ensurePublication } from '../../src/publication/publication.js';
import { upsertSection } from '../../src/publication/sections.js';
import { createTestDatabase, type TestDatabase } from '../support/test-db.js';
import { testEnv } from '../support/test-env.js';

let tdb: TestDatabase;
let deps: EditorialDeps;
let sourceId: number;
const clock = new Date('2025-08-02T03:00:00Z');

beforeAll(async () => {
  tdb = await createTestDatabase();
  deps = { db: tdb.db, log: silentLogger, env: testEnv(), now: () => clock };
  await ensurePublication(tdb.db, deps.env);
  for (const s of MODEL_SECTIONS) await upsertSection(tdb.db, s);
  // July: sent, with a masthead, an intro, items and its own section order.
  const row = await tdb.db
    .insertInto('issues')
    .values({
      period: '2025-07',
      title: '数字科技与人工智能',
      subject: '七月刊：新规与案例',
      preheader: '本月 27 条',
      intro: '各位同仁：\n\n本期关注人工智能治理。',
      masthead: JSON.stringify({
        subtitle: 'Digital Technology and Artificial Intelligence',
        committee: '上海市律师协会数字科技与人工智能专业委员会',
        director: ['张逸瑞'],
        editor: '殷雨薇',
        lines: [{ label: '顾问', value: '某某' }],
      }),
      tracking_enabled: false,
    })
    .returning('id')
    .executeTakeFirstOrThrow();
  sourceId = row.id;
  await addIssueItem(deps, sourceId, { sectionKey: 'case-studies', title: '案例一', summary: '摘要' }, 't');
  await addIssueItem(deps, sourceId, { sectionKey: 'domestic-regulation', title: '新规一' }, 't');
  await reorderIssueSections(deps, sourceId, ['industry-news', 'case-studies', 'domestic-regulation'], 't');
  await tdb.db
    .updateTable('issues')
    .set({ state: 'sent', approved_at: clock, approved_by: 'a', sent_at: clock, scheduled_at: clock })
    .where('id', '=', sourceId)
    .execute();
});
afterAll(async () => {
  await tdb?.drop();
});

describe('next period', () => {
  it('follows months and ISO weeks across the year end', () => {
    expect(nextPeriod('2025-07')).toBe('2025-08');
    expect(nextPeriod('2025-12')).toBe('2026-01');
    expect(nextPeriod('2025-W30')).toBe('2025-W31');
    expect(nextPeriod('2026-W53')).toBe('2027-W01');
    expect(nextPeriod('2025-W52')).toBe('2026-W01');
  });
});

describe('duplicating the last issue as the next draft', () => {
  let copyId: number;

  it('finds the newest issue that is not cancelled', async () => {
    expect(await latestIssueId(deps)).toBe(sourceId);
  });

  it('copies title, masthead, intro, language, tracking choice and section order for the next period', async () => {
    const result = await duplicateIssue(deps, sourceId, { actor: 'user:ed@example.org' });
    copyId = result.issueId;
    expect(result.period).toBe('2025-08');
    const [source, copy] = await Promise.all([getIssue(tdb.db, sourceId), getIssue(tdb.db, copyId)]);
    expect(copy).toMatchObject({
      period: '2025-08',
      period_kind: 'month',
      title: source.title,
      intro: source.intro,
      masthead: source.masthead,
      locale: source.locale,
      tracking_enabled: false,
    });
    const sourceOrder = (await loadIssueSections(tdb.db, sourceId)).map((s) => s.section.key);
    const copyOrder = (await loadIssueSections(tdb.db, copyId)).map((s) => s.section.key);
    expect(sourceOrder.slice(0, 3)).toEqual(['industry-news', 'case-studies', 'domestic-regulation']);
    expect(copyOrder).toEqual(sourceOrder);
    expect(result.sections).toEqual(sourceOrder);
  });

  it('copies no items, subject, preheader, state, approval or schedule', async () => {
    const copy = await getIssue(tdb.db, copyId);
    expect(copy).toMatchObject({
      state: 'draft',
      revision: 1,
      subject: null,
      preheader: null,
      approved_at: null,
      approved_by: null,
      scheduled_at: null,
      sent_at: null,
    });
    const items = (await loadIssueSections(tdb.db, copyId)).flatMap((s) => s.items);
    expect(items).toEqual([]);
  });

  it('audits the copy with where it came from', async () => {
    const audit = await listAudit(tdb.db, copyId);
    expect(audit.map((a) => [a.action, a.actor])).toEqual([['duplicate', 'user:ed@example.org']]);
    expect(audit[0]?.detail).toMatchObject({ from: sourceId, fromPeriod: '2025-07', period: '2025-08' });
  });

  it('refuses a second open draft for the same period, naming the one there', async () => {
    const err = await duplicateIssue(deps, sourceId).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(EditorialInputError);
    expect((err as EditorialInputError).problem).toEqual({
      code: 'period-has-issue',
      params: { period: '2025-08', id: copyId, state: 'draft' },
    });
  });

  it('takes another period when asked, and refuses one that is not a period', async () => {
    const september = await duplicateIssue(deps, sourceId, { period: '2025-09' });
    expect((await getIssue(tdb.db, september.issueId)).period).toBe('2025-09');
    const err = await duplicateIssue(deps, sourceId, { period: 'next month' }).catch((e: unknown) => e);
    expect((err as EditorialInputError).problem?.code).toBe('period-invalid');
    expect(await latestIssueId(deps)).toBe(september.issueId);
  });

  it('lets the draft be edited on its own: changing the copy leaves the source as it was', async () => {
    await updateIssueFields(deps, copyId, { intro: '八月导语' }, 't');
    expect((await getIssue(tdb.db, sourceId)).intro).toBe('各位同仁：\n\n本期关注人工智能治理。');
  });
});
