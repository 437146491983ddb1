import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiKey } from '../../src/accounts/api-keys.js';
import { authorise, defaultAccess, needsCsrf } from '../../src/http/auth/access.js';
import { createUser, updateUser } from '../../src/accounts/users.js';
import { cookieHeader, cookiesOf, csrfFrom, PASSWORD, startWebHarness, type WebHarness } from './support.js';

describe('access rules (pure)', () => {
  const editor = {
    kind: 'user',
    sessionId: 's',
    user: { id: 1, email: 'e@x', name: null, role: 'editor' },
  } as const;
  const viewer = {
    kind: 'user',
    sessionId: 's',
    user: { id: 2, email: 'v@x', name: null, role: 'viewer' },
  } as const;
  const key = { kind: 'api-key', label: 'api-key:abc', role: 'editor' } as const;
  const viewerKey = { kind: 'api-key', label: 'api-key:reader', role: 'viewer' } as const;

  it('closes every undeclared mutating route behind an editor session', () => {
    expect(defaultAccess('POST', '/anything/new')).toEqual({ kind: 'session', role: 'editor' });
    expect(defaultAccess('DELETE', '/admin/x')).toEqual({ kind: 'session', role: 'editor' });
    expect(defaultAccess('GET', '/admin/x')).toEqual({ kind: 'session', role: 'viewer' });
    expect(defaultAccess('PATCH', '/api/issues/1')).toEqual({ kind: 'api', role: 'editor' });
    expect(defaultAccess('GET', '/archive')).toEqual({ kind: 'public', why: 'read-only page' });
  });

  it('ranks roles: viewer < editor < admin', () => {
    expect(authorise({ kind: 'session', role: 'editor' }, viewer)).toBe('forbidden');
    expect(authorise({ kind: 'session', role: 'viewer' }, editor)).toBe('allow');
    expect(authorise({ kind: 'session', role: 'admin' }, editor)).toBe('forbidden');
    expect(authorise({ kind: 'session', role: 'viewer' }, null)).toBe('unauthenticated');
  });

  it('admits API keys only where the route takes them, and never asks them for CSRF', () => {
    expect(authorise({ kind: 'api', role: 'editor' }, key)).toBe('allow');
    // A key holds a role, like a user: a viewer's key cannot do what a viewer cannot.
    expect(authorise({ kind: 'api', role: 'editor' }, viewerKey)).toBe('forbidden');
    expect(authorise({ kind: 'api', role: 'admin' }, key)).toBe('forbidden');
    expect(authorise({ kind: 'session', role: 'viewer' }, key)).toBe('unauthenticated');
    expect(needsCsrf({ kind: 'api', role: 'editor' }, 'POST', key)).toBe(false);
    expect(needsCsrf({ kind: 'api', role: 'editor' }, 'POST', editor)).toBe(true);
    expect(needsCsrf({ kind: 'api', role: 'editor' }, 'GET', editor)).toBe(false);
  });
});

describe('signing in to the editors’ app', () => {
  let h: WebHarness;
  beforeAll(async () => {
    // Behind a TLS-terminating proxy on loopback, which says the request came over HTTPS.
    h = await startWebHarness({ TRUST_PROXY: 'loopback' });
  });
  afterAll(async () => h?.close());

  it('stores passwords as argon2id hashes, never as given', async () => {
    await createUser(h.ctx.db, { email: 'hash@committee.example', role: 'viewer', password: PASSWORD });
    const row = await h.ctx.db
      .selectFrom('users')
      .select('password_hash')
      .where('email', '=', 'hash@committee.example')
      .executeTakeFirstOrThrow();
    expect(row.password_hash).toMatch(/^\$argon2id\$v=19\$m=19456,t=2,p=1\$/);
    expect(row.password_hash).not.toContain(PASSWORD);
  });

  it('sends a signed-out visitor of an admin page to the sign-in form and back afterwards', async () => {
    const res = await h.web.inject({ method: 'GET', url: '/admin/issues?x=1' });
    expect(res.statusCode).toBe(303);
    expect(res.headers.location).toBe(`/admin/sign-in?next=${encodeURIComponent('/admin/issues?x=1')}`);
  });

  it('refuses a wrong password with the same answer as an unknown address', async () => {
    await createUser(h.ctx.db, { email: 'known@committee.example', role: 'editor', password: PASSWORD });
    const form = await h.web.inject({
      method: 'GET',
      url: '/admin/sign-in',
      headers: { 'accept-language': 'en' },
    });
    const jar = cookiesOf(form);
    const attempt = (email: string, password: string) =>
      h.web.inject({
        method: 'POST',
        url: '/admin/sign-in',
        headers: { cookie: cookieHeader(jar), 'accept-language': 'en' },
        payload: { email, password, _csrf: csrfFrom(form.body) },
      });
    const wrong = await attempt('known@committee.example', 'not the password at all');
    const unknown = await attempt('nobody@committee.example', PASSWORD);
    expect(wrong.statusCode).toBe(401);
    expect(unknown.statusCode).toBe(401);
    expect(wrong.body).toContain('The address or the password is not right.');
    expect(unknown.body).toContain('The address or the password is not right.');
    expect(wrong.cookies.find((c) => c.name === 'gz_session')).toBeUndefined();
  });

  it('sets an HttpOnly, SameSite session cookie, Secure when the request came over HTTPS', async () => {
    await createUser(h.ctx.db, { email: 'cookie@committee.example', role: 'editor', password: PASSWORD });
    const form = await h.web.inject({ method: 'GET', url: '/admin/sign-in' });
    const res = await h.web.inject({
      method: 'POST',
      url: '/admin/sign-in',
      headers: { cookie: cookieHeader(cookiesOf(form)), 'x-forwarded-proto': 'https' },
      remoteAddress: '127.0.0.1',
      payload: {
        email: 'COOKIE@committee.example',
        password: PASSWORD,
        _csrf: csrfFrom(form.body),
        next: '/admin/inbox',
      },
    });
    expect(res.statusCode).toBe(303);
    expect(res.headers.location).toBe('/admin/inbox');
    const session = res.cookies.find((c) => c.name === 'gz_session');
    expect(session).toMatchObject({ httpOnly: true, sameSite: 'Lax', secure: true, path: '/' });
    const stored = await h.ctx.db.selectFrom('user_sessions').select('id').execute();
    expect(stored.map((s) => s.id)).not.toContain(session?.value); // only a hash is stored
  });

  it('refuses a sign-in form posted without its CSRF token', async () => {
    const res = await h.web.inject({
      method: 'POST',
      url: '/admin/sign-in',
      payload: { email: 'known@committee.example', password: PASSWORD },
    });
    expect(res.statusCode).toBe(403);
  });

  it('never redirects off the site after signing in', async () => {
    const { safeNext } = await import('../../src/http/admin/routes/session.js');
    expect(safeNext('https://evil.example/admin')).toBe('/admin');
    expect(safeNext('//evil.example')).toBe('/admin');
    expect(safeNext('/admin/issues/3')).toBe('/admin/issues/3');
  });

  it('rate-limits sign-in attempts for one address', async () => {
    const form = await h.web.inject({ method: 'GET', url: '/admin/sign-in' });
    const jar = cookieHeader(cookiesOf(form));
    const codes: number[] = [];
    for (let i = 0; i < 12; i++) {
      const res = await h.web.inject({
        method: 'POST',
        url: '/admin/sign-in',
        headers: { cookie: jar },
        remoteAddress: `10.0.0.${i + 1}`, // a different client each time: the per-address limit still holds
        payload: { email: 'target@committee.example', password: `guess ${i}`, _csrf: csrfFrom(form.body) },
      });
      codes.push(res.statusCode);
    }
    expect(codes.slice(0, 10).every((c) => c === 401)).toBe(true);
    expect(codes.slice(10)).toEqual([429, 429]);
  });

  it('lets the roles do what they hold and no more', async () => {
    const viewer = await h.signIn('viewer');
    const editor = await h.signIn('editor');
    // Issue editing JSON API: viewers read, editors write (with the session's CSRF token).
    expect((await viewer.json('GET', '/api/issues')).statusCode).toBe(200);
    expect((await viewer.json('POST', '/api/issues/import', { markdown: '# x' })).statusCode).toBe(403);
    const bad = await editor.json('POST', '/api/issues/import', { markdown: 'no title here' });
    expect([400, 422]).toContain(bad.statusCode); // admitted, then refused on its content
    expect(
      (await editor.json('POST', '/api/issues/import', { markdown: 'x' }, { csrf: false })).statusCode,
    ).toBe(403);
  });

  it('links every signed-in page header to the user’s own account page', async () => {
    const viewer = await h.signIn('viewer');
    const page = await viewer.get('/admin/issues');
    expect(page.statusCode).toBe(200);
    expect(page.body).toContain('<a href="/admin/users/me">');
    expect((await viewer.get('/admin/users/me')).statusCode).toBe(200);
  });

  it('still admits an API key on the JSON API, without cookies or CSRF', async () => {
    const { key } = await createApiKey(h.ctx.db, 'test');
    const res = await h.web.inject({ method: 'GET', url: '/api/issues', headers: { 'x-api-key': key } });
    expect(res.statusCode).toBe(200);
    const wrong = await h.web.inject({
      method: 'GET',
      url: '/api/issues',
      headers: { 'x-api-key': `${key}x` },
    });
    expect(wrong.statusCode).toBe(401);
  });

  it('ends the session on sign-out and when the account is disabled', async () => {
    const a = await h.signIn('editor');
    expect((await a.get('/admin/session')).statusCode).toBe(200);
    expect((await a.post('/admin/sign-out', {})).statusCode).toBe(303);
    expect((await a.get('/admin/session')).statusCode).toBe(303); // to the sign-in form
    const b = await h.signIn('editor');
    const user = await h.ctx.db
      .selectFrom('users')
      .select('id')
      .where('email', '=', b.email)
      .executeTakeFirstOrThrow();
    await updateUser(h.ctx.db, user.id, { disabled: true }, new Date());
    expect((await b.get('/admin/session')).statusCode).toBe(303);
  });

  it('sweeps expired sessions when someone signs in', async () => {
    const old = await createUser(h.ctx.db, {
      email: 'old@committee.example',
      role: 'viewer',
      password: PASSWORD,
    });
    await h.ctx.db
      .insertInto('user_sessions')
      .values({
        id: 'expired-session-hash',
        user_id: old.id,
        created_at: new Date('2025-01-01T00:00:00Z'),
        last_seen_at: new Date('2025-01-01T00:00:00Z'),
        expires_at: new Date('2025-01-08T00:00:00Z'),
      })
      .execute();
    await h.signIn('viewer');
    const left = await h.ctx.db
      .selectFrom('user_sessions')
      .select('id')
      .where('id', '=', 'expired-session-hash')
      .execute();
    expect(left).toEqual([]);
  });

  it('will not demote or disable the last admin', async () => {
    const admins = await h.ctx.db.selectFrom('users').select('id').where('role', '=', 'admin').execute();
    expect(admins).toEqual([]);
    const only = await createUser(h.ctx.db, {
      email: 'only-admin@committee.example',
      role: 'admin',
      password: PASSWORD,
    });
    await expect(updateUser(h.ctx.db, only.id, { role: 'editor' }, new Date())).rejects.toThrow(
      /last active admin/,
    );
    await expect(updateUser(h.ctx.db, only.id, { disabled: true }, new Date())).rejects.toThrow(
      /last active admin/,
    );
  });
});
