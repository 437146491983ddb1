import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { USER_ROLES, type UserRole } from '../../src/db/schema.js';
import { createApiKey } from '../../src/accounts/api-keys.js';
import { isMutating } from '../../src/http/auth/access.js';
import type { RouteAccess } from '../../src/http/auth/guard.js';
import { roleAllows } from '../../src/accounts/roles.js';
import { type Browser, startWebHarness, type WebHarness } from './support.js';

/**
 * The mutating routes anyone may call, each with what protects it instead of a session. A new
 * public mutating route fails this test until it is added here, on purpose and in review.
 */
const PUBLIC_MUTATIONS: Record<string, string> = {
  'POST /subscribe': 'double opt-in, rate-limited',
  'POST /api/v1/subscribe': 'double opt-in, rate-limited',
  'POST /confirm/:token': 'signed token',
  'POST /preferences/:token': 'signed token',
  'POST /unsubscribe/:token': 'signed token',
  'POST /u/:token': 'RFC 8058 one-click, signed token',
  'POST /webhooks/ses': 'SNS signature',
  'POST /webhooks/mailgun': 'Mailgun signature',
  'POST /admin/sign-in': 'sign-in form, CSRF token and rate limit',
  'POST /admin/locale': 'page language only, CSRF token',
};

/** A concrete URL for a route pattern: every parameter becomes 1, a wildcard a plain name. */
function concrete(url: string): string {
  return url.replace(/:[A-Za-z_]+(\([^)]*\))?/g, '1').replace(/\*$/, 'x');
}

describe('every mutating route refuses a request without a session or without a CSRF token', () => {
  let h: WebHarness;
  let admin: Browser;
  let routes: RouteAccess[];
  beforeAll(async () => {
    h = await startWebHarness();
    admin = await h.signIn('admin');
    routes = h.web.accessTable.filter((r) => isMutating(r.method));
  });
  afterAll(async () => h?.close());

  it('sees the whole server: the subscriber, editorial, tracking and web-app routes', () => {
    const keys = routes.map((r) => `${r.method} ${r.url}`);
    expect(keys).toEqual(
      expect.arrayContaining(['POST /api/issues/:id/schedule', 'POST /admin/sign-out', 'POST /u/:token']),
    );
    expect(routes.length).toBeGreaterThan(20);
  });

  it('opens no mutating route to the public except the reviewed list, each with its reason', () => {
    const open = routes.filter((r) => r.access.kind === 'public').map((r) => `${r.method} ${r.url}`);
    expect(open.sort()).toEqual(Object.keys(PUBLIC_MUTATIONS).sort());
    for (const r of routes) if (r.access.kind === 'public') expect(r.access.why.length).toBeGreaterThan(5);
  });

  it('answers 401 to each protected mutating route called without a session or API key', async () => {
    const wrong: string[] = [];
    for (const r of routes) {
      if (r.access.kind === 'public') continue;
      const res = await h.web.inject({ method: r.method as 'POST', url: concrete(r.url), payload: {} });
      if (res.statusCode !== 401) wrong.push(`${r.method} ${r.url} → ${res.statusCode}`);
    }
    expect(wrong).toEqual([]);
  });

  it('answers 403 to each protected mutating route called with an admin session but no CSRF token', async () => {
    const wrong: string[] = [];
    for (const r of routes) {
      if (r.access.kind === 'public') continue;
      const res = await admin.json(r.method, concrete(r.url), {}, { csrf: false });
      if (res.statusCode !== 403) wrong.push(`${r.method} ${r.url} → ${res.statusCode}`);
    }
    expect(wrong).toEqual([]);
  });

  it('answers 403 to the public forms that carry a CSRF token when it is missing', async () => {
    for (const url of ['/admin/sign-in', '/admin/locale']) {
      const res = await h.web.inject({ method: 'POST', url, payload: { email: 'a@b.c', locale: 'en' } });
      expect(res.statusCode, url).toBe(403);
    }
  });

  it('refuses a CSRF token from another session', async () => {
    const other = await h.signIn('admin');
    const res = await h.web.inject({
      method: 'POST',
      url: '/admin/sign-out',
      headers: { cookie: admin.cookie, 'x-csrf-token': other.csrf },
    });
    expect(res.statusCode).toBe(403);
  });
});

/**
 * What each role may do on /api/v1, the same as on the pages: viewers read one subscriber (the
 * detail page) but not the list in bulk or a person's data (the export, data.json: editors);
 * erasing is for admins. A new /api/v1 route fails this test until its role is written here.
 */
const API_V1_ROLES: Record<string, UserRole> = {
  'GET /api/v1/subscribers': 'editor',
  'POST /api/v1/subscribers': 'editor',
  'GET /api/v1/subscribers/:id': 'viewer',
  'PATCH /api/v1/subscribers/:id': 'editor',
  'DELETE /api/v1/subscribers/:id': 'admin',
  'GET /api/v1/subscribers/:id/data': 'editor',
  'GET /api/v1/suppressions': 'editor',
  'POST /api/v1/suppressions': 'editor',
  'DELETE /api/v1/suppressions': 'editor',
};

describe('the JSON API allows each role, by API key or session, what the pages allow it', () => {
  let h: WebHarness;
  let routes: RouteAccess[];
  const keys: Partial<Record<UserRole, string>> = {};
  const sessions: Partial<Record<UserRole, Browser>> = {};
  beforeAll(async () => {
    h = await startWebHarness();
    for (const role of USER_ROLES) {
      keys[role] = (await createApiKey(h.ctx.db, `walk-${role}`, role)).key;
      sessions[role] = await h.signIn(role);
    }
    routes = h.web.accessTable.filter(
      (r) => r.url.startsWith('/api/v1/') && r.method !== 'HEAD' && r.access.kind !== 'public',
    );
  });
  afterAll(async () => h?.close());

  it('gives every /api/v1 route the role written here', () => {
    const declared = Object.fromEntries(
      routes.map((r) => [`${r.method} ${r.url}`, r.access.kind === 'public' ? 'public' : r.access.role]),
    );
    expect(declared).toEqual(API_V1_ROLES);
  });

  it('answers 403 below the role and lets the role and those above it through', async () => {
    const wrong: string[] = [];
    for (const r of routes) {
      const needed = API_V1_ROLES[`${r.method} ${r.url}`] as UserRole;
      for (const role of USER_ROLES) {
        const allowed = roleAllows(role, needed);
        const byKey = await h.web.inject({
          method: r.method as 'GET',
          url: concrete(r.url),
          headers: { 'x-api-key': keys[role] as string },
          ...(isMutating(r.method) ? { payload: {} } : {}),
        });
        const bySession = await (sessions[role] as Browser).json(
          r.method,
          concrete(r.url),
          isMutating(r.method) ? {} : undefined,
        );
        for (const [how, res] of [
          ['key', byKey],
          ['session', bySession],
        ] as const) {
          const refused = res.statusCode === 401 || res.statusCode === 403;
          if (allowed === refused || (!allowed && res.statusCode !== 403))
            wrong.push(`${r.method} ${r.url} as ${role} (${how}) → ${res.statusCode}`);
        }
      }
    }
    expect(wrong).toEqual([]);
  });

  it('records the key by its name in the audit log, never a part of the key', async () => {
    const issue = await h.ctx.db
      .insertInto('issues')
      .values({ period: '2031-01', title: '月刊' })
      .returning('id')
      .executeTakeFirstOrThrow();
    const res = await h.web.inject({
      method: 'PATCH',
      url: `/api/issues/${issue.id}`,
      headers: { 'x-api-key': keys.editor as string },
      payload: { title: '月刊（改）' },
    });
    expect(res.statusCode).toBe(200);
    const actors = (await h.ctx.db.selectFrom('issue_audit').select('actor').execute()).map((a) => a.actor);
    expect(actors).toContain('api-key:walk-editor');
    expect(actors.join(' ')).not.toContain((keys.editor as string).slice(0, 8));
  });
});
