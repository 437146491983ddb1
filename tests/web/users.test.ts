import type { LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifyPassword } from '../../src/accounts/passwords.js';
import { findUserByEmail } from '../../src/accounts/users.js';
import { type Browser, cookieHeader, PASSWORD, startWebHarness, type WebHarness } from './support.js';

describe('user pages', () => {
  let h: WebHarness;
  let admin: Browser;
  let editor: Browser;
  beforeAll(async () => {
    h = await startWebHarness();
    admin = await h.signIn('admin');
    editor = await h.signIn('editor');
    await h.ctx.db.updateTable('users').set({ locale: 'en' }).where('email', '=', admin.email).execute();
  });
  afterAll(async () => h?.close());

  const follow = (b: Browser, res: LightMyRequestResponse) =>
    h.web.inject({
      method: 'GET',
      url: res.headers.location as string,
      headers: {
        cookie: [b.cookie, ...res.cookies.map((c) => `${c.name}=${encodeURIComponent(c.value)}`)].join('; '),
      },
    });
  const userId = async (email: string) => (await findUserByEmail(h.ctx.db, email))?.id as number;

  it('is for admins only: an editor gets 403 on every users route but their own page', async () => {
    expect((await editor.get('/admin/users')).statusCode).toBe(403);
    const add = await editor.post('/admin/users', {
      email: 'sneaky@committee.example',
      role: 'admin',
      password: 'long enough password',
    });
    expect(add.statusCode).toBe(403);
    expect(await findUserByEmail(h.ctx.db, 'sneaky@committee.example')).toBeUndefined();
    expect(
      (await editor.post(`/admin/users/${await userId(editor.email)}/role`, { role: 'admin' })).statusCode,
    ).toBe(403);
    expect((await editor.get('/admin/users/me')).statusCode).toBe(200);
    // The navigation does not even offer the link.
    expect((await editor.get('/admin/users/me')).body).not.toContain('href="/admin/users"');
  });

  it('lists users and adds one with a role, a name and an initial password', async () => {
    const list = await admin.get('/admin/users');
    expect(list.statusCode).toBe(200);
    expect(list.body).toContain(admin.email);
    expect(list.body).toContain(editor.email);
    const res = await admin.post('/admin/users', {
      email: 'wang.editor@committee.example',
      name: '王编辑',
      role: 'editor',
      password: 'a long initial password',
    });
    expect(res.statusCode).toBe(303);
    expect((await follow(admin, res)).body).toContain('User added.');
    const row = await findUserByEmail(h.ctx.db, 'wang.editor@committee.example');
    expect(row).toMatchObject({ name: '王编辑', role: 'editor', disabled_at: null });
    expect(await verifyPassword(row?.password_hash as string, 'a long initial password')).toBe(true);

    const weak = await admin.post('/admin/users', {
      email: 'weak@committee.example',
      role: 'viewer',
      password: 'short',
    });
    expect((await follow(admin, weak)).body).toContain('The password must be at least 12 characters long.');
    // The penetration test's passwords: blanks, and common ones of ten or twelve characters.
    for (const [password, said] of [
      ['          ', 'at least 12 characters'],
      ['password12', 'at least 12 characters'],
      ['1234567890', 'at least 12 characters'],
      ['            x', 'at least 12 characters'],
      ['password1234', 'too easy to guess'],
      ['123456789012', 'too easy to guess'],
      ['qwertyuiop12', 'too easy to guess'],
    ] as const) {
      const res = await admin.post('/admin/users', {
        email: 'weak@committee.example',
        role: 'viewer',
        password,
      });
      expect((await follow(admin, res)).body, password).toContain(said);
    }
    expect(await findUserByEmail(h.ctx.db, 'weak@committee.example')).toBeUndefined();
  });

  it('changes a role, disables and enables, resets a password', async () => {
    const id = await userId('wang.editor@committee.example');
    await admin.post(`/admin/users/${id}/role`, { role: 'viewer' });
    expect((await findUserByEmail(h.ctx.db, 'wang.editor@committee.example'))?.role).toBe('viewer');
    await admin.post(`/admin/users/${id}/disable`, {});
    expect((await findUserByEmail(h.ctx.db, 'wang.editor@committee.example'))?.disabled_at).toBeInstanceOf(
      Date,
    );
    await admin.post(`/admin/users/${id}/enable`, {});
    expect((await findUserByEmail(h.ctx.db, 'wang.editor@committee.example'))?.disabled_at).toBeNull();
    const reset = await admin.post(`/admin/users/${id}/password`, { password: 'a brand new password' });
    expect((await follow(admin, reset)).body).toContain(
      'Password reset; every session of that user has ended.',
    );
    const row = await findUserByEmail(h.ctx.db, 'wang.editor@committee.example');
    expect(await verifyPassword(row?.password_hash as string, 'a brand new password')).toBe(true);
  });

  it('refuses to demote or disable the last admin, and says why', async () => {
    const id = await userId(admin.email);
    const demote = await admin.post(`/admin/users/${id}/role`, { role: 'editor' });
    expect(demote.statusCode).toBe(303);
    const page = await follow(admin, demote);
    expect(page.body).toContain(
      'The last admin cannot be demoted or disabled: make another user an admin first.',
    );
    const disable = await admin.post(`/admin/users/${id}/disable`, {});
    expect((await follow(admin, disable)).body).toContain('The last admin cannot be demoted or disabled');
    expect((await findUserByEmail(h.ctx.db, admin.email))?.role).toBe('admin');

    await h.ctx.db.updateTable('users').set({ locale: 'zh-CN' }).where('email', '=', admin.email).execute();
    const zh = await follow(admin, await admin.post(`/admin/users/${id}/role`, { role: 'viewer' }));
    expect(zh.body).toContain('不能降级或停用最后一位管理员');
    await h.ctx.db.updateTable('users').set({ locale: 'en' }).where('email', '=', admin.email).execute();
  });

  it('lets any signed-in user change their own name and language', async () => {
    const res = await editor.post('/admin/users/me', { name: '李编辑', locale: 'en' });
    expect(res.statusCode).toBe(303);
    const row = await findUserByEmail(h.ctx.db, editor.email);
    expect(row).toMatchObject({ name: '李编辑', locale: 'en' });
    expect((await follow(editor, res)).body).toContain('My account');
    await editor.post('/admin/users/me', { name: '李编辑', locale: '' });
    expect((await findUserByEmail(h.ctx.db, editor.email))?.locale).toBeNull(); // follow the browser
    const zh = await h.web.inject({
      method: 'GET',
      url: '/admin/users/me',
      headers: { cookie: editor.cookie, 'accept-language': 'zh-CN,zh;q=0.9' },
    });
    expect(zh.body).toContain('我的账户');
  });

  it('changes the own password only with the current one, and keeps this browser signed in', async () => {
    const viewer = await h.signIn('viewer');
    await h.ctx.db.updateTable('users').set({ locale: 'en' }).where('email', '=', viewer.email).execute();
    const wrong = await viewer.post('/admin/users/me/password', {
      current: 'not my password',
      password: 'my new long password',
      confirm: 'my new long password',
    });
    expect((await follow(viewer, wrong)).body).toContain('The current password is not right.');
    const mismatch = await viewer.post('/admin/users/me/password', {
      current: PASSWORD,
      password: 'my new long password',
      confirm: 'something else entirely',
    });
    expect((await follow(viewer, mismatch)).body).toContain('The two new passwords differ.');
    let row = await findUserByEmail(h.ctx.db, viewer.email);
    expect(await verifyPassword(row?.password_hash as string, PASSWORD)).toBe(true);

    const ok = await viewer.post('/admin/users/me/password', {
      current: PASSWORD,
      password: 'my new long password',
      confirm: 'my new long password',
    });
    expect(ok.statusCode).toBe(303);
    row = await findUserByEmail(h.ctx.db, viewer.email);
    expect(await verifyPassword(row?.password_hash as string, 'my new long password')).toBe(true);
    // The old session ended with the old password; the new cookie works.
    expect((await viewer.get('/admin/users/me')).statusCode).toBe(303);
    const fresh = ok.cookies.find((c) => c.name === 'gz_session');
    expect(fresh).toBeDefined();
    const jar: Record<string, string> = {};
    for (const part of viewer.cookie.split('; ')) {
      const [k, ...v] = part.split('=');
      jar[k as string] = v.join('=');
    }
    jar.gz_session = fresh?.value as string;
    const page = await h.web.inject({
      method: 'GET',
      url: '/admin/users/me',
      headers: { cookie: cookieHeader(jar) },
    });
    expect(page.statusCode).toBe(200);
    expect(page.body).toContain(viewer.email);
  });

  it('limits guesses of the current password like sign-ins: the 11th in 15 minutes is refused', async () => {
    const viewer = await h.signIn('viewer');
    const codes: number[] = [];
    for (let i = 0; i < 11; i++) {
      const res = await viewer.post('/admin/users/me/password', {
        current: `guess number ${i}`,
        password: 'my new long password',
        confirm: 'my new long password',
      });
      codes.push(res.statusCode);
    }
    expect(codes.slice(0, 10)).toEqual(Array(10).fill(303));
    expect(codes[10]).toBe(429);
    // The right password is refused too while the limit holds: a guess that happens to be right counts.
    const right = await viewer.post('/admin/users/me/password', {
      current: PASSWORD,
      password: 'my new long password',
      confirm: 'my new long password',
    });
    expect(right.statusCode).toBe(429);
  });
});
