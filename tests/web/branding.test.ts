import { generateKeyPairSync } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { brandingFromForm } from '../../src/publication/branding.js';
import { getPublication } from '../../src/publication/index.js';
import { type Browser, startWebHarness, type WebHarness } from './support.js';

/** Publication branding on /admin/settings, and where it shows: subscriber pages and the archive. */
describe('branding rules', () => {
  const ok = {
    logoUrl: 'https://cdn.example/logo.png',
    logoAlt: '数字科技委',
    logoWidth: '180',
    logoHeight: '48',
  };
  it('keeps a valid form as typed values, and drops emptied fields', () => {
    expect(
      brandingFromForm(
        { ...ok, accentColor: '#B3261E', contact: ' ai@lawyers.example ' },
        { fontFamily: 'Noto' },
      ),
    ).toEqual({
      branding: {
        fontFamily: 'Noto',
        logoUrl: 'https://cdn.example/logo.png',
        logoAlt: '数字科技委',
        logoWidth: 180,
        logoHeight: 48,
        accentColor: '#b3261e',
        contact: 'ai@lawyers.example',
      },
    });
    expect(
      brandingFromForm(
        { logoUrl: '', accentColor: '' },
        { logoUrl: 'https://x.example/a.png', accentColor: '#fff' },
      ),
    ).toEqual({
      branding: {},
    });
  });
  it.each([
    [{ logoUrl: 'http://cdn.example/logo.png', logoAlt: 'x' }, 'logoUrl', 'brandBadLogoUrl'],
    [{ logoUrl: 'javascript:alert(1)', logoAlt: 'x' }, 'logoUrl', 'brandBadLogoUrl'],
    [{ logoUrl: 'https://cdn.example/a.png' }, 'logoAlt', 'brandAltRequired'],
    [{ ...ok, logoWidth: '3.5' }, 'logoWidth', 'brandBadSize'],
    [{ ...ok, logoHeight: '0' }, 'logoHeight', 'brandBadSize'],
    [{ ...ok, logoWidth: '601' }, 'logoWidth', 'brandBadSize'],
    [{ accentColor: 'red' }, 'accentColor', 'brandBadColor'],
    [{ accentColor: '#12345' }, 'accentColor', 'brandBadColor'],
    [{ contact: 'x'.repeat(301) }, 'contact', 'brandContactTooLong'],
  ])('refuses %o (%s)', (values, field, code) => {
    expect(brandingFromForm(values, {})).toEqual({ problem: { field, code } });
  });
});

describe('branding in the settings and on the pages', () => {
  let h: WebHarness;
  let admin: Browser;
  let editor: Browser;
  beforeAll(async () => {
    h = await startWebHarness();
    admin = await h.signIn('admin');
    editor = await h.signIn('editor');
    await h.ctx.db.updateTable('users').set({ locale: 'en' }).where('email', '=', admin.email).execute();
  });
  afterAll(async () => {
    await h?.close();
  });

  it('is saved by admins only, validated, and shown again as typed after a refusal', async () => {
    expect((await editor.post('/admin/settings/branding', { accentColor: '#000000' })).statusCode).toBe(403);
    const page = await admin.get('/admin/settings');
    expect(page.body).toContain('Branding and footer');
    await h.ctx.db.updateTable('publication').set({ postal_address: '上海市肇嘉浜路 789 号' }).execute();
    const saved = await admin.post('/admin/settings/branding', {
      logoUrl: 'https://cdn.example/logo.png',
      logoAlt: '数字科技与人工智能专业委员会',
      logoWidth: '180',
      logoHeight: '48',
      accentColor: '#b3261e',
      contact: 'ai@lawyers.example',
    });
    expect(saved.statusCode).toBe(303);
    expect((await getPublication(h.ctx.db))?.branding).toEqual({
      logoUrl: 'https://cdn.example/logo.png',
      logoAlt: '数字科技与人工智能专业委员会',
      logoWidth: 180,
      logoHeight: 48,
      accentColor: '#b3261e',
      contact: 'ai@lawyers.example',
    });
    const bad = await admin.post('/admin/settings/branding', {
      logoUrl: 'https://cdn.example/new.png',
      logoAlt: 'x',
      accentColor: 'crimson',
    });
    expect(bad.statusCode).toBe(400);
    expect(bad.body).toContain('role="alert">The accent colour must be a hex colour such as #b3261e.');
    expect(bad.body).toMatch(/name="accentColor"[^>]*value="crimson"[^>]*aria-invalid="true"/);
    expect(bad.body).toContain('value="https://cdn.example/new.png"');
    expect((await getPublication(h.ctx.db))?.branding.logoUrl).toBe('https://cdn.example/logo.png');
  });

  it('refuses in Chinese for a Chinese admin', async () => {
    await h.ctx.db.updateTable('users').set({ locale: 'zh-CN' }).where('email', '=', admin.email).execute();
    const bad = await admin.post('/admin/settings/branding', {
      logoUrl: 'http://cdn.example/logo.png',
      logoAlt: 'x',
    });
    expect(bad.statusCode).toBe(400);
    expect(bad.body).toContain('标志图片地址必须以 https:// 开头。');
    expect(bad.body).toContain('品牌与页脚');
    await h.ctx.db.updateTable('users').set({ locale: 'en' }).where('email', '=', admin.email).execute();
  });

  it('the database itself refuses branding the email could not use', async () => {
    for (const branding of [
      { accentColor: 'red' },
      { logoUrl: 'http://x.example/a.png' },
      { logoWidth: 2.5 },
    ]) {
      await expect(
        h.ctx.db
          .updateTable('publication')
          .set({ branding: JSON.stringify(branding) as never })
          .execute(),
      ).rejects.toThrow(/publication_branding_valid/);
    }
  });

  it('subscriber pages use the shared stylesheet, the logo with its alt text and size, and the footer', async () => {
    const page = await h.web.inject({ method: 'GET', url: '/subscribe?lang=en' });
    expect(page.statusCode).toBe(200);
    expect(page.body).toContain('<link rel="stylesheet" href="/pages.css">');
    expect(page.body).not.toMatch(/<script|<style| style=/);
    expect(page.body).toContain(
      '<img src="https://cdn.example/logo.png" alt="数字科技与人工智能专业委员会" width="180" height="48">',
    );
    expect(page.body).toContain('上海市肇嘉浜路 789 号');
    expect(page.body).toContain('Contact: ai@lawyers.example');
    const zh = await h.web.inject({ method: 'GET', url: '/subscribe?lang=zh-CN' });
    expect(zh.body).toContain('联系方式：ai@lawyers.example');
    const css = await h.web.inject({ method: 'GET', url: '/pages.css' });
    expect(css.statusCode).toBe(200);
    expect(css.headers['content-type']).toContain('text/css');
    expect(css.body).toMatch(/:root\{--accent:#b3261e\}\n$/);
    expect(css.body).not.toMatch(/url\(|@import/);
  });

  it('the archive index uses them too', async () => {
    const page = await h.web.inject({ method: 'GET', url: '/archive' });
    expect(page.statusCode).toBe(200);
    expect(page.body).toContain('<link rel="stylesheet" href="/pages.css">');
    expect(page.body).toContain('alt="数字科技与人工智能专业委员会" width="180" height="48"');
    expect(page.body).toContain('联系方式：ai@lawyers.example');
  });
});

describe('the sender and the DKIM domain', () => {
  let h: WebHarness;
  let admin: Browser;
  beforeAll(async () => {
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    h = await startWebHarness({
      MAIL_FROM: 'Gazette <news@lawyers.example>',
      DKIM_DOMAIN: 'lawyers.example',
      DKIM_SELECTOR: 'gz',
      DKIM_PRIVATE_KEY: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    });
    admin = await h.signIn('admin');
    await h.ctx.db.updateTable('users').set({ locale: 'en' }).where('email', '=', admin.email).execute();
  });
  afterAll(async () => {
    await h?.close();
  });

  it('refuses a sender outside the signing domain, and takes one under it', async () => {
    const form = { name: 'Digest', fromName: 'Digest', timeZone: 'Asia/Shanghai', locale: 'en' };
    const bad = await admin.post('/admin/settings/publication', { ...form, fromEmail: 'news@gmail.com' });
    expect(bad.statusCode).toBe(400);
    expect(bad.body).toContain('must be in the DKIM signing domain lawyers.example');
    const ok = await admin.post('/admin/settings/publication', {
      ...form,
      fromEmail: 'digest@mail.lawyers.example',
    });
    expect(ok.statusCode).toBe(303);
    expect((await getPublication(h.ctx.db))?.from_email).toBe('digest@mail.lawyers.example');
  });
});
