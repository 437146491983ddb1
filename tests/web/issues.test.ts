import { Script } from 'node:vm';
import type { LightMyRequestResponse } from 'fastify';
import iconv from 'iconv-lite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { approveIssue } from '../../src/issues/lifecycle.js';
import { MAX_IMPORT_BYTES, uploadedText } from '../../src/http/admin/pages/issues/upload.js';
import {
  fieldsChange,
  mastheadFromForm,
  sourcesFromForm,
  stepPosition,
} from '../../src/http/admin/pages/issues/view.js';
import { MODEL_DOCUMENT, sharedFixture } from '../support/shared.js';
import { type Browser, startWebHarness, type WebHarness } from './support.js';

/** The committee's model document, read from the shared reference folder as the product gets it. */
const modelDocument = sharedFixture(MODEL_DOCUMENT);
const modelText = modelDocument.present ? modelDocument.read() : '';

/** A multipart/form-data body as a browser's FormData sends it. */
function multipart(fields: Record<string, string>, file?: { filename: string; content: string }) {
  const boundary = '----gazette-test-boundary';
  const parts = Object.entries(fields).map(
    ([k, v]) => `--${boundary}\r\nContent-Disposition: form-data; name="${k}"\r\n\r\n${v}\r\n`,
  );
  if (file) {
    parts.push(
      `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="${file.filename}"\r\n` +
        `Content-Type: text/markdown\r\n\r\n${file.content}\r\n`,
    );
  }
  parts.push(`--${boundary}--\r\n`);
  return {
    payload: Buffer.from(parts.join(''), 'utf8'),
    contentType: `multipart/form-data; boundary=${boundary}`,
  };
}

let h: WebHarness;
let editor: Browser;
let other: Browser;
let viewer: Browser;
let issueId: number;

/** Item ids of one section of the issue, in position order, straight from the database. */
async function order(id: number, sectionKey: string): Promise<number[]> {
  const rows = await h.ctx.db
    .selectFrom('issue_items')
    .innerJoin('sections', 'sections.id', 'issue_items.section_id')
    .select('issue_items.id')
    .where('issue_items.issue_id', '=', id)
    .where('sections.key', '=', sectionKey)
    .orderBy('issue_items.position')
    .execute();
  return rows.map((r) => r.id);
}

/** Follows a form's redirect as a browser would, carrying the one-shot flash cookie it set. */
async function follow(b: Browser, res: LightMyRequestResponse) {
  const flash = res.cookies.find((c) => c.name === 'gz_flash');
  return h.web.inject({
    method: 'GET',
    url: String(res.headers.location).split('#')[0] as string,
    headers: { cookie: flash ? `${b.cookie}; gz_flash=${flash.value}` : b.cookie },
  });
}

/** The flash message a page shows after a form post (not any text elsewhere on the page). */
function flashOf(html: string): string | undefined {
  return html.match(/<p class="flash (?:notice|error)" role="status">([^<]*)<\/p>/)?.[1];
}

const inLocale = (b: Browser, url: string, locale: string) =>
  h.web.inject({ method: 'GET', url, headers: { cookie: b.cookie, 'accept-language': locale } });

beforeAll(async () => {
  h = await startWebHarness();
  editor = await h.signIn('editor');
  other = await h.signIn('editor');
  viewer = await h.signIn('viewer');
});
afterAll(async () => h?.close());

describe('issue pages: pure rules', () => {
  it('reads source rows from a form, dropping rows whose link is empty', () => {
    expect(
      sourcesFromForm({
        sourceUrl: ['https://a.example/1', ' ', 'https://b.example/2 '],
        sourceLabel: ['甲', '', ''],
      }),
    ).toEqual([{ url: 'https://a.example/1', label: '甲' }, { url: 'https://b.example/2' }]);
    expect(sourcesFromForm({ sourceUrl: 'https://c.example', sourceLabel: '' })).toEqual([
      { url: 'https://c.example' },
    ]);
  });

  it('reads every masthead field from the form: one name per line, other lines as label：value', () => {
    const m = mastheadFromForm({
      mastheadSubtitle: ' Digital Technology and Artificial Intelligence ',
      mastheadDirector: '张三\n\n李四 ',
      mastheadCommittee: '',
      mastheadEditor: '王五',
      mastheadLines: '地址：上海\n顾问: 赵六\n无标签的一行',
    });
    expect(m).toEqual({
      subtitle: 'Digital Technology and Artificial Intelligence',
      director: ['张三', '李四'],
      editor: '王五',
      lines: [
        { label: '地址', value: '上海' },
        { label: '顾问', value: '赵六' },
        { label: '', value: '无标签的一行' },
      ],
    });
    // Emptied fields are gone: the form shows the whole masthead, so clearing a field removes it.
    expect(mastheadFromForm({ mastheadSubtitle: '', mastheadLines: '' })).toEqual({});
  });

  it('sends only the fields the editor changed, with the values it started from', () => {
    const base = { title: 'T', subject: null, preheader: 'p', intro: null, masthead: { editor: 'a' } };
    const change = fieldsChange(
      { title: 'T ', subject: '', preheader: 'q', intro: '', masthead: { editor: 'a' } },
      base,
    );
    expect(change).toEqual({ patch: { preheader: 'q' }, base: { preheader: 'p' } });
  });

  it('clamps keyboard moves to the section', () => {
    expect(stepPosition(0, 3, 'up')).toBe(0);
    expect(stepPosition(0, 3, 'down')).toBe(1);
    expect(stepPosition(2, 3, 'down')).toBe(2);
  });
});

describe.skipIf(!modelDocument.present)('importing the committee’s Markdown document', () => {
  it('creates the draft from a file uploaded by the plain form and opens its editor', async () => {
    // No script: the CSRF token travels as a form field of the multipart body.
    const body = multipart(
      { _csrf: editor.csrf, markdown: '', period: '' },
      { filename: 'sample-issue-2025-07.md', content: modelText },
    );
    const res = await h.web.inject({
      method: 'POST',
      url: '/admin/issues/import',
      headers: { cookie: editor.cookie, 'content-type': body.contentType },
      payload: body.payload,
    });
    expect(res.statusCode, res.body.slice(0, 300)).toBe(303);
    const location = String(res.headers.location);
    expect(location).toMatch(/^\/admin\/issues\/\d+$/);
    issueId = Number(location.split('/').pop());

    const sections = await h.ctx.db
      .selectFrom('issue_items')
      .innerJoin('sections', 'sections.id', 'issue_items.section_id')
      .select(['sections.key'])
      .select((eb) => eb.fn.countAll<string>().as('n'))
      .where('issue_items.issue_id', '=', issueId)
      .groupBy('sections.key')
      .execute();
    expect(sections).toHaveLength(4);
    expect(sections.reduce((n, s) => n + Number(s.n), 0)).toBe(27);
    const issue = await h.ctx.db
      .selectFrom('issues')
      .selectAll()
      .where('id', '=', issueId)
      .executeTakeFirstOrThrow();
    expect(issue).toMatchObject({ period: '2025-07', state: 'draft' });
    const audit = await h.ctx.db
      .selectFrom('issue_audit')
      .select(['actor', 'action'])
      .where('issue_id', '=', issueId)
      .execute();
    expect(audit).toEqual([{ actor: `user:${editor.email}`, action: 'import' }]);

    const page = await follow(editor, res);
    expect(flashOf(page.body)).toBe('已导入：4 个栏目，27 条。');
  });

  it('answers the script’s upload with JSON (where to go next, or the problems)', async () => {
    const body = multipart({ period: '2025-08' }, { filename: 'doc.md', content: modelText });
    const res = await h.web.inject({
      method: 'POST',
      url: '/admin/issues/import',
      headers: {
        cookie: editor.cookie,
        'x-csrf-token': editor.csrf,
        'content-type': body.contentType,
        accept: 'application/json',
      },
      payload: body.payload,
    });
    expect(res.statusCode).toBe(201);
    expect(res.json()).toMatchObject({
      sections: 4,
      items: 27,
      location: expect.stringMatching(/^\/admin\/issues\/\d+$/),
    });
  });

  it('imports pasted text from the plain form too (no script needed)', async () => {
    const res = await editor.post('/admin/issues/import', { markdown: modelText, period: '2025-09' });
    expect(res.statusCode).toBe(303);
    const id = Number(String(res.headers.location).split('/').pop());
    const count = await h.ctx.db
      .selectFrom('issue_items')
      .select((eb) => eb.fn.countAll<string>().as('n'))
      .where('issue_id', '=', id)
      .executeTakeFirstOrThrow();
    expect(Number(count.n)).toBe(27);
  });

  it('lists the problems line by line and creates nothing when the document cannot be placed', async () => {
    const before = await h.ctx.db.selectFrom('issues').select('id').execute();
    const broken = [
      '# 期刊 2025年10月',
      '',
      '1. 没有栏目的条目',
      '',
      '内容摘要：一段摘要。',
      '',
      '# 不存在的栏目',
      '',
      '1. 另一条',
    ].join('\n');
    const res = await h.web.inject({
      method: 'POST',
      url: '/admin/issues/import',
      headers: { cookie: editor.cookie },
      payload: { _csrf: editor.csrf, markdown: broken, period: '2025-10' },
    });
    expect(res.statusCode).toBe(422);
    expect(res.body).toContain(
      '<p class="flash error">文稿未导入：以下问题需要先修改（未创建任何内容）。</p>',
    );
    expect(res.body).toMatch(
      /<li><strong>第 1 行：<\/strong> 标题“期刊 2025年10月”不是已知的栏目：请新增同名栏目，或改为已有栏目的名称。<\/li>/,
    );
    expect(res.body).toMatch(/<li><strong>第 7 行：<\/strong> 标题“不存在的栏目”不是已知的栏目/);
    expect(res.body).toContain('没有栏目的条目'); // the pasted text is kept for correcting
    const after = await h.ctx.db.selectFrom('issues').select('id').execute();
    expect(after).toHaveLength(before.length);

    const json = await h.web.inject({
      method: 'POST',
      url: '/admin/issues/import',
      headers: { cookie: editor.cookie, 'x-csrf-token': editor.csrf, accept: 'application/json' },
      payload: { markdown: broken, period: '2025-10' },
    });
    expect(json.statusCode).toBe(422);
    const problems = (json.json() as { problems: { line: number; lineLabel: string }[] }).problems;
    expect(problems.map((p) => `${p.lineLabel}`)).toEqual(['第 1 行：', '第 7 行：']);
    const english = await h.web.inject({
      method: 'POST',
      url: '/admin/issues/import',
      headers: { cookie: editor.cookie, 'accept-language': 'en' },
      payload: { _csrf: editor.csrf, markdown: broken, period: '2025-10' },
    });
    expect(english.body).toMatch(
      /<li><strong>Line 7:<\/strong> heading &quot;不存在的栏目&quot; is not a known section/,
    );
  });

  it('imports a document with notes and shows them, line by line, on the new draft', async () => {
    const lines = modelText.split('\n');
    const at = lines.findIndex((l) => /^#+\s*域外规范/.test(l));
    lines.splice(at + 1, 0, '', '这是一段不属于任何条目的说明文字。', '');
    const res = await editor.post('/admin/issues/import', { markdown: lines.join('\n'), period: '2025-12' });
    expect(res.statusCode).toBe(303);
    const page = await editor.get(String(res.headers.location));
    expect(page.body).toContain('<summary>导入时的提示（1 条，已记入审计日志）</summary>');
    expect(page.body).toContain(
      `<li><strong>第 ${at + 3} 行：</strong> 不属于任何条目的文字：“这是一段不属于任何条目的说明文字。”</li>`,
    );
  });

  it('reads an upload saved as GB18030 as well as UTF-8', () => {
    const text = '新规概览\n1. 工业和信息化领域人工智能安全治理标准体系正式发布';
    expect(uploadedText(iconv.encode(text, 'gb18030'))).toBe(text);
    expect(uploadedText(Buffer.from(`\uFEFF${text}`, 'utf8'))).toBe(text);
  });

  it('refuses a file over the limit, saying so', async () => {
    const body = multipart(
      { _csrf: editor.csrf },
      { filename: 'big.md', content: 'x'.repeat(MAX_IMPORT_BYTES + 1) },
    );
    const res = await h.web.inject({
      method: 'POST',
      url: '/admin/issues/import',
      headers: { cookie: editor.cookie, 'content-type': body.contentType },
      payload: body.payload,
    });
    expect(res.statusCode).toBe(413);
    expect(res.body).toContain('<p class="flash error">文件过大（上限 2 MB）。</p>');
  });

  it('refuses an empty upload and a viewer’s upload', async () => {
    const empty = await editor.post('/admin/issues/import', { markdown: '  ' });
    expect(empty.statusCode).toBe(400);
    expect(empty.body).toContain('<p class="flash error">请选择文件或粘贴文稿内容。</p>');
    const body = multipart({}, { filename: 'doc.md', content: modelText });
    const refused = await h.web.inject({
      method: 'POST',
      url: '/admin/issues/import',
      headers: { cookie: viewer.cookie, 'x-csrf-token': viewer.csrf, 'content-type': body.contentType },
      payload: body.payload,
    });
    expect(refused.statusCode).toBe(403);
  });
});

describe.skipIf(!modelDocument.present)('the issue list', () => {
  it('shows every issue newest first with state and counts, in Chinese and English', async () => {
    const zh = await inLocale(editor, '/admin/issues', 'zh-CN');
    expect(zh.statusCode).toBe(200);
    expect(zh.body).toContain('<th scope="col">期次</th>');
    expect(zh.body).toContain('4 个栏目 / 27 条');
    expect(zh.body).toContain('草稿');
    expect(zh.body).toContain('导入委员会的 Markdown 文稿');
    const periods = [...zh.body.matchAll(/<td><a href="\/admin\/issues\/\d+">(\d{4}-\d{2})<\/a><\/td>/g)].map(
      (m) => m[1],
    );
    expect(periods).toEqual(['2025-12', '2025-09', '2025-08', '2025-07']);

    const en = await inLocale(editor, '/admin/issues', 'en');
    expect(en.body).toContain('<th scope="col">Period</th>');
    expect(en.body).toContain('4 sections / 27 items');
    expect(en.body).toContain('Import the committee’s Markdown document');
  });

  it('shows viewers the list without the forms', async () => {
    const res = await viewer.get('/admin/issues');
    expect(res.statusCode).toBe(200);
    expect(res.body).toContain('4 个栏目 / 27 条');
    expect(res.body).not.toContain('action="/admin/issues/import"');
  });

  it('assembles a draft for a period from the form, and says what is wrong with a bad period', async () => {
    const res = await editor.post('/admin/issues/draft', { period: '2025-11' });
    expect(res.statusCode).toBe(303);
    const id = Number(String(res.headers.location).split('/').pop());
    const issue = await h.ctx.db
      .selectFrom('issues')
      .selectAll()
      .where('id', '=', id)
      .executeTakeFirstOrThrow();
    expect(issue).toMatchObject({ period: '2025-11', state: 'draft' });
    const page = await follow(editor, res);
    expect(flashOf(page.body)).toBe('已生成 2025-11 的草稿，新加入 0 条。');

    const bad = await editor.post('/admin/issues/draft', { period: 'July' });
    expect(bad.statusCode).toBe(400);
    expect(bad.body).toContain(
      '<p class="flash error" role="alert" id="draft-error">期次“July”的格式不对：应为月份（如 2025-07）或 ISO 周（如 2025-W30）。</p>',
    );
  });
});

describe.skipIf(!modelDocument.present)('the issue editor', () => {
  it('shows sections with their items in order, the checklist and the links, in Chinese and English', async () => {
    const zh = await inLocale(editor, `/admin/issues/${issueId}`, 'zh-CN');
    expect(zh.statusCode).toBe(200);
    const body = zh.body;
    const headings = [...body.matchAll(/<h3 id="section-[^"]+">([^<]+) </g)].map((m) => m[1]);
    expect(headings).toEqual(['新规概览', '域外规范', '案例研讨', '行业动态']);
    expect(body).toContain('工业和信息化领域人工智能安全治理标准体系正式发布');
    expect(body.indexOf('工业和信息化领域人工智能安全治理标准体系正式发布')).toBeLessThan(
      body.indexOf('金砖国家签署人工智能全球治理声明'),
    );
    expect(body).toContain('<h2 id="checklist-title">发送前检查</h2>');
    expect(body).toMatch(
      /<span class="badge (ok|warn)">(通过|注意)<\/span> <strong>每条都有内容摘要<\/strong>/,
    );
    expect(body).toContain(`href="/admin/issues/${issueId}/preview"`);
    expect(body).toContain(`href="/admin/issues/${issueId}/send"`);
    expect(body).toContain('src="/static/vendor/sortable.min.js"');
    expect(body).toContain('aria-label="上移：');
    expect((body.match(/data-item-form/g) ?? []).length).toBe(27);
    for (const m of body.matchAll(/<input id="([^"]+)"/g)) expect(body).toContain(`<label for="${m[1]}"`);

    const en = await inLocale(editor, `/admin/issues/${issueId}`, 'en');
    expect(en.body).toContain('<h2 id="checklist-title">Pre-send checklist</h2>');
    expect(en.body).toContain('<h2 id="sections-title">Sections and items</h2>');
    expect(en.body).toContain('Domestic regulation');
    expect(en.body).toContain('aria-label="Move down: ');
  });

  it('lets API clients leave out the slow link probe (?links=false)', async () => {
    const res = await editor.get(`/api/issues/${issueId}/check?links=false`);
    expect(res.statusCode).toBe(200);
    const list = res.json() as { checks: { id: string; status: string }[] };
    expect(list.checks.find((c) => c.id === 'source-links')?.status).toBe('skipped');
    expect(list.checks.find((c) => c.id === 'template-errors')?.status).toBe('pass');
  });

  it('gives the script the checklist in the page language, links probed only when asked', async () => {
    const zh = await inLocale(editor, `/admin/issues/${issueId}/checklist?links=false`, 'zh-CN');
    expect(zh.statusCode).toBe(200);
    const view = zh.json() as {
      checks: { id: string; label: string; statusLabel: string; message: string }[];
    };
    const byId = Object.fromEntries(view.checks.map((c) => [c.id, c]));
    expect(byId['empty-issue']).toMatchObject({
      label: '本期有条目',
      statusLabel: '通过',
      message: '共 27 条。',
    });
    expect(byId['template-errors']?.message).toBe('15 种栏目组合都能生成。');
    expect(byId['source-links']).toMatchObject({ statusLabel: '未检查' });
    expect(byId['variant-html-size']?.message).toMatch(/^最大的一种组合 \d+\.\d KB（上限 102\.0 KB）。$/);
    const en = await inLocale(editor, `/admin/issues/${issueId}/checklist`, 'en');
    const enById = Object.fromEntries(
      (en.json() as { checks: { id: string; label: string; message: string }[] }).checks.map((c) => [
        c.id,
        c,
      ]),
    );
    expect(enById['empty-issue']).toMatchObject({ label: 'The issue has items', message: '27 items.' });
    // One checklist, one wording: the send page says exactly what the editor page says.
    const send = await inLocale(editor, `/admin/issues/${issueId}/send`, 'zh-CN');
    for (const check of view.checks.filter((c) => c.id !== 'source-links'))
      expect(send.body).toContain(`<th scope="row">${check.label}</th>`);
    expect(send.body).toContain('共 27 条。');
    expect(send.body).toMatch(/最大的一种组合 \d+\.\d KB（上限 102\.0 KB）。/);
    expect(send.body).not.toMatch(/\d+ items|bytes of|variant\(s\)/);
    expect((await viewer.get(`/admin/issues/${issueId}/checklist`)).statusCode).toBe(200);
    expect((await editor.get('/admin/issues/999999/checklist')).statusCode).toBe(404);
  });

  it('serves its script, which compiles', async () => {
    const res = await h.web.inject({ method: 'GET', url: '/static/issues.js' });
    expect(res.statusCode).toBe(200);
    expect(() => new Script(res.body, { filename: 'issues.js' })).not.toThrow();
    expect(res.body).toContain('window.Sortable.create');
  });

  it('serves SortableJS from node_modules', async () => {
    const res = await h.web.inject({ method: 'GET', url: '/static/vendor/sortable.min.js' });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toContain('javascript');
    expect(res.body).toContain('Sortable');
  });

  it('moves an item down and up with the keyboard forms, changing the order in the database', async () => {
    const [first, second, ...rest] = await order(issueId, 'foreign-regulation');
    const down = await editor.post(`/admin/issues/${issueId}/items/${first}/move`, { direction: 'down' });
    expect(down.statusCode).toBe(303);
    expect(down.headers.location).toBe(`/admin/issues/${issueId}#item-${first}`);
    expect(await order(issueId, 'foreign-regulation')).toEqual([second, first, ...rest]);
    await editor.post(`/admin/issues/${issueId}/items/${first}/move`, { direction: 'up' });
    expect(await order(issueId, 'foreign-regulation')).toEqual([first, second, ...rest]);
    // Up from the top is no move at all (and no new revision).
    const before = await h.ctx.db
      .selectFrom('issues')
      .select('revision')
      .where('id', '=', issueId)
      .executeTakeFirstOrThrow();
    await editor.post(`/admin/issues/${issueId}/items/${first}/move`, { direction: 'up' });
    const after = await h.ctx.db
      .selectFrom('issues')
      .select('revision')
      .where('id', '=', issueId)
      .executeTakeFirstOrThrow();
    expect(after.revision).toBe(before.revision);
  });

  it('moves a whole section down and back up with the section forms', async () => {
    const sectionOrder = async () =>
      (
        await h.ctx.db
          .selectFrom('issue_sections as i')
          .innerJoin('sections as s', 's.id', 'i.section_id')
          .select('s.key')
          .where('i.issue_id', '=', issueId)
          .orderBy('i.position')
          .execute()
      ).map((r) => r.key);
    const before = await sectionOrder();
    expect(before).toEqual(['domestic-regulation', 'foreign-regulation', 'case-studies', 'industry-news']);
    const page = await editor.get(`/admin/issues/${issueId}`);
    expect(page.body).toContain(`action="/admin/issues/${issueId}/sections/foreign-regulation/move"`);
    const down = await editor.post(`/admin/issues/${issueId}/sections/domestic-regulation/move`, {
      direction: 'down',
    });
    expect(down.statusCode).toBe(303);
    expect(await sectionOrder()).toEqual([
      'foreign-regulation',
      'domestic-regulation',
      'case-studies',
      'industry-news',
    ]);
    await editor.post(`/admin/issues/${issueId}/sections/domestic-regulation/move`, { direction: 'up' });
    expect(await sectionOrder()).toEqual(before);
  });

  it('moves an item to the end of another section', async () => {
    const [moved] = await order(issueId, 'case-studies');
    const industry = await order(issueId, 'industry-news');
    const res = await editor.post(`/admin/issues/${issueId}/items/${moved}/move`, {
      sectionKey: 'industry-news',
    });
    expect(res.statusCode).toBe(303);
    expect(await order(issueId, 'industry-news')).toEqual([...industry, moved]);
    expect(await order(issueId, 'case-studies')).not.toContain(moved);
  });

  it('saves an item from the plain form, and refuses a form drawn before someone else’s change', async () => {
    const [id] = await order(issueId, 'domestic-regulation');
    const row = await h.ctx.db
      .selectFrom('issue_items')
      .selectAll()
      .where('id', '=', id as number)
      .executeTakeFirstOrThrow();
    const res = await editor.post(`/admin/issues/${issueId}/items/${id}`, {
      version: String(row.version),
      title: row.title,
      summary: '表单保存的摘要。',
      sourceUrl: 'https://www.miit.gov.cn/a.html',
      sourceLabel: '工信部',
    } as Record<string, string>);
    expect(res.statusCode).toBe(303);
    const saved = await h.ctx.db
      .selectFrom('issue_items')
      .selectAll()
      .where('id', '=', id as number)
      .executeTakeFirstOrThrow();
    expect(saved).toMatchObject({
      summary: '表单保存的摘要。',
      sources: [{ url: 'https://www.miit.gov.cn/a.html', label: '工信部' }],
      version: row.version + 1,
    });
    const stale = await editor.post(`/admin/issues/${issueId}/items/${id}`, {
      version: String(row.version),
      title: row.title,
      summary: '过期表单的摘要。',
    });
    expect(stale.statusCode).toBe(303);
    const page = await follow(editor, stale);
    expect(flashOf(page.body)).toBe('内容已被其他编辑修改，您的修改未保存。请查看最新内容后重试。');
    const unchanged = await h.ctx.db
      .selectFrom('issue_items')
      .select('summary')
      .where('id', '=', id as number)
      .executeTakeFirstOrThrow();
    expect(unchanged.summary).toBe('表单保存的摘要。');
  });

  it('autosaves through the JSON API and warns the second of two editors changing the same item', async () => {
    const [id] = await order(issueId, 'foreign-regulation');
    const detail = (await editor.get(`/api/issues/${issueId}`)).json() as {
      sections: { items: { id: number; version: number }[] }[];
    };
    const version = detail.sections.flatMap((s) => s.items).find((i) => i.id === id)?.version as number;
    // Both editors opened the page at this version; the first one's autosave wins.
    const mine = await editor.json('PATCH', `/api/issues/${issueId}/items/${id}?ifState=draft`, {
      title: '金砖国家签署人工智能全球治理声明（修订）',
      version,
    });
    expect(mine.statusCode).toBe(200);
    expect(mine.json()).toEqual({ ok: true, version: version + 1 });
    const theirs = await other.json('PATCH', `/api/issues/${issueId}/items/${id}?ifState=draft`, {
      summary: '另一位编辑的摘要。',
      version,
    });
    expect(theirs.statusCode).toBe(409);
    expect(theirs.json()).toMatchObject({
      error: 'conflict',
      reason: 'item',
      current: { id, version: version + 1, title: '金砖国家签署人工智能全球治理声明（修订）' },
    });
    // Overwriting on purpose: the second editor resends with the version it was shown.
    const overwrite = await other.json('PATCH', `/api/issues/${issueId}/items/${id}?ifState=draft`, {
      summary: '另一位编辑的摘要。',
      version: version + 1,
    });
    expect(overwrite.statusCode).toBe(200);
    const row = await h.ctx.db
      .selectFrom('issue_items')
      .selectAll()
      .where('id', '=', id as number)
      .executeTakeFirstOrThrow();
    expect(row).toMatchObject({
      title: '金砖国家签署人工智能全球治理声明（修订）',
      summary: '另一位编辑的摘要。',
      version: version + 2,
    });
  });

  it('autosaves the issue fields and warns when another editor changed the same field', async () => {
    const base = { preheader: null };
    const first = await editor.json('PATCH', `/api/issues/${issueId}?ifState=draft`, {
      preheader: '本月要点：人工智能治理',
      base,
    });
    expect(first.statusCode).toBe(200);
    const second = await other.json('PATCH', `/api/issues/${issueId}?ifState=draft`, {
      preheader: '另一个摘要',
      base,
    });
    expect(second.statusCode).toBe(409);
    expect(second.json()).toMatchObject({
      reason: 'fields',
      current: { preheader: '本月要点：人工智能治理' },
    });
    // A different field is no conflict.
    const intro = await other.json('PATCH', `/api/issues/${issueId}?ifState=draft`, {
      intro: '导语。',
      base: { intro: null },
    });
    expect(intro.statusCode).toBe(200);
  });

  it('saves masthead and subject from the plain form', async () => {
    const page = await editor.get(`/admin/issues/${issueId}`);
    const base = page.body
      .match(/name="base" value="([^"]+)"/)?.[1]
      ?.replace(/&quot;/g, '"')
      .replace(/&amp;/g, '&');
    expect(base).toBeTruthy();
    const res = await editor.post(`/admin/issues/${issueId}/fields`, {
      base: base as string,
      title: '数字科技与人工智能',
      subject: '数字科技与人工智能 每月资讯 2025年7月',
      preheader: '本月要点：人工智能治理',
      intro: '导语。',
      mastheadCommittee: '上海市律师协会数字科技与人工智能专业委员会',
      mastheadDirector: '张逸瑞',
      mastheadDeputies: '吴卫明\n徐凯',
      mastheadBoard: '',
      mastheadEditor: '殷雨薇',
    });
    expect(res.statusCode).toBe(303);
    const issue = await h.ctx.db
      .selectFrom('issues')
      .selectAll()
      .where('id', '=', issueId)
      .executeTakeFirstOrThrow();
    expect(issue.subject).toBe('数字科技与人工智能 每月资讯 2025年7月');
    expect(issue.masthead).toMatchObject({
      director: ['张逸瑞'],
      deputyDirectors: ['吴卫明', '徐凯'],
      editor: '殷雨薇',
    });
    const after = await follow(editor, res);
    expect(flashOf(after.body)).toBe('已保存。');
  });

  it('adds and removes items with the plain forms', async () => {
    const before = await order(issueId, 'case-studies');
    const add = await editor.post(`/admin/issues/${issueId}/items`, {
      sectionKey: 'case-studies',
      title: '新增的案例',
      summary: '摘要。',
      sourceUrl: 'https://court.example/case',
      sourceLabel: '',
    });
    expect(add.statusCode).toBe(303);
    const after = await order(issueId, 'case-studies');
    expect(after).toHaveLength(before.length + 1);
    const added = after[after.length - 1] as number;
    expect(add.headers.location).toBe(`/admin/issues/${issueId}#item-${added}`);
    const remove = await editor.post(`/admin/issues/${issueId}/items/${added}/remove`, {});
    expect(remove.statusCode).toBe(303);
    expect(await order(issueId, 'case-studies')).toEqual(before);
  });

  it('refuses every change from a viewer and shows the viewer no controls', async () => {
    const [id] = await order(issueId, 'domestic-regulation');
    const page = await viewer.get(`/admin/issues/${issueId}`);
    expect(page.statusCode).toBe(200);
    expect(page.body).toContain('工业和信息化领域人工智能安全治理标准体系正式发布');
    expect(page.body).not.toContain('data-move-form');
    expect(page.body).not.toContain('data-item-form');
    expect(page.body).toContain('<p class="flash warn" id="locked-notice">您的角色为只读，无法修改。</p>');
    const posts = [
      [`/admin/issues/${issueId}/items/${id}/move`, { direction: 'down' }],
      [`/admin/issues/${issueId}/items/${id}`, { title: 'x', version: '1' }],
      [`/admin/issues/${issueId}/items/${id}/remove`, {}],
      [`/admin/issues/${issueId}/items`, { sectionKey: 'case-studies', title: 'x' }],
      [`/admin/issues/${issueId}/fields`, { base: '{}', title: 'x' }],
      ['/admin/issues/draft', { period: '2026-01' }],
      ['/admin/issues/import', { markdown: modelText }],
    ] as const;
    for (const [url, form] of posts) {
      const res = await viewer.post(url, form as Record<string, string>);
      expect(res.statusCode, url).toBe(403);
    }
    const api = await viewer.json('PATCH', `/api/issues/${issueId}/items/${id}`, { title: 'x' });
    expect(api.statusCode).toBe(403);
  });

  it('locks an approved issue: the page says so and edits are refused', async () => {
    await approveIssue({ db: h.ctx.db, log: h.ctx.log, env: h.ctx.env, now: h.ctx.now }, issueId, 'test', {
      force: true,
    });
    const page = await inLocale(editor, `/admin/issues/${issueId}`, 'zh-CN');
    expect(page.body).toMatch(/<p class="flash warn" id="locked-notice">本期已审核或已排期，内容已锁定。/);
    expect(page.body).not.toContain('data-item-form');
    const [id] = await order(issueId, 'domestic-regulation');
    const form = await editor.post(`/admin/issues/${issueId}/items/${id}/move`, { direction: 'down' });
    expect(form.statusCode).toBe(303);
    const after = await follow(editor, form);
    expect(flashOf(after.body)).toBe('本期已不是草稿（可能已被审核），修改未保存。请刷新页面。');
    // A page left open on the draft cannot un-approve the issue through the API either.
    const api = await editor.json('PATCH', `/api/issues/${issueId}/items/${id}?ifState=draft`, {
      title: '改',
    });
    expect(api.statusCode).toBe(409);
    expect(api.json()).toMatchObject({ reason: 'state' });
    const issue = await h.ctx.db
      .selectFrom('issues')
      .select('state')
      .where('id', '=', issueId)
      .executeTakeFirstOrThrow();
    expect(issue.state).toBe('approved');
  });

  it('answers 404 for an issue that does not exist', async () => {
    expect((await editor.get('/admin/issues/999999')).statusCode).toBe(404);
    expect((await editor.get('/admin/issues/abc')).statusCode).toBe(404);
  });
});

// Last, so the issues it creates stay out of the list the tests above read.
describe.skipIf(!modelDocument.present)('importing a period that already has an issue', () => {
  it('asks what to do when the period already has an issue: replace the draft, open it, or add another', async () => {
    const first = await editor.post('/admin/issues/import', { markdown: modelText, period: '2026-03' });
    const draftId = Number(String(first.headers.location).split('/').pop());
    const countFor = async () =>
      (await h.ctx.db.selectFrom('issues').select('id').where('period', '=', '2026-03').execute()).length;

    // The same month again: nothing is created, the page asks (the document kept in the form).
    const again = await editor.post('/admin/issues/import', { markdown: modelText, period: '2026-03' });
    expect(again.statusCode).toBe(409);
    expect(again.body).toContain('<strong>2026-03 已经有一期</strong>');
    expect(again.body).toContain(`第 ${draftId} 号：数字科技与人工智能（草稿）`);
    expect(again.body).toContain(`<a href="/admin/issues/${draftId}">打开第 ${draftId} 号</a>`);
    expect(again.body).toContain(
      `value="replace" class="primary">用这份文档替换草稿（第 ${draftId} 号）</button>`,
    );
    expect(again.body).toContain('value="new">为 2026-03 新建一期</button>');
    expect(again.body).toContain('新规概览'); // the document rides along in the hidden field
    expect(await countFor()).toBe(1);
    // The script is told the same, and falls back to the plain form to ask.
    const json = await h.web.inject({
      method: 'POST',
      url: '/admin/issues/import',
      headers: { cookie: editor.cookie, 'x-csrf-token': editor.csrf, accept: 'application/json' },
      payload: { markdown: modelText, period: '2026-03' },
    });
    expect(json.statusCode).toBe(409);
    expect(json.json()).toMatchObject({
      error: 'period_taken',
      code: 'import-period-taken',
      existing: [{ id: draftId, state: 'draft' }],
    });

    const replaced = await editor.post('/admin/issues/import', {
      markdown: modelText,
      period: '2026-03',
      existing: 'replace',
    });
    expect(replaced.headers.location).toBe(`/admin/issues/${draftId}`);
    expect(flashOf((await follow(editor, replaced)).body)).toBe('已用这份文档替换草稿：4 个栏目，27 条。');
    const issue = await h.ctx.db
      .selectFrom('issues')
      .selectAll()
      .where('id', '=', draftId)
      .executeTakeFirstOrThrow();
    expect(issue.revision).toBe(2);
    const items = await h.ctx.db
      .selectFrom('issue_items')
      .select('id')
      .where('issue_id', '=', draftId)
      .execute();
    expect(items).toHaveLength(27); // replaced, not doubled
    expect(await countFor()).toBe(1);

    const added = await editor.post('/admin/issues/import', {
      markdown: modelText,
      period: '2026-03',
      existing: 'new',
    });
    expect(added.statusCode).toBe(303);
    expect(added.headers.location).not.toBe(`/admin/issues/${draftId}`);
    expect(await countFor()).toBe(2);

    // Only a draft is ever replaced: with the drafts approved, the choice is not offered and refused.
    await h.ctx.db.updateTable('issues').set({ state: 'approved' }).where('period', '=', '2026-03').execute();
    const approvedOnly = await editor.post('/admin/issues/import', {
      markdown: modelText,
      period: '2026-03',
    });
    expect(approvedOnly.body).not.toContain('value="replace"');
    const refused = await editor.post('/admin/issues/import', {
      markdown: modelText,
      period: '2026-03',
      existing: 'replace',
    });
    expect(refused.statusCode).toBe(400);
    expect(refused.body).toContain('2026-03 没有可以替换的草稿');
    expect(await countFor()).toBe(2);
  });
});
