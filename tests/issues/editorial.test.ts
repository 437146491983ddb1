import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Env } from '../../src/config/env.js';
import { assembleDraft } from '../../src/issues/assemble.js';
import { checkIssue } from '../../src/issues/check.js';
import {
  addIssueItem,
  moveIssueItem,
  removeIssueItem,
  reorderIssueSections,
  updateIssueFields,
  updateIssueItem,
} from '../../src/issues/edit.js';
import { exportIssue, importIssueMarkdown, MarkdownImportError } from '../../src/issues/import.js';
import { approveIssue, ChecklistFailedError, transitionIssue } from '../../src/issues/lifecycle.js';
import { loadIssueDocument, loadRenderableIssue } from '../../src/issues/load.js';
import type { EditorialDeps } from '../../src/issues/store.js';
import { getIssue, listAudit } from '../../src/issues/store.js';
import { testSend } from '../../src/issues/test-send.js';
import { silentLogger } from '../../src/log.js';
import { MODEL_SECTIONS } from '../../src/publication/model-sections.js';
import { ensurePublication, getPublication, updatePublication } from '../../src/publication/publication.js';
import { listSections, upsertSection } from '../../src/publication/sections.js';
import { MODEL_DOCUMENT, sharedFixture } from '../support/shared.js';
import { createTestDatabase, type TestDatabase } from '../support/test-db.js';
import { testEnv } from '../support/test-env.js';

const model = sharedFixture(MODEL_DOCUMENT);
const modelText = model.present ? model.read() : '';

let tdb: TestDatabase;
let env: Env;
const clock = new Date('2025-08-01T00:00:00Z');
let deps: EditorialDeps;

beforeAll(async () => {
  tdb = await createTestDatabase();
  env = testEnv({ MAIL_FROM: '数字科技与人工智能 <news@example.org>' });
  deps = { db: tdb.db, log: silentLogger, env, now: () => clock };
});
afterAll(async () => {
  await tdb.drop();
});

describe('publication and sections as data', () => {
  it('creates the publication from the environment once, then keeps edits', async () => {
    const p = await ensurePublication(tdb.db, env);
    expect(p).toMatchObject({
      name: '数字科技与人工智能',
      from_email: 'news@example.org',
      time_zone: 'Asia/Shanghai',
      locale: 'zh-CN',
    });
    await updatePublication(tdb.db, { masthead: { committee: '专业委员会', editor: '某某' } });
    const again = await ensurePublication(tdb.db, env);
    expect(again.masthead).toEqual({ committee: '专业委员会', editor: '某某' });
  });

  it('stores the model sections in order with both locales, and edits them by key', async () => {
    for (const s of [...MODEL_SECTIONS].reverse()) await upsertSection(tdb.db, s);
    const sections = await listSections(tdb.db);
    expect(sections.map((s) => s.key)).toEqual(MODEL_SECTIONS.map((s) => s.key));
    expect(sections[0]?.names).toEqual({ 'zh-CN': '新规概览', en: 'Domestic regulation' });
    await expect(upsertSection(tdb.db, { key: 'Bad Key', position: 9, names: {} })).rejects.toThrow(
      'lowercase',
    );
  });
});

describe.skipIf(!model.present)('Markdown import into a draft', () => {
  let issueId: number;

  it('creates a draft with the 4 sections and 27 items of the model document', async () => {
    const result = await importIssueMarkdown(deps, modelText, { actor: 'editor@test' });
    issueId = result.id;
    expect(result.problems).toEqual([]);
    expect(result.period).toBe('2025-07');
    expect(result.sections.map((s) => [s.key, s.items.length])).toEqual([
      ['domestic-regulation', 2],
      ['foreign-regulation', 8],
      ['case-studies', 6],
      ['industry-news', 11],
    ]);
    const issue = await getIssue(tdb.db, issueId);
    expect(issue).toMatchObject({
      state: 'draft',
      revision: 1,
      period: '2025-07',
      title: '数字科技与人工智能',
    });
    expect(issue.masthead.editor).toBe('殷雨薇');
    const audit = await listAudit(tdb.db, issueId);
    expect(audit.map((a) => [a.action, a.actor, a.detail.items])).toEqual([['import', 'editor@test', 27]]);
  });

  it('stores the split whitehouse URL and the ones joined by // intact', async () => {
    const doc = await loadIssueDocument(tdb.db, issueId);
    expect(doc.sections[1]?.items[7]?.sources.map((s) => s.url)).toEqual([
      'https://www.whitehouse.gov/presidential-actions/2025/07/accelerating-federal-permitting-of-data-center-infrastructure/',
      'https://www.whitehouse.gov/presidential-actions/2025/07/preventing-woke-ai-in-the-federal-government/',
      'https://www.whitehouse.gov/presidential-actions/2025/07/promoting-the-export-of-the-american-ai-technology-stack/',
    ]);
  });

  it('import → export → import gives the same issue', async () => {
    const markdown = await exportIssue(deps, issueId);
    const second = await importIssueMarkdown(deps, markdown, { existing: 'new' });
    expect(second.id).not.toBe(issueId);
    const { id: _a, ...first } = await loadIssueDocument(tdb.db, issueId);
    const { id: _b, ...again } = await loadIssueDocument(tdb.db, second.id);
    expect(again).toEqual(first);
    expect(await exportIssue(deps, second.id)).toBe(markdown);
  });

  it('refuses a document whose items cannot be placed, naming the lines', async () => {
    const bad =
      '标题\n\n每月资讯 2025 年 9 月\n\n# 新规概览\n\n## 1. 好\n\n内容摘要：好。\n\n# 无此栏目\n\n## 1. 坏\n';
    const err = await importIssueMarkdown(deps, bad).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MarkdownImportError);
    expect((err as Error).message).toContain('line 11: heading "无此栏目" is not a known section');
    const count = await tdb.db
      .selectFrom('issues')
      .select(tdb.db.fn.countAll().as('n'))
      .where('period', '=', '2025-09')
      .executeTakeFirst();
    expect(Number(count?.n)).toBe(0);
  });

  it('builds the renderable issue with sections in order and a default subject', async () => {
    const r = await loadRenderableIssue(tdb.db, issueId);
    expect(r.sections.map((s) => s.key)).toEqual(MODEL_SECTIONS.map((s) => s.key));
    expect(r.sections[3]?.names['zh-CN']).toBe('行业动态');
    expect(r.subject).toBe('数字科技与人工智能（2025年7月）');
    expect(r.sections.flatMap((s) => s.items)).toHaveLength(27);
    expect(r.publication.timeZone).toBe('Asia/Shanghai');
  });
});

describe.skipIf(!model.present)('editing, audit log and states', () => {
  let issueId: number;
  let sectionItems: () => Promise<{ id: number; title: string; section: string }[]>;

  beforeAll(async () => {
    const created = await importIssueMarkdown(deps, modelText, { existing: 'new' });
    issueId = created.id;
    sectionItems = async () =>
      (await loadRenderableIssue(tdb.db, issueId)).sections.flatMap((s) =>
        s.items.map((i) => ({ id: i.id, title: i.title, section: s.key })),
      );
  });

  it('edits title, summary and sources; each change bumps the revision and is audited with who and what', async () => {
    const [first] = await sectionItems();
    await updateIssueItem(
      deps,
      issueId,
      first?.id as number,
      {
        title: '新标题',
        summary: '新摘要。',
        sources: [{ url: 'https://example.org/a', label: '甲' }, { url: 'https://example.org/b' }],
      },
      'alice',
    );
    await updateIssueFields(deps, issueId, { intro: '本期导读', preheader: '七月要闻' }, 'bob');
    const issue = await getIssue(tdb.db, issueId);
    expect(issue.revision).toBe(3);
    const r = await loadRenderableIssue(tdb.db, issueId);
    expect(r.intro).toBe('本期导读');
    expect(r.sections[0]?.items[0]).toMatchObject({
      title: '新标题',
      summary: '新摘要。',
      sources: [{ url: 'https://example.org/a', label: '甲' }, { url: 'https://example.org/b' }],
    });
    const audit = await listAudit(tdb.db, issueId);
    expect(audit.slice(-2).map((a) => [a.actor, a.action])).toEqual([
      ['alice', 'update-item'],
      ['bob', 'update-issue'],
    ]);
    expect(audit.at(-2)?.detail).toMatchObject({
      before: { title: '工业和信息化领域人工智能安全治理标准体系正式发布' },
    });
    await expect(
      updateIssueItem(
        deps,
        issueId,
        first?.id as number,
        { sources: [{ url: 'javascript:alert(1)' }] },
        'alice',
      ),
    ).rejects.toThrow('must be an http(s) URL');
  });

  it('adds, reorders, moves between sections and removes items', async () => {
    const added = await addIssueItem(
      deps,
      issueId,
      { sectionKey: 'case-studies', title: '新增案例', summary: '摘要。', position: 0 },
      'alice',
    );
    let items = await sectionItems();
    const cases = items.filter((i) => i.section === 'case-studies');
    expect(cases[0]?.id).toBe(added);
    expect(cases).toHaveLength(7);

    await moveIssueItem(deps, issueId, added, { sectionKey: 'industry-news', position: 2 }, 'alice');
    items = await sectionItems();
    expect(items.filter((i) => i.section === 'case-studies')).toHaveLength(6);
    expect(items.filter((i) => i.section === 'industry-news')[2]?.id).toBe(added);

    await moveIssueItem(deps, issueId, added, { position: 0 }, 'alice');
    expect((await sectionItems()).filter((i) => i.section === 'industry-news')[0]?.id).toBe(added);

    await removeIssueItem(deps, issueId, added, 'alice');
    items = await sectionItems();
    expect(items.some((i) => i.id === added)).toBe(false);
    expect(items).toHaveLength(27);

    await reorderIssueSections(deps, issueId, ['industry-news'], 'alice');
    const order = (await loadRenderableIssue(tdb.db, issueId)).sections.map((s) => s.key);
    expect(order).toEqual(['industry-news', 'domestic-regulation', 'foreign-regulation', 'case-studies']);
    const actions = (await listAudit(tdb.db, issueId)).map((a) => a.action);
    expect(actions.slice(-5)).toEqual([
      'add-item',
      'move-item',
      'move-item',
      'remove-item',
      'reorder-sections',
    ]);
  });

  it('approval runs the checklist; editing an approved issue returns it to draft', async () => {
    const approved = await approveIssue(deps, issueId, 'chief');
    expect(approved).toMatchObject({ state: 'approved', approved_by: 'chief' });
    const rev = approved.revision;
    const [first] = await sectionItems();
    await updateIssueItem(deps, issueId, first?.id as number, { summary: '再改。' }, 'alice');
    const issue = await getIssue(tdb.db, issueId);
    expect(issue).toMatchObject({ state: 'draft', approved_by: null, revision: rev + 1 });
    const last = (await listAudit(tdb.db, issueId)).at(-1);
    expect(last?.detail).toMatchObject({ from: 'approved' });
  });

  it('refuses to approve an empty issue and cannot edit a sent one', async () => {
    const empty = await assembleDraft(deps, { period: '2030-01' });
    await expect(approveIssue(deps, empty.issueId, 'chief')).rejects.toBeInstanceOf(ChecklistFailedError);
    const forced = await approveIssue(deps, empty.issueId, 'chief', { force: true });
    expect(forced.state).toBe('approved');
    await transitionIssue(deps, empty.issueId, 'start-sending', 'delivery');
    await transitionIssue(deps, empty.issueId, 'finish', 'delivery');
    await expect(updateIssueFields(deps, empty.issueId, { intro: 'x' }, 'alice')).rejects.toThrow(
      'Cannot edit an issue that is sent',
    );
  });
});

describe('draft assembly', () => {
  let sourceId: number;
  const sectionId = async (key: string) =>
    (await tdb.db.selectFrom('sections').select('id').where('key', '=', key).executeTakeFirstOrThrow()).id;
  const addItem = async (title: string, publishedAt: string, key: string | null = 'industry-news') =>
    (
      await tdb.db
        .insertInto('items')
        .values({
          source_id: sourceId,
          title,
          summary_text: `${title} 摘要`,
          link: `https://example.org/${encodeURIComponent(title)}`,
          published_at: publishedAt,
          section_id: key ? await sectionId(key) : null,
        })
        .returning('id')
        .executeTakeFirstOrThrow()
    ).id;

  beforeAll(async () => {
    sourceId = (
      await tdb.db
        .insertInto('sources')
        .values({ name: 'test', url: 'https://example.org/feed.xml' })
        .returning('id')
        .executeTakeFirstOrThrow()
    ).id;
  });

  it('the first issue of a kind looks back one period only', async () => {
    // ISO week 2026-W10 in Shanghai is [2026-03-01T16:00Z, 2026-03-08T16:00Z); no weekly issue exists yet.
    const weekly = await assembleDraft(deps, { period: '2026-W10', kind: 'week' });
    expect(weekly.window).toEqual({ start: '2026-03-01T16:00:00.000Z', end: '2026-03-08T16:00:00.000Z' });
    await addItem('上一周', '2026-02-25T00:00:00Z');
    await addItem('本周', '2026-03-05T00:00:00Z');
    const again = await assembleDraft(deps, { period: '2026-W10', kind: 'week' });
    const r = await loadRenderableIssue(tdb.db, again.issueId);
    expect(r.sections.flatMap((s) => s.items.map((i) => i.title))).toEqual(['本周']);
    // Weekly and monthly issues are separate series: cancel it so the monthly tests below see the item.
    await transitionIssue(deps, weekly.issueId, 'cancel', 'editor');
  });

  it('takes items of the month in Asia/Shanghai, grouped by section, newest first', async () => {
    // 2026-03 in Shanghai is [2026-02-28T16:00Z, 2026-03-31T16:00Z).
    await addItem('二月末（上海已是三月）', '2026-02-28T16:00:00Z');
    await addItem('二月（上海仍是二月）', '2026-02-28T15:59:59Z');
    await addItem('三月中', '2026-03-15T04:00:00Z');
    await addItem('三月末（上海已是四月）', '2026-03-31T16:00:00Z');
    await addItem('三月规定', '2026-03-10T00:00:00Z', 'domestic-regulation');
    await addItem('无栏目', '2026-03-11T00:00:00Z', null);

    // February's issue takes what Shanghai still calls February (and what was published since the last issue).
    const feb = await assembleDraft(deps, { period: '2026-02' });
    const febTitles = (await loadRenderableIssue(tdb.db, feb.issueId)).sections.flatMap((s) =>
      s.items.map((i) => i.title),
    );
    expect(febTitles).toContain('二月（上海仍是二月）');
    expect(febTitles).not.toContain('二月末（上海已是三月）');

    const result = await assembleDraft(deps, { period: '2026-03' }, 'assembler');
    expect(result).toMatchObject({ created: true, added: 4, unsectioned: 1 });
    expect(result.window).toEqual({ start: '2026-02-28T16:00:00.000Z', end: '2026-03-31T16:00:00.000Z' });
    const r = await loadRenderableIssue(tdb.db, result.issueId);
    const byKey = Object.fromEntries(r.sections.map((s) => [s.key, s.items.map((i) => i.title)]));
    expect(byKey['industry-news']).toEqual(['三月中', '本周', '二月末（上海已是三月）']);
    expect(byKey['domestic-regulation']).toEqual(['三月规定']);
    expect(r.sections.map((s) => s.key)).toEqual(MODEL_SECTIONS.map((s) => s.key));
  });

  it('assembling again merges new items without losing edits or re-adding removed ones', async () => {
    const { issueId } = await assembleDraft(deps, { period: '2026-03' });
    let r = await loadRenderableIssue(tdb.db, issueId);
    const news = r.sections.find((s) => s.key === 'industry-news');
    const edited = news?.items[0];
    const removed = news?.items[1];
    await updateIssueItem(
      deps,
      issueId,
      edited?.id as number,
      { title: '编辑改过的标题', summary: '编辑的摘要。' },
      'alice',
    );
    await removeIssueItem(deps, issueId, removed?.id as number, 'alice');
    await addItem('三月新到', '2026-03-20T00:00:00Z');

    const again = await assembleDraft(deps, { period: '2026-03' });
    expect(again).toMatchObject({ issueId, created: false, added: 1 });
    r = await loadRenderableIssue(tdb.db, issueId);
    const titles = r.sections.find((s) => s.key === 'industry-news')?.items.map((i) => [i.title, i.summary]);
    expect(titles).toEqual([
      ['编辑改过的标题', '编辑的摘要。'],
      ['二月末（上海已是三月）', '二月末（上海已是三月） 摘要'],
      ['三月新到', '三月新到 摘要'],
    ]);
    const third = await assembleDraft(deps, { period: '2026-03' });
    expect(third.added).toBe(0);
  });

  it('does not reuse items of an earlier issue, and later issues catch items published between issues', async () => {
    const april = await assembleDraft(deps, { period: '2026-04' });
    const r = await loadRenderableIssue(tdb.db, april.issueId);
    const titles = r.sections.flatMap((s) => s.items.map((i) => i.title));
    expect(titles).toEqual(['三月末（上海已是四月）']);
    expect(titles).not.toContain('三月中');
  });
});

describe('checklist and test send', () => {
  it('reports missing summaries and sources, duplicates, lengths by display width, and skips what it cannot run', async () => {
    const { issueId } = await assembleDraft(deps, { period: '2031-02' });
    await addIssueItem(deps, issueId, { sectionKey: 'case-studies', title: '无摘要无来源' }, 'alice');
    await addIssueItem(
      deps,
      issueId,
      {
        sectionKey: 'case-studies',
        title: '重复',
        summary: '一。',
        sources: [{ url: 'https://example.org/same' }],
      },
      'alice',
    );
    await addIssueItem(
      deps,
      issueId,
      {
        sectionKey: 'industry-news',
        title: '重复',
        summary: '二。',
        sources: [{ url: 'https://example.org/same#x' }],
      },
      'alice',
    );
    await updateIssueFields(deps, issueId, { subject: '汉'.repeat(41) }, 'alice');
    const list = await checkIssue({ db: tdb.db }, issueId);
    const byId = Object.fromEntries(list.checks.map((c) => [c.id, c]));
    expect(list.ok).toBe(true);
    expect(byId['items-without-summary']).toMatchObject({
      status: 'warn',
      details: [{ title: '无摘要无来源' }],
    });
    expect(byId['items-without-source']?.status).toBe('warn');
    expect(byId['duplicate-items']?.details).toHaveLength(2);
    expect(byId['empty-sections']).toMatchObject({
      status: 'warn',
      details: ['domestic-regulation', 'foreign-regulation'],
    });
    expect(byId['subject-length']).toMatchObject({
      status: 'warn',
      message: expect.stringContaining('width 82'),
    });
    expect(byId['variant-html-size']?.status).toBe('skipped');
    expect(byId['source-links']?.status).toBe('skipped');
  });

  it('measures every variant with the injected renderer against the 102 KB clipping limit', async () => {
    const { issueId } = await assembleDraft(deps, { period: '2031-02' });
    const render = async (_issue: unknown, keys: string[]) => ({
      subject: 's',
      html: keys.includes('industry-news') && keys.length === 2 ? 'x'.repeat(110_000) : '<p>ok</p>',
      text: 't',
    });
    const list = await checkIssue(
      { db: tdb.db, render, probeLink: async (url) => ({ status: url.includes('same') ? 404 : 200 }) },
      issueId,
    );
    const size = list.checks.find((c) => c.id === 'variant-html-size');
    expect(size?.status).toBe('warn');
    expect(size?.details).toHaveLength(3); // two non-empty sections → 3 variants
    expect(list.checks.find((c) => c.id === 'source-links')).toMatchObject({ status: 'warn' });
    const failing = await checkIssue(
      {
        db: tdb.db,
        render: async () => {
          throw new Error('bad partial');
        },
      },
      issueId,
    );
    expect(failing.ok).toBe(false);
    expect(failing.checks.find((c) => c.id === 'template-errors')?.status).toBe('fail');
  });

  it('test send mails the given addresses without touching deliveries', async () => {
    const { issueId } = await assembleDraft(deps, { period: '2031-02' });
    const sent: { to: string; subject: string }[] = [];
    const render = async (issue: { subject: string }, keys: string[]) => ({
      subject: issue.subject,
      html: `<p>${keys.join(',')}</p>`,
      text: 'text',
    });
    const result = await testSend(
      {
        ...deps,
        render,
        sendMail: async (m) => {
          sent.push({ to: m.to, subject: m.subject });
        },
      },
      issueId,
      ['a@example.org', 'b@example.org', 'a@example.org'],
    );
    expect(result.sent).toBe(2);
    expect(sent.map((s) => s.to)).toEqual(['a@example.org', 'b@example.org']);
    expect(sent[0]?.subject.startsWith('[TEST] ')).toBe(true);
    const deliveries = await tdb.db
      .selectFrom('deliveries')
      .select(tdb.db.fn.countAll().as('n'))
      .executeTakeFirst();
    expect(Number(deliveries?.n)).toBe(0);
    await expect(
      testSend({ ...deps, render, sendMail: async () => {} }, issueId, ['not-an-address']),
    ).rejects.toThrow('Not an email address: not-an-address');
    expect((await getPublication(tdb.db))?.name).toBeDefined();
  });
});
