import { generateKeyPairSync } from 'node:crypto';
import zlib from 'node:zlib';
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

  it('answers /favicon.ico (every page asks for it) with an icon, not a 404', async () => {
    const icon = await h.web.inject({ method: 'GET', url: '/favicon.ico' });
    expect(icon.statusCode).toBe(200);
    expect(icon.headers['content-type']).toBe('image/x-icon');
    const bytes = icon.rawPayload;
    expect([...bytes.subarray(0, 4)]).toEqual([0, 0, 1, 0]); // ICO, type icon
    expect(bytes.subarray(22, 30).toString('latin1')).toBe('\x89PNG\r\n\x1a\n'); // one embedded PNG
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

/** A real PNG (solid colour), made here: signature, IHDR, IDAT, IEND with their CRCs. */
function png(width: number, height: number): Buffer {
  const chunk = (type: string, data: Buffer) => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(zlib.crc32(body));
    return Buffer.concat([len, body, crc]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr.set([8, 2, 0, 0, 0], 8);
  const row = Buffer.concat([Buffer.from([0]), Buffer.alloc(width * 3, 0x80)]);
  const idat = zlib.deflateSync(Buffer.concat(Array.from({ length: height }, () => row)));
  return Buffer.concat([
    Buffer.from('89504e470d0a1a0a', 'hex'),
    chunk('IHDR', ihdr),
    chunk('IDAT', idat),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

function multipart(fields: Record<string, string>, file: { name: string; type: string; data: Buffer }) {
  const boundary = '----gazette-brand-boundary';
  const parts: Buffer[] = Object.entries(fields).map(([k, v]) =>
    Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="${k}"\r\n\r\n${v}\r\n`),
  );
  parts.push(
    Buffer.from(
      `--${boundary}\r\nContent-Disposition: form-data; name="logoFile"; filename="${file.name}"\r\nContent-Type: ${file.type}\r\n\r\n`,
    ),
    file.data,
    Buffer.from(`\r\n--${boundary}--\r\n`),
  );
  return { payload: Buffer.concat(parts), contentType: `multipart/form-data; boundary=${boundary}` };
}

describe('an uploaded logo', () => {
  let h: WebHarness;
  let admin: Browser;
  const upload = (fields: Record<string, string>, file: { name: string; type: string; data: Buffer }) => {
    const body = multipart({ _csrf: admin.csrf, ...fields }, file);
    return h.web.inject({
      method: 'POST',
      url: '/admin/settings/branding',
      headers: { cookie: admin.cookie, 'content-type': body.contentType },
      payload: body.payload,
    });
  };
  beforeAll(async () => {
    h = await startWebHarness({ PUBLIC_URL: 'https://news.lawyers.example' });
    admin = await h.signIn('admin');
    await h.ctx.db.updateTable('users').set({ locale: 'en' }).where('email', '=', admin.email).execute();
    await admin.get('/admin/settings');
  });
  afterAll(async () => {
    await h?.close();
  });

  it('is stored, served by the app under the hash of its bytes, and sized from the image', async () => {
    const image = png(480, 120);
    const res = await upload(
      { logoAlt: '数字科技委', logoUrl: '' },
      { name: 'logo.png', type: 'image/png', data: image },
    );
    expect(res.statusCode, res.body.slice(0, 300)).toBe(303);
    const branding = (await getPublication(h.ctx.db))?.branding;
    expect(branding).toMatchObject({ logoAlt: '数字科技委', logoWidth: 240, logoHeight: 60 });
    expect(branding?.logoUrl).toMatch(/^https:\/\/news\.lawyers\.example\/brand\/[0-9a-f]{64}\.png$/);
    const served = await h.web.inject({ method: 'GET', url: new URL(branding?.logoUrl as string).pathname });
    expect(served.statusCode).toBe(200);
    expect(served.headers['content-type']).toBe('image/png');
    expect(served.rawPayload.equals(image)).toBe(true);
    expect((await h.web.inject({ method: 'GET', url: `/brand/${'0'.repeat(64)}.png` })).statusCode).toBe(404);
  });

  it('refuses a file that is not a PNG, JPEG or GIF whatever it is called, keeping the stored logo', async () => {
    const before = (await getPublication(h.ctx.db))?.branding.logoUrl;
    const svg = Buffer.from('<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>');
    const res = await upload({ logoAlt: 'x' }, { name: 'logo.png', type: 'image/png', data: svg });
    expect(res.statusCode).toBe(400);
    expect(res.body).toContain('The uploaded file is not a PNG, JPEG or GIF image.');
    expect(res.body).toMatch(/name="logoFile"[^>]*aria-invalid="true"/);
    expect((await getPublication(h.ctx.db))?.branding.logoUrl).toBe(before);
  });
});
