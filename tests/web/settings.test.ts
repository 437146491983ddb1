import type { LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getPublication, listSections } from '../../src/publication/index.js';
import { type SmtpCatcher, startSmtpCatcher } from '../../src/smtp/catcher.js';
import { relayViews } from '../../src/web/pages/settings.js';
import { type Browser, startWebHarness, type WebHarness } from './support.js';

describe('settings page', () => {
  let h: WebHarness;
  let admin: Browser;
  let editor: Browser;
  let relay: SmtpCatcher;
  beforeAll(async () => {
    relay = await startSmtpCatcher();
    // Two relays: one that answers, one on a closed port with credentials that must never show.
    h = await startWebHarness({
      SMTP_URL: `smtp://127.0.0.1:${relay.port}#weight=3&perSecond=5,smtp://gazette:Sup3rSecretPw@127.0.0.1:1#weight=1&perHour=1000`,
    });
    admin = await h.signIn('admin');
    editor = await h.signIn('editor');
    await h.ctx.db.updateTable('users').set({ locale: 'en' }).where('email', '=', admin.email).execute();
  });
  afterAll(async () => {
    await h?.close();
    await relay?.close();
  });

  const follow = (b: Browser, res: LightMyRequestResponse) =>
    h.web.inject({
      method: 'GET',
      url: res.headers.location as string,
      headers: {
        cookie: [b.cookie, ...res.cookies.map((c) => `${c.name}=${encodeURIComponent(c.value)}`)].join('; '),
      },
    });

  it('is for admins only', async () => {
    expect((await editor.get('/admin/settings')).statusCode).toBe(403);
    expect((await editor.post('/admin/settings/publication', { name: 'x' })).statusCode).toBe(403);
    expect((await editor.post('/admin/settings/sections', { key: 'x', zh: 'x' })).statusCode).toBe(403);
  });

  it('saves the publication: name, sender, reply-to, time zone, postal address, tracking, masthead', async () => {
    const page = await admin.get('/admin/settings');
    expect(page.statusCode).toBe(200);
    const res = await admin.post('/admin/settings/publication', {
      name: '数字科技与人工智能专业委员会简报',
      locale: 'zh-CN',
      fromName: '数字科技委',
      fromEmail: 'newsletter@lawyers.example',
      replyTo: 'editors@lawyers.example',
      timeZone: 'Asia/Shanghai',
      postalAddress: '上海市黄浦区',
      committee: '数字科技与人工智能专业委员会',
      director: '张三',
      deputyDirectors: '李四\n\n王五\n',
      editorialBoard: '赵六\n钱七',
      editor: '孙八',
    });
    expect(res.statusCode).toBe(303);
    expect((await follow(admin, res)).body).toContain('Publication saved.');
    const pub = await getPublication(h.ctx.db);
    expect(pub).toMatchObject({
      name: '数字科技与人工智能专业委员会简报',
      from_name: '数字科技委',
      from_email: 'newsletter@lawyers.example',
      reply_to: 'editors@lawyers.example',
      time_zone: 'Asia/Shanghai',
      postal_address: '上海市黄浦区',
      tracking_enabled: false,
    });
    expect(pub?.masthead).toEqual({
      committee: '数字科技与人工智能专业委员会',
      director: ['张三'],
      deputyDirectors: ['李四', '王五'],
      editorialBoard: ['赵六', '钱七'],
      editor: '孙八',
    });

    const bad = await admin.post('/admin/settings/publication', {
      name: 'x',
      fromName: 'x',
      fromEmail: 'newsletter@lawyers.example',
      timeZone: 'Mars/Olympus',
    });
    expect((await follow(admin, bad)).body).toContain('&quot;Mars/Olympus&quot; is not an IANA time zone');
    expect((await getPublication(h.ctx.db))?.time_zone).toBe('Asia/Shanghai');
  });

  it('adds, renames and reorders sections', async () => {
    await admin.post('/admin/settings/sections', {
      key: 'data-protection',
      zh: '数据保护',
      en: 'Data protection',
    });
    let keys = (await listSections(h.ctx.db)).map((s) => s.key);
    expect(keys).toEqual([
      'domestic-regulation',
      'foreign-regulation',
      'case-studies',
      'industry-news',
      'data-protection',
    ]);
    const dup = await admin.post('/admin/settings/sections', { key: 'case-studies', zh: '重复' });
    expect((await follow(admin, dup)).body).toContain(
      'A section with the key &quot;case-studies&quot; already exists.',
    );

    await admin.post('/admin/settings/sections/data-protection/move', { direction: 'up' });
    await admin.post('/admin/settings/sections/data-protection/move', { direction: 'up' });
    const moved = await admin.post('/admin/settings/sections/domestic-regulation/move', { direction: 'up' }); // already first
    expect(moved.statusCode).toBe(303);
    const sections = await listSections(h.ctx.db);
    keys = sections.map((s) => s.key);
    expect(keys).toEqual([
      'domestic-regulation',
      'foreign-regulation',
      'data-protection',
      'case-studies',
      'industry-news',
    ]);
    expect(sections.map((s) => s.position)).toEqual([1, 2, 3, 4, 5]);

    await admin.post('/admin/settings/sections/case-studies', { zh: '案例研讨与评析', en: 'Cases' });
    const renamed = (await listSections(h.ctx.db)).find((s) => s.key === 'case-studies');
    expect(renamed?.names).toEqual({ 'zh-CN': '案例研讨与评析', en: 'Cases' });
    const page = await admin.get('/admin/settings');
    expect(page.body).toContain('value="案例研讨与评析"');
    expect(page.body).toContain('Move &quot;Cases&quot; up');
  });

  it('shows the SMTP relays from SMTP_URL with weights and limits, never the credentials', async () => {
    expect(relayViews(h.env)).toMatchObject([
      { name: `127.0.0.1:${relay.port}`, weight: 3, perSecond: 5, hasUser: false, hasPassword: false },
      { name: '127.0.0.1:1', weight: 1, perHour: 1000, hasUser: true, hasPassword: true },
    ]);
    const page = await admin.get('/admin/settings');
    expect(page.body).toContain(`127.0.0.1:${relay.port}`);
    expect(page.body).not.toContain('Sup3rSecretPw');
    expect(page.body).not.toContain('gazette:');
    expect(page.body).toContain('action="/admin/settings/transports/1/verify"');
  });

  it('verifies a relay connection: success for the one that answers, the error for the closed port', async () => {
    const ok = await admin.post('/admin/settings/transports/0/verify', {});
    expect((await follow(admin, ok)).body).toContain(`127.0.0.1:${relay.port}: connected and signed in.`);
    const failed = await admin.post('/admin/settings/transports/1/verify', {});
    const body = (await follow(admin, failed)).body;
    expect(body).toContain('127.0.0.1:1: the connection failed: ');
    expect(body).toMatch(/ECONNREFUSED/);
    expect(body).not.toContain('Sup3rSecretPw');
    expect(relay.messages).toHaveLength(0); // verify sends nothing
    expect((await admin.post('/admin/settings/transports/7/verify', {})).statusCode).toBe(404);
  });

  it('shows the page in Chinese too', async () => {
    await h.ctx.db.updateTable('users').set({ locale: 'zh-CN' }).where('email', '=', admin.email).execute();
    const page = await admin.get('/admin/settings');
    expect(page.body).toContain('SMTP 发送通道');
    expect(page.body).toContain('刊头默认值');
    await h.ctx.db.updateTable('users').set({ locale: 'en' }).where('email', '=', admin.email).execute();
  });
});
