import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PREVIEW_CSP, previewChoice } from '../../src/http/admin/pages/preview.js';
import { MODEL_DOCUMENT, sharedFixture } from '../support/shared.js';
import { type Browser, startWebHarness, type WebHarness } from './support.js';

const KEYS = ['domestic-regulation', 'foreign-regulation', 'case-studies', 'industry-news'];
// The first item of each section in the model issue.
const FIRST_ITEM = {
  'domestic-regulation': '工业和信息化领域人工智能安全治理标准体系正式发布',
  'foreign-regulation': '金砖国家签署人工智能全球治理声明',
  'case-studies': '广东阳江王某某利用 AI 生成虚假新闻扰乱公共秩序案',
  'industry-news': '亚马逊推出 Agent 全家桶',
} as const;

describe('preview choice (pure)', () => {
  it('defaults to every section in the issue order and the issue locale', () => {
    expect(previewChoice({}, KEYS, 'zh-CN')).toEqual({
      sectionKeys: KEYS,
      locale: 'zh-CN',
      unknown: [],
      defaulted: true,
    });
  });
  it('reads repeated or comma separated keys, puts them in the issue order and names unknown ones', () => {
    const c = previewChoice(
      { sections: ['case-studies,nope', 'domestic-regulation'], locale: 'en' },
      KEYS,
      'zh-CN',
    );
    expect(c.sectionKeys).toEqual(['domestic-regulation', 'case-studies']);
    expect(c.unknown).toEqual(['nope']);
    expect(c.locale).toBe('en');
    // The form always sends an empty "sections" first, so no box checked means no section.
    expect(previewChoice({ sections: ['', 'case-studies'] }, KEYS, 'zh-CN').sectionKeys).toEqual([
      'case-studies',
    ]);
    expect(previewChoice({ sections: '', locale: 'fr' }, KEYS, 'zh-CN')).toMatchObject({
      sectionKeys: [],
      locale: 'zh-CN',
    });
  });
});

const modelDocument = sharedFixture(MODEL_DOCUMENT);
describe.skipIf(!modelDocument.present)('the preview page', () => {
  let h: WebHarness;
  let editor: Browser;
  let viewer: Browser;
  let issueId: number;

  beforeAll(async () => {
    h = await startWebHarness();
    issueId = await h.importModel();
    editor = await h.signIn('editor');
    viewer = await h.signIn('viewer');
  });
  afterAll(async () => h?.close());

  it('shows desktop and phone frames of the chosen variant, the subject and the plain-text part', async () => {
    const res = await editor.get(
      `/admin/issues/${issueId}/preview?sections=domestic-regulation&sections=case-studies&locale=zh-CN`,
    );
    expect(res.statusCode).toBe(200);
    const html = res.body;
    const frames = [...html.matchAll(/<iframe src="([^"]+)"[^>]*data-preview-frame="(\w+)"/g)];
    expect(frames.map((f) => f[2])).toEqual(['desktop', 'phone']);
    expect(html).toMatch(/<iframe[^>]*width="640"[^>]*data-preview-frame="desktop"/);
    expect(html).toMatch(/<iframe[^>]*width="375"[^>]*data-preview-frame="phone"/);
    expect(html).toMatch(/<iframe[^>]*sandbox="allow-popups allow-popups-to-escape-sandbox"/);
    const src = (frames[0]?.[1] ?? '').replace(/&amp;/g, '&').replace(/&#x3D;/g, '=');
    expect(src).toBe(
      `/admin/issues/${issueId}/preview/html?sections=domestic-regulation%2Ccase-studies&locale=zh-CN`,
    );
    // The plain-text part is on the page and holds only the chosen sections' items.
    const text = html.match(/<pre class="preview-text"[^>]*>([\s\S]*?)<\/pre>/)?.[1] ?? '';
    expect(text).toContain(FIRST_ITEM['domestic-regulation']);
    expect(text).toContain(FIRST_ITEM['case-studies']);
    expect(text).not.toContain(FIRST_ITEM['foreign-regulation']);
    expect(text).not.toContain(FIRST_ITEM['industry-news']);
    // The checkboxes reflect the choice.
    expect(html).toMatch(/id="sec-domestic-regulation" name="sections" value="domestic-regulation" checked/);
    expect(html).not.toMatch(
      /id="sec-foreign-regulation" name="sections" value="foreign-regulation" checked/,
    );
  });

  it('serves the email HTML of exactly the chosen sections, sandboxed by its CSP', async () => {
    const res = await editor.get(
      `/admin/issues/${issueId}/preview/html?sections=domestic-regulation,case-studies&locale=zh-CN`,
    );
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-security-policy']).toBe(PREVIEW_CSP);
    expect(PREVIEW_CSP).toContain("default-src 'none'");
    expect(PREVIEW_CSP).toContain('sandbox');
    expect(res.body).toContain(FIRST_ITEM['domestic-regulation']);
    expect(res.body).toContain(FIRST_ITEM['case-studies']);
    expect(res.body).not.toContain(FIRST_ITEM['foreign-regulation']);
    expect(res.body).not.toContain(FIRST_ITEM['industry-news']);
    expect(res.body).toContain('新规概览');
    expect(res.body).not.toContain('域外规范');

    const all = await editor.get(`/admin/issues/${issueId}/preview/html?sections=${KEYS.join(',')}`);
    for (const title of Object.values(FIRST_ITEM)) expect(all.body).toContain(title);

    const en = await editor.get(
      `/admin/issues/${issueId}/preview/html?sections=foreign-regulation&locale=en`,
    );
    // The email's language: its labels (the content stays as written).
    expect(en.body).toContain('Unsubscribe');
    expect(en.body).not.toContain('退订');
    expect(en.body).toContain(FIRST_ITEM['foreign-regulation']);
    expect(en.body).not.toContain(FIRST_ITEM['domestic-regulation']);

    const unknown = await editor.get(`/admin/issues/${issueId}/preview/html?sections=nope`);
    expect(unknown.statusCode).toBe(400);
  });

  it('asks for a section when none is chosen, and answers 404 for an unknown issue', async () => {
    const none = await editor.get(`/admin/issues/${issueId}/preview?sections=&locale=en`);
    expect(none.statusCode).toBe(200);
    expect(none.body).toContain('请至少选择一个栏目。');
    expect(none.body).not.toContain('<iframe');
    expect((await editor.get('/admin/issues/999999/preview')).statusCode).toBe(404);
    expect((await editor.get('/admin/issues/abc/preview/html')).statusCode).toBe(404);
  });

  it('is drawn in the user’s language', async () => {
    const zh = await editor.get(`/admin/issues/${issueId}/preview`);
    expect(zh.body).toContain('手机（375 像素）');
    expect(zh.body).toContain('发送测试邮件给我');
    await editor.post('/admin/locale', { locale: 'en', next: `/admin/issues/${issueId}/preview` });
    const en = await editor.get(`/admin/issues/${issueId}/preview`);
    expect(en.body).toContain('Phone (375 px)');
    expect(en.body).toContain('Send a test to me');
    await editor.post('/admin/locale', { locale: 'zh-CN', next: '/admin' });
  });

  it('sends a test of the chosen variant to the signed-in user only, outside the ledger', async () => {
    const before = h.smtp.messages.length;
    const res = await editor.post(`/admin/issues/${issueId}/preview/test-send`, {
      sections: 'case-studies',
      locale: 'zh-CN',
    });
    expect(res.statusCode).toBe(303);
    expect(res.headers.location).toBe(`/admin/issues/${issueId}/preview?sections=case-studies&locale=zh-CN`);
    const mails = (await h.mails()).slice(before);
    expect(mails).toHaveLength(1);
    expect(mails[0]?.to).toBe(editor.email);
    expect(mails[0]?.subject).toMatch(/^\[TEST\] /);
    expect(mails[0]?.html).toContain(FIRST_ITEM['case-studies']);
    expect(mails[0]?.html).not.toContain(FIRST_ITEM['domestic-regulation']);
    const deliveries = await h.ctx.db
      .selectFrom('deliveries')
      .select('id')
      .where('issue_id', '=', issueId)
      .execute();
    expect(deliveries).toHaveLength(0);
    const audit = await h.ctx.db
      .selectFrom('issue_audit')
      .selectAll()
      .where('issue_id', '=', issueId)
      .where('action', '=', 'test-send')
      .execute();
    expect(audit.at(-1)?.actor).toBe(`user:${editor.email}`);
    // The notice is shown on the page the redirect leads to.
    const page = await h.web.inject({
      method: 'GET',
      url: res.headers.location as string,
      headers: {
        cookie: `${editor.cookie}; ${res.cookies.map((c) => `${c.name}=${encodeURIComponent(c.value)}`).join('; ')}`,
      },
    });
    expect(page.body).toContain(`测试邮件已发送到 ${editor.email}。`);
    expect(page.body).toMatch(/class="flash notice" role="status"/);
  });

  it('lets a viewer look but not send a test', async () => {
    const page = await viewer.get(`/admin/issues/${issueId}/preview`);
    expect(page.statusCode).toBe(200);
    expect(page.body).toContain('data-preview-frame="phone"');
    expect(page.body).not.toContain('/preview/test-send');
    expect((await viewer.get(`/admin/issues/${issueId}/preview/html?sections=case-studies`)).statusCode).toBe(
      200,
    );
    const before = h.smtp.messages.length;
    const res = await viewer.post(`/admin/issues/${issueId}/preview/test-send`, { sections: 'case-studies' });
    expect(res.statusCode).toBe(403);
    expect(h.smtp.messages.length).toBe(before);
  });
});
