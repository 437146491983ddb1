import type { AddressInfo } from 'node:net';
import type { LightMyRequestResponse } from 'fastify';
import { SMTPServer } from 'smtp-server';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { openPassword } from '../../src/delivery/relay-secret.js';
import { currentRelaySpecs } from '../../src/delivery/relay-store.js';
import { getPublication, listSections } from '../../src/publication/index.js';
import { HeaderFieldError, updatePublication } from '../../src/publication/publication.js';
import { type SmtpCatcher, startSmtpCatcher } from '../../src/smtp/catcher.js';
import { relayViews } from '../../src/http/admin/pages/settings-relays.js';
import { LOOPBACK_TLS } from '../support/loopback-tls.js';
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

  it('refuses a sender name, publication name or address with a line break, in the form, the CLI and the API alike', async () => {
    for (const [field, value] of [
      ['fromName', 'Sender\r\nBcc: victim@example.com'],
      ['name', 'Weekly\nX-Injected: 1'],
    ] as const) {
      const res = await admin.post('/admin/settings/publication', {
        name: '简报',
        locale: 'zh-CN',
        fromName: '数字科技委',
        fromEmail: 'newsletter@lawyers.example',
        timeZone: 'Asia/Shanghai',
        [field]: value,
      });
      expect(res.statusCode, field).toBe(400);
      expect(res.body).toContain('contains a line break or another control character');
    }
    const before = await h.ctx.db.selectFrom('publication').select(['from_name', 'name']).executeTakeFirst();
    expect(before?.from_name).not.toContain('Bcc');
    // The stage refuses it for every caller (the CLI's `publication set` and the API call it).
    await expect(updatePublication(h.ctx.db, { fromName: 'a\u0000b' })).rejects.toThrow(HeaderFieldError);
    await expect(updatePublication(h.ctx.db, { replyTo: 'a@b.example\r\nBcc: c@d.example' })).rejects.toThrow(
      'replyTo contains a line break',
    );
    expect(await h.ctx.db.selectFrom('publication').select(['from_name', 'name']).executeTakeFirst()).toEqual(
      before,
    );
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
      name: '新的刊名',
      fromName: 'x',
      fromEmail: 'newsletter@lawyers.example',
      timeZone: 'Mars/Olympus',
      editorialBoard: '甲\n乙\n丙',
    });
    // Refused: the page again (400) with the reason inside the form, and the form as it was typed.
    expect(bad.statusCode).toBe(400);
    expect(bad.body).toContain('role="alert">&quot;Mars/Olympus&quot; is not an IANA time zone');
    expect(bad.body).toContain(
      'id="pub-name" name="name" type="text" required maxlength="200" value="新的刊名"',
    );
    expect(bad.body).toContain('value="Mars/Olympus"');
    expect(bad.body).toContain('>甲\n乙\n丙</textarea>');
    expect((await getPublication(h.ctx.db))?.time_zone).toBe('Asia/Shanghai');
  });

  it('edits the soft-bounce policy N of M: whole numbers 1..20, N no larger than M, refused forms kept as typed', async () => {
    const form = {
      name: '简报',
      locale: 'zh-CN',
      fromName: '数字科技委',
      fromEmail: 'newsletter@lawyers.example',
      timeZone: 'Asia/Shanghai',
    };
    const page = await admin.get('/admin/settings');
    expect(page.body).toMatch(/name="softBounceLimit" type="number" min="1" max="20" required value="\d+"/);
    const ok = await admin.post('/admin/settings/publication', {
      ...form,
      softBounceLimit: '2',
      softBounceIssues: '5',
    });
    expect(ok.statusCode).toBe(303);
    expect(await getPublication(h.ctx.db)).toMatchObject({ soft_bounce_limit: 2, soft_bounce_issues: 5 });
    expect((await admin.get('/admin/settings')).body).toContain(
      'name="softBounceIssues" type="number" min="1" max="20" required value="5"',
    );

    for (const [limit, issues] of [
      ['0', '3'],
      ['21', '21'],
      ['2.5', '3'],
      ['三', '3'],
      ['4', '3'],
    ] as const) {
      const bad = await admin.post('/admin/settings/publication', {
        ...form,
        name: '新的刊名',
        softBounceLimit: limit,
        softBounceIssues: issues,
      });
      expect(bad.statusCode, `${limit}/${issues}`).toBe(400);
      expect(bad.body).toContain(
        'role="alert">The soft bounce limit and issues must be whole numbers from 1 to 20',
      );
      expect(bad.body).toContain(
        `name="softBounceLimit" type="number" min="1" max="20" required value="${limit}"`,
      );
      expect(bad.body).toContain('value="新的刊名"');
    }
    expect(await getPublication(h.ctx.db)).toMatchObject({
      name: '简报',
      soft_bounce_limit: 2,
      soft_bounce_issues: 5,
    });

    // In Chinese for a Chinese-speaking admin.
    await h.ctx.db.updateTable('users').set({ locale: 'zh-CN' }).where('email', '=', admin.email).execute();
    try {
      const zh = await admin.post('/admin/settings/publication', {
        ...form,
        softBounceLimit: '30',
        softBounceIssues: '3',
      });
      expect(zh.body).toContain('软退信次数和期数须为 1 到 20 的整数');
      expect((await admin.get('/admin/settings')).body).toContain('软退信停发次数（N）');
    } finally {
      await h.ctx.db.updateTable('users').set({ locale: 'en' }).where('email', '=', admin.email).execute();
    }
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

describe('saved SMTP relays on the settings page', () => {
  const GOOD = 'Rel@y pass 1';
  const WRONG = 'not-the-password';
  let h: WebHarness;
  let admin: Browser;
  let server: SMTPServer;
  let port: number;
  let relayId: number;
  /** Every sign-in the relay saw, and every message it was given (verify must give none). */
  const logins: { user: string; ok: boolean }[] = [];
  let messages = 0;
  /** Every page and log line of the file's admin session, searched for passwords at the end. */
  const bodies: string[] = [];
  let logged: ReturnType<typeof vi.spyOn>[] = [];

  beforeAll(async () => {
    server = new SMTPServer({
      authOptional: false,
      ...LOOPBACK_TLS,
      logger: false,
      onAuth(auth, _session, cb) {
        const ok = auth.username === 'relay-user' && auth.password === GOOD;
        logins.push({ user: auth.username ?? '', ok });
        if (ok) cb(null, { user: auth.username });
        else cb(Object.assign(new Error('Invalid username or password'), { responseCode: 535 }));
      },
      onData(stream, _session, cb) {
        messages += 1;
        stream.resume();
        stream.on('end', () => cb());
      },
    });
    await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
    port = (server.server.address() as AddressInfo).port;
    // SMTP_URL names the same server, so its relay's verify signs in with the right password too.
    h = await startWebHarness({
      SMTP_URL: `smtp://relay-user:${encodeURIComponent(GOOD)}@127.0.0.1:${port}`,
    });
    admin = await h.signIn('admin');
    await setLocale(admin, 'zh-CN');
    logged = (['info', 'warn', 'error'] as const).map((level) => vi.spyOn(h.ctx.log, level));
  });
  afterAll(async () => {
    for (const spy of logged) spy.mockRestore();
    await h?.close();
    await new Promise<void>((ok) => (server ? server.close(() => ok()) : ok()));
  });

  const setLocale = (b: Browser, locale: 'zh-CN' | 'en') =>
    h.ctx.db.updateTable('users').set({ locale }).where('email', '=', b.email).execute();

  /** A form post answered 303 to the SMTP section; the page it leads to, with its flash. */
  /** A relay form the server refuses: the page again (400), with the form as typed. */
  async function refused(url: string, form: Record<string, string>): Promise<string> {
    const res = await admin.post(url, form);
    expect(res.statusCode, url).toBe(400);
    bodies.push(res.body);
    return res.body;
  }

  async function act(url: string, form: Record<string, string>): Promise<string> {
    const res = await admin.post(url, form);
    expect(res.statusCode, url).toBe(303);
    expect(res.headers.location).toBe('/admin/settings#smtp');
    const page = await h.web.inject({
      method: 'GET',
      url: '/admin/settings',
      headers: {
        cookie: [admin.cookie, ...res.cookies.map((c) => `${c.name}=${encodeURIComponent(c.value)}`)].join(
          '; ',
        ),
      },
    });
    bodies.push(page.body);
    return page.body;
  }
  async function page(): Promise<string> {
    const res = await admin.get('/admin/settings');
    expect(res.statusCode).toBe(200);
    bodies.push(res.body);
    return res.body;
  }
  const rows = () => h.ctx.db.selectFrom('smtp_relays').selectAll().orderBy('id').execute();
  const relayForm = (over: Record<string, string> = {}) => ({
    name: 'mail-1',
    host: '127.0.0.1',
    port: String(port),
    security: 'starttls',
    username: 'relay-user',
    password: GOOD,
    weight: '2',
    perSecond: '5',
    perHour: '1000',
    ...over,
  });
  const inUse = async () => {
    const { source, specs } = await currentRelaySpecs({ db: h.ctx.db, secrets: h.ctx.secrets, env: h.env });
    return { source, names: specs.map((s) => s.name) };
  };

  it('adds a relay with its password sealed, shows it without the password, and keeps SMTP_URL until it is enabled', async () => {
    const before = await page();
    expect(before).toContain('当前发信使用：');
    expect(before).toContain('环境变量 SMTP_URL 中的中继');
    expect(before).toContain('还没有保存任何中继。');
    expect(before).toContain('action="/admin/settings/transports/0/verify"');

    const body = await act('/admin/settings/relays', relayForm());
    expect(body).toContain('已添加中继“mail-1”（尚未启用）');
    const [row, ...others] = await rows();
    expect(others).toEqual([]);
    expect(row).toMatchObject({
      name: 'mail-1',
      host: '127.0.0.1',
      port,
      security: 'starttls',
      username: 'relay-user',
      weight: 2,
      per_second: 5,
      per_hour: 1000,
      enabled: false,
    });
    relayId = row!.id;
    expect(row!.password_encrypted).not.toContain(GOOD);
    expect(openPassword(h.ctx.secrets, row!.password_encrypted!)).toBe(GOOD);

    expect(body).toContain(`<th scope="row"><code>mail-1</code></th>`);
    expect(body).toContain(`<td class="wrap">127.0.0.1:${port}</td>`);
    expect(body).toContain('<td class="nowrap">STARTTLS</td>');
    expect(body).toContain('<td class="wrap">relay-user</td>');
    expect(body).toContain('<td class="nowrap">已设置</td>');
    expect(body).toContain('已停用');
    // Not enabled: SMTP_URL still sends, and its relay is still listed.
    expect(await inUse()).toEqual({ source: 'env', names: [`127.0.0.1:${port}`] });
    expect(body).toContain('action="/admin/settings/transports/0/verify"');
    // The edit form never carries the password, only a placeholder saying blank keeps it.
    expect(body).toMatch(
      new RegExp(
        `id="relay-${relayId}-password" name="password" type="password" autocomplete="new-password" placeholder="留空则保留已保存的密码"`,
      ),
    );
    expect(body).not.toMatch(/name="password"[^>]*value=/);
    for (const id of ['relay-new-name', 'relay-new-host', 'relay-new-port', 'relay-new-password'])
      expect(body).toContain(`<label for="${id}">`);
  });

  it('refuses a bad port, a bad number and a duplicate name with the Chinese sentence, storing nothing', async () => {
    const stored = await rows();
    expect(await refused('/admin/settings/relays', relayForm({ name: 'mail-2', port: '70000' }))).toContain(
      '未保存：端口须在 1 到 65535 之间（填写的是 70000）。',
    );
    expect(await refused('/admin/settings/relays', relayForm({ name: 'mail-2', port: 'abc' }))).toContain(
      '端口须在 1 到 65535 之间（填写的是 abc）。',
    );
    expect(await refused('/admin/settings/relays', relayForm({ name: 'mail-2', weight: '-1' }))).toContain(
      '权重 须为不小于 0 的整数（填写的是 -1）。',
    );
    expect(await refused('/admin/settings/relays', relayForm({ host: 'other.example' }))).toContain(
      '未保存：已有名为“mail-1”的中继。',
    );
    expect(await refused(`/admin/settings/relays/${relayId}`, relayForm({ port: '0' }))).toContain(
      '端口须在 1 到 65535 之间（填写的是 0）。',
    );
    expect(await rows()).toEqual(stored);
  });

  it('shows a refused form again as it was typed, with the reason inside it, but never the password', async () => {
    const add = await refused(
      '/admin/settings/relays',
      relayForm({ name: 'mail-2', host: 'backup.example', port: '70000', password: 'typed-secret' }),
    );
    const addForm = add.split('action="/admin/settings/relays" class="card"')[1]?.split('</form>')[0] ?? '';
    expect(addForm).toContain('role="alert">未保存：端口须在 1 到 65535 之间（填写的是 70000）。');
    expect(addForm).toContain(
      'id="relay-new-name" name="name" type="text" required maxlength="63" autocomplete="off" value="mail-2"',
    );
    expect(addForm).toContain('value="backup.example"');
    expect(add).not.toContain('typed-secret');

    const edit = await refused(`/admin/settings/relays/${relayId}`, relayForm({ port: '0', weight: '7' }));
    const editBox = edit.split(`id="relay-${relayId}-edit"`)[1]?.split('</details>')[0] ?? '';
    expect(editBox.startsWith(' class="card settings-relay-edit" open>')).toBe(true);
    expect(editBox).toContain('role="alert">未保存：端口须在 1 到 65535 之间（填写的是 0）。');
    expect(editBox).toMatch(/name="weight"[^>]*value="7"/);
  });

  it('edits a relay: a blank password keeps the stored one, a new one replaces it', async () => {
    const [before] = await rows();
    let body = await act(`/admin/settings/relays/${relayId}`, relayForm({ password: '', weight: '0' }));
    expect(body).toContain('已保存中继“mail-1”。');
    let [row] = await rows();
    expect(row).toMatchObject({ weight: 0, enabled: false, username: 'relay-user' });
    expect(row!.password_encrypted).toBe(before!.password_encrypted);
    expect(openPassword(h.ctx.secrets, row!.password_encrypted!)).toBe(GOOD);
    expect(body).toContain('仅备用');

    body = await act(`/admin/settings/relays/${relayId}`, relayForm({ password: WRONG, name: 'mail-main' }));
    expect(body).toContain('已保存中继“mail-main”。');
    [row] = await rows();
    expect(row).toMatchObject({ name: 'mail-main', weight: 2 });
    expect(openPassword(h.ctx.secrets, row!.password_encrypted!)).toBe(WRONG);
  });

  it('verifies a saved relay against a real SMTP server: a wrong password fails, the right one signs in, nothing is sent', async () => {
    // The stored password is WRONG now (previous test); the relay is disabled, which verify allows.
    let body = await act(`/admin/settings/relays/${relayId}/verify`, {});
    expect(body).toContain('mail-main：连接失败：');
    expect(body).toMatch(/Invalid login: 535/);
    expect(logins).toEqual([{ user: 'relay-user', ok: false }]);

    await act(`/admin/settings/relays/${relayId}`, relayForm({ name: 'mail-main', password: GOOD }));
    body = await act(`/admin/settings/relays/${relayId}/verify`, {});
    expect(body).toContain('mail-main：连接和登录成功。');
    expect(logins).toEqual([
      { user: 'relay-user', ok: false },
      { user: 'relay-user', ok: true },
    ]);

    // SMTP_URL's relay goes through the same verify.
    expect(await act('/admin/settings/transports/0/verify', {})).toContain(
      `127.0.0.1:${port}：连接和登录成功。`,
    );
    expect(logins).toHaveLength(3);
    expect(messages).toBe(0);
    expect(await act('/admin/settings/relays/999999/verify', {})).toContain('找不到编号为 999999 的中继。');
  });

  it('enables and disables a relay: while it is enabled it sends instead of SMTP_URL', async () => {
    let body = await page();
    expect(body).toContain('data-confirm="启用“mail-main”后，发信将只使用这里已启用的中继');

    body = await act(`/admin/settings/relays/${relayId}/enabled`, { enabled: '1' });
    expect(body).toContain('已启用中继“mail-main”。');
    expect((await rows())[0]?.enabled).toBe(true);
    expect(await inUse()).toEqual({ source: 'settings', names: ['mail-main'] });
    expect(body).toMatch(/当前发信使用：<\/strong>\s*下方已启用的中继 <code>mail-main<\/code>/);
    expect(body).toContain('只要这里有已启用的中继，就不会使用它们');
    expect(body).not.toContain('action="/admin/settings/transports/0/verify"');
    expect(body).toContain('data-confirm="“mail-main”是唯一已启用的中继。停用后');

    // An edit leaves it enabled: only the button changes that.
    await act(`/admin/settings/relays/${relayId}`, relayForm({ name: 'mail-main', password: '' }));
    expect((await rows())[0]?.enabled).toBe(true);

    body = await act(`/admin/settings/relays/${relayId}/enabled`, { enabled: '0' });
    expect(body).toContain('已停用中继“mail-main”。');
    expect((await rows())[0]?.enabled).toBe(false);
    expect((await inUse()).source).toBe('env');
    expect(body).toContain('action="/admin/settings/transports/0/verify"');
  });

  it('refuses editors and viewers every relay route, changing nothing', async () => {
    const stored = await rows();
    for (const role of ['editor', 'viewer'] as const) {
      const b = await h.signIn(role);
      expect((await b.get('/admin/settings')).statusCode).toBe(403);
      for (const [url, form] of [
        ['/admin/settings/relays', relayForm({ name: 'sneaky' })],
        [`/admin/settings/relays/${relayId}`, relayForm({ name: 'sneaky' })],
        [`/admin/settings/relays/${relayId}/enabled`, { enabled: '1' }],
        [`/admin/settings/relays/${relayId}/verify`, {}],
        [`/admin/settings/relays/${relayId}/remove`, {}],
      ] as const) {
        expect((await b.post(url, form)).statusCode, `${role} ${url}`).toBe(403);
      }
    }
    expect(await rows()).toEqual(stored);
    expect(logins).toHaveLength(3);
  });

  it('shows the relays in English to an English user', async () => {
    await setLocale(admin, 'en');
    const body = await page();
    expect(body).toContain('Saved relays');
    expect(body).toContain('Sending now uses:');
    expect(body).toContain('the relays of the SMTP_URL variable');
    expect(body).toContain('placeholder="Leave blank to keep the saved password"');
    expect(body).toContain('Add a relay');
    expect(body).not.toContain('已保存的中继');
    try {
      expect(await refused('/admin/settings/relays', relayForm({ name: 'mail-2', port: '0' }))).toContain(
        'Not saved: The port must be 1-65535 (got 0).',
      );
    } finally {
      await setLocale(admin, 'zh-CN');
    }
  });

  it('removes a relay after asking', async () => {
    expect(await page()).toContain('data-confirm="确定删除中继“mail-main”吗？此操作无法撤销。"');
    expect(await act(`/admin/settings/relays/${relayId}/remove`, {})).toContain('已删除中继“mail-main”。');
    expect(await rows()).toEqual([]);
    expect(await act(`/admin/settings/relays/${relayId}/remove`, {})).toContain(
      `找不到编号为 ${relayId} 的中继。`,
    );
  });

  it('never shows or logs a password, and logs each change by the relay name', async () => {
    for (const body of bodies) {
      for (const secret of [GOOD, WRONG, encodeURIComponent(GOOD)]) expect(body).not.toContain(secret);
    }
    const calls = logged.flatMap((spy) => spy.mock.calls.map((c) => c[0] as Record<string, unknown>));
    const text = JSON.stringify(calls);
    for (const secret of [GOOD, WRONG, encodeURIComponent(GOOD), 'relay-user:'])
      expect(text).not.toContain(secret);
    const events = calls.filter((c) => typeof c?.event === 'string' && String(c.event).includes('relay'));
    expect(events.map((c) => [c.event, c.relay])).toEqual(
      expect.arrayContaining([
        ['web.settings.relay_added', 'mail-1'],
        ['web.settings.relay_updated', 'mail-main'],
        ['web.settings.relay_verify_failed', 'mail-main'],
        ['web.settings.relay_verified', 'mail-main'],
        ['web.settings.relay_enabled', 'mail-main'],
        ['web.settings.relay_disabled', 'mail-main'],
        ['web.settings.relay_removed', 'mail-main'],
      ]),
    );
  });
});
