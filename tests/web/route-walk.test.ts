import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isMutating } from '../../src/http/auth/access.js';
import type { RouteAccess } from '../../src/http/auth/guard.js';
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
