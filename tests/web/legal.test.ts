import type { LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadRenderableIssue } from '../../src/issues/load.js';
import { MODEL_DOCUMENT, sharedFixture } from '../support/shared.js';
import { type Browser, startWebHarness, type WebHarness } from './support.js';

/** The issue editor's legal metadata form and archived sources panel, in both locales. */
const available = sharedFixture(MODEL_DOCUMENT).present;

let h: WebHarness;
let editor: Browser;
let viewer: Browser;
let issueId: number;
let opinionId: number;

const inLocale = (b: Browser, url: string, locale: string) =>
  h.web.inject({ method: 'GET', url, headers: { cookie: b.cookie, 'accept-language': locale } });
const flash = (res: LightMyRequestResponse) => res.cookies.find((c) => c.name === 'gz_flash');

beforeAll(async () => {
  if (!available) return;
  h = await startWebHarness();
  editor = await h.signIn('editor');
  viewer = await h.signIn('viewer');
  issueId = await h.importModel();
  const row = await h.ctx.db
    .selectFrom('issue_items')
    .select(['id', 'version'])
    .where('issue_id', '=', issueId)
    .where('title', 'like', '最高人民法院、最高人民检察院、公安部发布%')
    .executeTakeFirstOrThrow();
  opinionId = row.id;
}, 120_000);
afterAll(async () => h?.close());

describe.skipIf(!available)('legal metadata in the issue editor', { timeout: 60_000 }, () => {
  it('shows each item’s line and the form with provenance, in Chinese and in English', async () => {
    const zh = await inLocale(editor, `/admin/issues/${issueId}`, 'zh-CN');
    expect(zh.body).toContain('中国 · 最高人民法院、最高人民检察院、公安部 · 2025-07-28 发布');
    expect(zh.body).toContain(`action="/admin/issues/${issueId}/items/${opinionId}/legal"`);
    expect(zh.body).toContain('发布机关（多个用顿号分隔） <span class="muted">(标题)</span>');
    const en = await inLocale(editor, `/admin/issues/${issueId}`, 'en');
    expect(en.body).toContain(
      'China · Supreme People&#x27;s Court, Supreme People&#x27;s Procuratorate, Ministry of Public Security · published 2025-07-28',
    );
    expect(en.body).toContain(
      'Issuing bodies (separate several with 、 or commas) <span class="muted">(title)</span>',
    );
    // Viewers read the line but get no form.
    const v = await viewer.get(`/admin/issues/${issueId}`);
    expect(v.body).toContain('中国 · 最高人民法院');
    expect(v.body).not.toContain('/legal"');
  });

  it('saves an edit as the editor’s, keeps unchanged fields as the rules found them, and confirms', async () => {
    const version = async () =>
      (
        await h.ctx.db
          .selectFrom('issue_items')
          .select('version')
          .where('id', '=', opinionId)
          .executeTakeFirstOrThrow()
      ).version;
    const res = await editor.post(`/admin/issues/${issueId}/items/${opinionId}/legal`, {
      version: String(await version()),
      jurisdiction: 'CN',
      bodies: '最高人民法院、最高人民检察院、公安部',
      kind: 'normative-document',
      documentNumber: '法发〔2025〕9号',
      effectiveOn: '',
      action: 'save',
    });
    expect(res.statusCode).toBe(303);
    let issue = await loadRenderableIssue(h.ctx.db, issueId);
    let legal = issue.sections[0]?.items[1]?.legal;
    expect(legal?.documentNumber).toEqual({ value: '法发〔2025〕9号', from: 'editor' });
    expect(legal?.bodies?.from).toBe('title');

    const bad = await editor.post(`/admin/issues/${issueId}/items/${opinionId}/legal`, {
      version: String(await version()),
      publishedOn: '28 July',
    });
    expect(decodeURIComponent(flash(bad)?.value ?? '')).toContain('不是日期');

    const confirm = await editor.post(`/admin/issues/${issueId}/items/${opinionId}/legal`, {
      version: String(await version()),
      action: 'confirm',
    });
    expect(confirm.statusCode).toBe(303);
    issue = await loadRenderableIssue(h.ctx.db, issueId);
    legal = issue.sections[0]?.items[1]?.legal;
    expect(legal?.documentNumber).toEqual({ value: '法发〔2025〕9号', from: 'editor' });
    const page = await inLocale(editor, `/admin/issues/${issueId}`, 'zh-CN');
    expect(page.body).toContain(`已由 user:${editor.email} 确认`);
    const audit = await h.ctx.db
      .selectFrom('issue_audit')
      .select('action')
      .where('issue_id', '=', issueId)
      .execute();
    expect(audit.map((a) => a.action)).toEqual(expect.arrayContaining(['edit-legal', 'confirm-legal']));
  });

  it('refuses a stale form instead of overwriting another editor', async () => {
    const res = await editor.post(`/admin/issues/${issueId}/items/${opinionId}/legal`, {
      version: '1',
      court: 'X',
    });
    expect(res.statusCode).toBe(303);
    const issue = await loadRenderableIssue(h.ctx.db, issueId);
    expect(issue.sections[0]?.items[1]?.legal?.court).toBeUndefined();
  });

  it('lists no archived sources before approval, in both locales', async () => {
    expect((await inLocale(editor, `/admin/issues/${issueId}`, 'zh-CN')).body).toContain('尚无存档');
    expect((await inLocale(editor, `/admin/issues/${issueId}`, 'en')).body).toContain(
      'No archived copies yet',
    );
  });
});
