import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { buildAppServer } from '../../src/http/app.js';
import type { UserRole } from '../../src/db/schema.js';
import { createUser } from '../../src/accounts/users.js';
import { importIssueMarkdown } from '../../src/issues/import.js';
import { type Harness, startHarness } from '../http/support.js';
import { MODEL_DOCUMENT, SHARED_DIR } from '../support/shared.js';

/** The user's own model newsletter; guard tests that use it with sharedFixture(MODEL_DOCUMENT). */
const MODEL_DOCUMENT_PATH = path.join(SHARED_DIR, MODEL_DOCUMENT);

export const PASSWORD = 'correct horse battery staple';

export interface WebHarness extends Harness {
  /** The whole application server (subscriber pages, API, archive, tracking, editors' app). */
  web: FastifyInstance;
  /** Imports the committee's model document (../shared/reference) as a draft; returns its id. */
  importModel(): Promise<number>;
  /** Listens on a free loopback port (for a real browser); returns the base URL. */
  serve(): Promise<string>;
  /** Signs a user of that role in through the real form; returns what a browser would hold. */
  signIn(role: UserRole): Promise<Browser>;
}

export interface Browser {
  email: string;
  /** Cookie header with the session and CSRF cookies. */
  cookie: string;
  /** A CSRF token bound to this session, as the pages embed it. */
  csrf: string;
  get(url: string): Promise<LightMyRequestResponse>;
  /** A form post with the CSRF token (pass csrf: false to leave it out). */
  post(url: string, form: Record<string, string>, opts?: { csrf?: boolean }): Promise<LightMyRequestResponse>;
  json(
    method: string,
    url: string,
    body?: unknown,
    opts?: { csrf?: boolean },
  ): Promise<LightMyRequestResponse>;
}

/** Cookies a response set, as `name=value` pairs for the next request's Cookie header. */
export function cookiesOf(res: LightMyRequestResponse): Record<string, string> {
  const out: Record<string, string> = {};
  for (const c of res.cookies) out[c.name] = c.value;
  return out;
}

export function cookieHeader(jar: Record<string, string>): string {
  return Object.entries(jar)
    .map(([k, v]) => `${k}=${v}`)
    .join('; ');
}

export function csrfFrom(html: string): string {
  const m = html.match(/<meta name="csrf-token" content="([^"]+)"/);
  if (!m?.[1]) throw new Error('page has no csrf-token meta tag');
  return m[1];
}

export async function startWebHarness(env: Record<string, string> = {}): Promise<WebHarness> {
  const base = await startHarness(env);
  const web = await buildAppServer(base.ctx, base.sendMail);
  let n = 0;
  async function signIn(role: UserRole): Promise<Browser> {
    n += 1;
    const email = `${role}${n}@committee.example`;
    await createUser(base.ctx.db, { email, role, password: PASSWORD, name: `${role} ${n}` });
    const form = await web.inject({ method: 'GET', url: '/admin/sign-in' });
    const jar = cookiesOf(form);
    const res = await web.inject({
      method: 'POST',
      url: '/admin/sign-in',
      headers: { cookie: cookieHeader(jar) },
      payload: { email, password: PASSWORD, _csrf: csrfFrom(form.body) },
    });
    if (res.statusCode !== 303)
      throw new Error(`sign-in failed: ${res.statusCode} ${res.body.slice(0, 200)}`);
    Object.assign(jar, cookiesOf(res));
    // Tokens are bound to the session: ask for one now that it exists.
    const session = await web.inject({
      method: 'GET',
      url: '/admin/session',
      headers: { cookie: cookieHeader(jar) },
    });
    Object.assign(jar, cookiesOf(session));
    const csrf = (session.json() as { csrfToken: string }).csrfToken;
    const cookie = cookieHeader(jar);
    return {
      email,
      cookie,
      csrf,
      get: (url) => web.inject({ method: 'GET', url, headers: { cookie } }),
      post: (url, formBody, opts = {}) =>
        web.inject({
          method: 'POST',
          url,
          headers: { cookie },
          payload: opts.csrf === false ? formBody : { ...formBody, _csrf: csrf },
        }),
      json: (method, url, body, opts = {}) =>
        web.inject({
          method: method as 'POST',
          url,
          headers: { cookie, ...(opts.csrf === false ? {} : { 'x-csrf-token': csrf }) },
          ...(body === undefined ? {} : { payload: body as object }),
        }),
    };
  }
  return {
    ...base,
    web,
    signIn,
    serve: () => web.listen({ host: '127.0.0.1', port: 0 }),
    importModel: async () => {
      const deps = { db: base.ctx.db, log: base.ctx.log, env: base.env, now: base.ctx.now };
      // Tests import it once per case: each is its own issue for 2025-07.
      const text = readFileSync(MODEL_DOCUMENT_PATH, 'utf8');
      return (await importIssueMarkdown(deps, text, { actor: 'test', existing: 'new' })).id;
    },
    async close() {
      await web.close();
      await base.close();
    },
  };
}
