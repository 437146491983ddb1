import type { LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkIssue } from '../../src/issues/check.js';
import { getPublication, listSections } from '../../src/publication/index.js';
import { type Browser, startWebHarness, type WebHarness } from './support.js';

/** A multipart/form-data body as a browser sends it for the import form. */
function multipart(fields: Record<string, string>, file: { name: string; content: string }) {
  const boundary = '----gazette-first-run';
  const parts = Object.entries(fields).map(
    ([k, v]) => `--${boundary}\r\nContent-Disposition: form-data; name="${k}"\r\n\r\n${v}\r\n`,
  );
  parts.push(
    `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="${file.name}"\r\nContent-Type: text/csv\r\n\r\n${file.content}\r\n`,
    `--${boundary}--\r\n`,
  );
  return {
    payload: parts.join(''),
    headers: { 'content-type': `multipart/form-data; boundary=${boundary}` },
  };
}

/**
 * A fresh install as the committee's admin meets it (issue 19): nothing but the migrated schema
 * and the built-in sender newsletter@localhost. The admin lands on the first-run page; a subscriber
 * list can be imported before any document; the settings form does not offer the local address;
 * the sender is verified by the link mailed to it.
 */
describe('a fresh install', () => {
  let h: WebHarness;
  let admin: Browser;
  let editor: Browser;

  beforeAll(async () => {
    h = await startWebHarness({ MAIL_FROM: 'Gazette <newsletter@localhost>' });
    // As migrated and nothing else: no publication row, no sections (the harness seeds them).
    await h.ctx.db.deleteFrom('sections').execute();
    admin = await h.signIn('admin');
    editor = await h.signIn('editor');
  });
  afterAll(async () => {
    await h?.close();
  });

  const follow = (b: Browser, res: LightMyRequestResponse) =>
    h.web.inject({
      method: 'GET',
      url: res.headers.location as string,
      headers: {
        cookie: [b.cookie, ...res.cookies.map((c) => `${c.name}=${encodeURIComponent(c.value)}`)].join('; '),
      },
    });
  const flashOf = (html: string) =>
    /<p class="flash (?:notice|error)" role="status">([^<]*)<\/p>/.exec(html)?.[1];

  it('imports a subscriber list naming the model’s sections before any document exists', async () => {
    const csv = [
      'email,name,topics',
      'a@example.org,甲,新规概览',
      'b@example.org,乙,案例研讨;行业动态',
      'c@example.org,丙,数据保护',
      'd@example.org,丁,数据保护',
    ].join('\n');
    const body = multipart({ _csrf: editor.csrf }, { name: 'list.csv', content: csv });
    const res = await h.web.inject({
      method: 'POST',
      url: '/admin/subscribers/import',
      headers: { cookie: editor.cookie, ...body.headers },
      payload: body.payload,
    });
    // The upload is stored and queued as an import job (its report is on the import's page).
    expect(res.statusCode).toBe(303);
    expect(res.headers.location).toMatch(/^\/admin\/subscribers\/imports\/\d+$/);
    // The sections the list names exist before any document was imported.
    expect((await listSections(h.ctx.db)).map((s) => s.names['zh-CN'])).toEqual([
      '新规概览',
      '域外规范',
      '案例研讨',
      '行业动态',
    ]);
  });

  it('lands an admin on the first-run page, and says so on every page until a sender is set', async () => {
    const landing = await admin.get('/admin');
    expect(landing.headers.location).toBe('/admin/welcome');
    expect((await editor.get('/admin')).headers.location).toBe('/admin/issues');
    const page = await admin.get('/admin/welcome');
    expect(page.statusCode).toBe(200);
    for (const step of [
      '第 1 步：刊物与发件人',
      '第 2 步：栏目',
      '第 3 步：发送服务器（中继）',
      '第 4 步：开始',
    ])
      expect(page.body).toContain(step);
    expect(page.body).toContain('value="新规概览"');
    expect(page.body).toContain('还没有配置发送服务器：邮件只会写入本机的');
    // The built-in sender is not offered as a value.
    expect(page.body).toMatch(/id="welcome-from-email" name="fromEmail" type="email" required value=""/);
    const issues = await admin.get('/admin/issues');
    expect(issues.body).toContain(
      '还没有设置发件地址，期刊发不出去。 <a href="/admin/welcome">完成首次设置</a>',
    );
    expect((await editor.get('/admin/issues')).body).not.toContain('setup-notice');
    // The header names the product once, not "Gazette 编辑台 Gazette".
    expect(issues.body).toContain('<div class="brand"><a href="/admin">Gazette 编辑台</a></div>');
  });

  it('saves the settings without a sender, and never pre-fills newsletter@localhost', async () => {
    const form = await admin.get('/admin/settings');
    expect(form.body).not.toContain('value="newsletter@localhost"');
    expect(form.body).toMatch(/id="pub-from-email" name="fromEmail" type="email" value=""/);
    // Only the time zone changed: saved, and the sender is still unset.
    const res = await admin.post('/admin/settings/publication', {
      name: 'Gazette',
      locale: 'zh-CN',
      fromName: 'Gazette',
      fromEmail: '',
      timeZone: 'Europe/Paris',
    });
    expect(res.statusCode).toBe(303);
    expect(flashOf((await follow(admin, res)).body)).toBe('已保存刊物信息。');
    expect(await getPublication(h.ctx.db)).toMatchObject({
      time_zone: 'Europe/Paris',
      from_email: 'newsletter@localhost',
    });
    const local = await admin.post('/admin/settings/publication', {
      name: 'Gazette',
      fromName: 'Gazette',
      fromEmail: 'news@localhost',
      timeZone: 'Asia/Shanghai',
    });
    expect(local.statusCode).toBe(400);
    expect(local.body).toContain('“news@localhost”是本机地址，读者收不到从这里发出的邮件');
    expect(h.smtp.messages).toHaveLength(0);
  });

  it('walks through the publication and its sender, verified by the mailed link, then the sections', async () => {
    const refused = await admin.post('/admin/welcome/publication', {
      name: '数字科技与人工智能',
      fromName: '数字科技委',
      fromEmail: '',
    });
    expect(refused.statusCode).toBe(400);
    expect(refused.body).toContain('请填写刊物的发件地址。');
    expect(refused.body).toContain('value="数字科技与人工智能"'); // kept as typed

    const saved = await admin.post('/admin/welcome/publication', {
      name: '数字科技与人工智能',
      fromName: '数字科技委',
      fromEmail: 'digest@lawyers.example',
      postalAddress: '上海市黄浦区某路 1 号',
    });
    expect(saved.headers.location).toBe('/admin/welcome#step-sections');
    const next = await follow(admin, saved);
    expect(flashOf(next.body)).toBe(
      '已保存刊物与发件人。 已向 digest@lawyers.example 发送验证邮件，请打开其中的链接。',
    );
    expect(next.body).toContain('发件地址 digest@lawyers.example 尚未验证');
    expect((await admin.get('/admin/issues')).body).toContain(
      '发件地址 digest@lawyers.example 尚未验证，期刊发不出去。',
    );

    const mail = (await h.mails()).find((m) => m.to === 'digest@lawyers.example');
    expect(mail?.subject).toBe('请验证 数字科技与人工智能 的发件地址');
    const link = /https:\/\/news\.example\.org(\/admin\/sender\/verify\?token=[^\s<"]+)/.exec(
      mail?.text ?? '',
    )?.[1];
    expect(link).toBeTruthy();
    // Opened in another browser, signed in or not: the signed token is the proof.
    const opened = await h.web.inject({ method: 'GET', url: link as string });
    expect(opened.statusCode).toBe(200);
    expect(opened.body).toContain('发件地址 digest@lawyers.example 已验证，可以用它发送期刊了。');
    const tampered = await h.web.inject({ method: 'GET', url: `${link}x` });
    expect(tampered.statusCode).toBe(400);
    expect((await admin.get('/admin')).headers.location).toBe('/admin/issues');
    expect((await admin.get('/admin/issues')).body).not.toContain('setup-notice');

    const renamed = await admin.post('/admin/welcome/sections', {
      'zh-domestic-regulation': '国内新规',
      'en-domestic-regulation': 'Domestic rules',
      'zh-foreign-regulation': '域外规范',
      'zh-case-studies': '案例研讨',
      'zh-industry-news': '行业动态',
    });
    expect(renamed.headers.location).toBe('/admin/welcome#step-relay');
    expect((await listSections(h.ctx.db))[0]?.names).toEqual({ 'zh-CN': '国内新规', en: 'Domestic rules' });
    const emptied = await admin.post('/admin/welcome/sections', { 'zh-domestic-regulation': '' });
    expect(emptied.statusCode).toBe(400);
    expect(emptied.body).toContain('每个栏目至少需要一个名称');
  });

  it('lets the checklist pass the sender once verified, and warns while the postal address is missing', async () => {
    const issue = await h.ctx.db
      .insertInto('issues')
      .values({ period: '2025-07', title: '第一期' })
      .returning('id')
      .executeTakeFirstOrThrow();
    const byId = async () =>
      Object.fromEntries((await checkIssue({ db: h.ctx.db }, issue.id)).checks.map((c) => [c.id, c.status]));
    expect(await byId()).toMatchObject({ sender: 'pass', 'postal-address': 'pass' });
    await h.ctx.db.updateTable('publication').set({ postal_address: null }).execute();
    expect(await byId()).toMatchObject({ 'postal-address': 'warn' });
    // A new address is not verified by the old one's link.
    await h.ctx.db.updateTable('publication').set({ from_email: 'other@lawyers.example' }).execute();
    expect(await byId()).toMatchObject({ sender: 'fail' });
  });
});
