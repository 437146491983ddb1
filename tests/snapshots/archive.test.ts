import Fastify, { type FastifyInstance } from 'fastify';
import iconv from 'iconv-lite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Env } from '../../src/config/env.js';
import { closeFetchAgents } from '../../src/feeds/fetch.js';
import { archiveRoutes } from '../../src/http/public/archive.js';
import { addIssueItem } from '../../src/issues/edit.js';
import type { EditorialDeps } from '../../src/issues/store.js';
import { silentLogger } from '../../src/log.js';
import { MODEL_SECTIONS } from '../../src/publication/model-sections.js';
import { ensurePublication } from '../../src/publication/publication.js';
import { upsertSection } from '../../src/publication/sections.js';
import { checkDueLinks } from '../../src/snapshots/check.js';
import { judgeLink } from '../../src/snapshots/judge.js';
import { listSnapshots, readSnapshot } from '../../src/snapshots/store.js';
import { archiveSweep } from '../../src/snapshots/sweep.js';
import { uploadSnapshotPdf } from '../../src/snapshots/take.js';
import { createArchiveWorker } from '../../workers/archive.js';
import { type FixtureServer, startFixtureServer } from '../feeds/fixture-server.js';
import { createTestDatabase, type TestDatabase } from '../support/test-db.js';
import { testEnv } from '../support/test-env.js';

let tdb: TestDatabase;
let env: Env;
let server: FixtureServer;
let other: FixtureServer;
let app: FastifyInstance;
let issueId: number;
let clock = new Date('2025-08-01T00:00:00Z');
const deps = () => ({ db: tdb.db, log: silentLogger, env, now: () => clock });
let pageAlive = true;

const GBK_PAGE = iconv.encode(
  '<html><head><meta charset="gbk"><title>关于办理帮助信息网络犯罪活动等刑事案件有关问题的意见</title></head>' +
    '<body><script>alert(1)</script><h1>意见全文</h1><p>为依法惩治帮助信息网络犯罪活动，法发〔2025〕9号，自2025年8月1日起施行。</p></body></html>',
  'gbk',
);

beforeAll(async () => {
  tdb = await createTestDatabase();
  server = await startFixtureServer();
  other = await startFixtureServer('localhost');
  env = testEnv({ PUBLIC_URL: 'https://news.example.org', LINK_CHECK_HOURS: '24' });
  server.route('/opinion', (_req, res) => {
    if (pageAlive) res.writeHead(200, { 'content-type': 'text/html; charset=gbk' }).end(GBK_PAGE);
    else res.writeHead(404, { 'content-type': 'text/plain' }).end('gone');
  });
  server.route('/moved', (_req, res) => {
    res.writeHead(pageAlive ? 200 : 301, {
      location: `http://localhost:${other.port}/`,
      'content-type': 'text/html',
    });
    res.end('<p>Still here</p>');
  });
  other.route('/', (_req, res) => res.writeHead(200, { 'content-type': 'text/html' }).end('<p>home</p>'));
  const editorial: EditorialDeps = { ...deps() };
  await ensurePublication(tdb.db, env);
  for (const s of MODEL_SECTIONS) await upsertSection(tdb.db, s);
  issueId = (
    await tdb.db
      .insertInto('issues')
      .values({ period: '2025-07', title: '每月资讯' })
      .returning('id')
      .executeTakeFirstOrThrow()
  ).id;
  await addIssueItem(
    editorial,
    issueId,
    {
      sectionKey: 'domestic-regulation',
      title:
        '最高人民法院、最高人民检察院、公安部发布《关于办理帮助信息网络犯罪活动等刑事案件有关问题的意见》',
      summary: '2025 年 7 月 28 日，三部门发布意见。',
      sources: [{ url: `${server.baseUrl}/opinion` }, { url: `${server.baseUrl}/moved` }],
    },
    'editor',
  );
  await addIssueItem(
    editorial,
    issueId,
    {
      sectionKey: 'industry-news',
      title: 'DNS 失效的来源',
      sources: [{ url: 'http://gazette-test-no-such-host.invalid/page' }],
    },
    'editor',
  );
  app = Fastify();
  await app.register(archiveRoutes, { ctx: { db: tdb.db, env, log: silentLogger } });
});

afterAll(async () => {
  await app?.close();
  await server?.close();
  await other?.close();
  await closeFetchAgents();
  await tdb?.drop();
});

describe('source snapshots and the dead-link switch', { timeout: 60_000 }, () => {
  it('takes nothing while the issue is a draft', async () => {
    const swept = await archiveSweep(deps());
    expect(swept.taken + swept.failed).toBe(0);
  });

  it('archives every cited source once the issue is approved: text, sanitised HTML, hash, status, final URL', async () => {
    await tdb.db
      .updateTable('issues')
      .set({ state: 'approved', approved_at: clock })
      .where('id', '=', issueId)
      .execute();
    const swept = await archiveSweep(deps());
    expect(swept).toMatchObject({ taken: 2, failed: 1 });
    const rows = await listSnapshots(tdb.db, issueId);
    const opinion = rows.find((r) => r.url.endsWith('/opinion'));
    expect(opinion).toMatchObject({ http_status: 200, final_url: `${server.baseUrl}/opinion`, error: null });
    expect(opinion?.title).toBe('关于办理帮助信息网络犯罪活动等刑事案件有关问题的意见');
    expect(opinion?.content_hash).toMatch(/^[0-9a-f]{64}$/);
    const full = await readSnapshot(tdb.db, opinion?.id as number);
    expect(full?.text).toContain('法发〔2025〕9号'); // GBK decoded
    expect(full?.html).toContain('<h1>意见全文</h1>');
    expect(full?.html).not.toContain('script');
    expect(full?.text_gz?.subarray(0, 2).toString('hex')).toBe('1f8b'); // stored gzip-compressed
    const dns = rows.find((r) => r.url.includes('.invalid'));
    expect(dns?.error).toMatch(/ENOTFOUND/);
    // A second sweep finds nothing new to take.
    expect((await archiveSweep(deps())).taken).toBe(0);
  });

  it('feeds the snapshot text to the legal rules for what the summary does not say', async () => {
    const { loadRenderableIssue } = await import('../../src/issues/load.js');
    const issue = await loadRenderableIssue(tdb.db, issueId);
    const legal = issue.sections[0]?.items[0]?.legal;
    expect(legal?.documentNumber).toEqual({ value: '法发〔2025〕9号', from: 'snapshot' });
    expect(legal?.effectiveOn).toEqual({ value: '2025-08-01', from: 'snapshot' });
  });

  it('finds a source dead on 404, on a redirect to another site home page, and when its name stops resolving', async () => {
    await tdb.db
      .updateTable('issues')
      .set({ state: 'sent', sent_at: clock })
      .where('id', '=', issueId)
      .execute();
    let checked = await checkDueLinks(deps());
    expect(checked).toMatchObject({ checked: 3, alive: 2, dead: 1 });
    // Not due again until LINK_CHECK_HOURS have passed.
    expect((await checkDueLinks(deps())).checked).toBe(0);
    // Only the source whose name does not resolve is dead so far.
    const page = await app.inject(`/archive/${issueId}`);
    expect(page.body.match(/原文已失效，查看存档/g)).toHaveLength(1);

    pageAlive = false;
    clock = new Date(clock.getTime() + 25 * 3_600_000);
    checked = await checkDueLinks(deps());
    expect(checked).toMatchObject({ checked: 3, dead: 3 });
    const rows = await listSnapshots(tdb.db, issueId);
    expect(Object.fromEntries(rows.map((r) => [new URL(r.url).pathname, r.dead_reason]))).toEqual({
      '/opinion': 'gone',
      '/moved': 'moved-home',
      '/page': 'dns',
    });
    expect(rows.find((r) => r.url.endsWith('/opinion'))?.dead_since).toEqual(clock);
  });

  it('shows 原文已失效，查看存档 in the archive, linking to the archived copy with its banner', async () => {
    const page = await app.inject(`/archive/${issueId}`);
    expect(page.statusCode).toBe(200);
    const opinion = (await listSnapshots(tdb.db, issueId)).find((r) => r.url.endsWith('/opinion'));
    expect(page.body).toContain(
      `<a href="https://news.example.org/archive/sources/${opinion?.id}">原文已失效，查看存档</a>`,
    );
    expect(page.body).toContain(
      '中国 · 最高人民法院、最高人民检察院、公安部 · 法发〔2025〕9号 · 2025-07-28 发布 · 2025-08-01 施行',
    );
    const copy = await app.inject(`/archive/sources/${opinion?.id}`);
    expect(copy.statusCode).toBe(200);
    expect(copy.body).toContain('这是 Gazette 于 2025-08-01 保存的存档副本');
    expect(copy.body).toContain('关于办理帮助信息网络犯罪活动等刑事案件有关问题的意见');
    expect(copy.body).toContain(`${server.baseUrl}/opinion`);
    expect(copy.body).toContain('<h1>意见全文</h1>');
    expect(copy.headers['content-security-policy']).toContain("default-src 'none'");
  });

  it('keeps the first death date, and a source that comes back is alive again', async () => {
    const before = (await listSnapshots(tdb.db, issueId)).find((r) => r.url.endsWith('/opinion'));
    clock = new Date(clock.getTime() + 25 * 3_600_000);
    pageAlive = true;
    await checkDueLinks(deps());
    const after = (await listSnapshots(tdb.db, issueId)).find((r) => r.url.endsWith('/opinion'));
    expect(before?.link_state).toBe('dead');
    expect(after).toMatchObject({ link_state: 'alive', dead_since: null, dead_reason: null });
  });

  it('takes an uploaded PDF as a source copy, refusing what is not a PDF', async () => {
    const dns = (await listSnapshots(tdb.db, issueId)).find((r) => r.url.includes('.invalid'));
    await expect(uploadSnapshotPdf(deps(), dns?.id as number, Buffer.from('hello'), 'x.txt')).rejects.toThrow(
      /not a PDF/,
    );
    const pdf = Buffer.from('%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n');
    await uploadSnapshotPdf(deps(), dns?.id as number, pdf, 'page.pdf');
    const res = await app.inject(`/archive/sources/${dns?.id}?pdf`);
    expect(res.headers['content-type']).toBe('application/pdf');
    expect(res.rawPayload.equals(pdf)).toBe(true);
  });

  it('fits a page under the per-source cap: the text kept, the HTML dropped, marked truncated', async () => {
    const big = `<p>${'数据'.repeat(200_000)}${Math.random()}</p>`;
    server.route('/big', (_req, res) =>
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(big),
    );
    const { takeSnapshot } = await import('../../src/snapshots/take.js');
    const small = { ...deps(), env: { ...env, SNAPSHOT_MAX_BYTES: 1024 } };
    const r = await takeSnapshot(small, issueId, `${server.baseUrl}/big`);
    const row = await readSnapshot(tdb.db, r.id);
    // Repetitive text compresses well: the text fits, the HTML is dropped, marked truncated.
    expect(row?.stored_bytes).toBeLessThanOrEqual(1024);
    expect(row?.truncated).toBe(true);
  });

  it('runs as a BullMQ job scheduler: a new approved issue is archived without anyone asking', async () => {
    const second = (
      await tdb.db
        .insertInto('issues')
        .values({ period: '2025-08', title: '每月资讯', state: 'approved' })
        .returning('id')
        .executeTakeFirstOrThrow()
    ).id;
    await tdb.db
      .insertInto('issue_items')
      .values({
        issue_id: second,
        section_id: (await tdb.db.selectFrom('sections').select('id').executeTakeFirstOrThrow()).id,
        position: 0,
        title: '新条目',
        sources: JSON.stringify([{ url: `${server.baseUrl}/opinion` }]),
      })
      .execute();
    const worker = createArchiveWorker({
      ...deps(),
      connection: { url: env.REDIS_URL, prefix: env.QUEUE_PREFIX },
      everyMs: 200,
    });
    try {
      await worker.scheduled;
      await expect
        .poll(async () => (await listSnapshots(tdb.db, second)).length, { timeout: 30_000, interval: 200 })
        .toBe(1);
    } finally {
      await worker.close();
    }
  });
});

describe('judging a re-checked link', () => {
  it('calls dead only what says the page is gone', () => {
    expect(judgeLink('https://a.gov.cn/x', { status: 410 })).toEqual({ state: 'dead', reason: 'gone' });
    expect(judgeLink('https://a.gov.cn/x', { status: 200, finalUrl: 'https://www.a.gov.cn/' })).toEqual({
      state: 'alive',
    });
    expect(judgeLink('https://a.gov.cn/x', { status: 200, finalUrl: 'https://parked.example/' })).toEqual({
      state: 'dead',
      reason: 'moved-home',
    });
    expect(judgeLink('https://a.gov.cn/', { status: 200, finalUrl: 'https://b.example/' })).toEqual({
      state: 'alive',
    });
    expect(judgeLink('https://a.gov.cn/x', { status: 503, errorKind: 'http' })).toEqual({ state: 'unknown' });
    expect(
      judgeLink('https://a.gov.cn/x', { errorKind: 'timeout', errorMessage: 'no complete response' }),
    ).toEqual({
      state: 'unknown',
    });
  });
});
