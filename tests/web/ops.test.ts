import { Queue } from 'bullmq';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiKey } from '../../src/accounts/api-keys.js';
import { QUEUES } from '../../src/queue/names.js';
import { stripExternalAssets } from '../../src/http/admin/pages/ops.js';
import { type Harness, startHarness } from '../http/support.js';
import { type Browser, startWebHarness, type WebHarness } from './support.js';

const METRICS_TOKEN = 'prometheus-scrape-token-0123456789';

/** Prometheus text format → "name{labels}" → value. */
function parseMetrics(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const at = line.lastIndexOf(' ');
    out.set(line.slice(0, at), Number(line.slice(at + 1)));
  }
  return out;
}

describe('operations: /readyz, /metrics, the queue dashboard and the ops page', () => {
  let h: WebHarness;
  let admin: Browser;
  let editor: Browser;
  const queues: Queue[] = [];
  beforeAll(async () => {
    h = await startWebHarness({ METRICS_TOKEN });
    admin = await h.signIn('admin');
    editor = await h.signIn('editor');
    await h.ctx.db.updateTable('users').set({ locale: 'en' }).where('email', '=', admin.email).execute();

    // The ledger: one issue, deliveries in several states with SMTP failure classes.
    const db = h.ctx.db;
    const issue = await db
      .insertInto('issues')
      .values({ period: '2025-07', title: 'July', state: 'sending' })
      .returning('id')
      .executeTakeFirstOrThrow();
    const rows: [string, string | null, number | null, Date | null][] = [
      ['accepted', null, 250, new Date()],
      ['accepted', null, 250, new Date()],
      ['accepted', null, 250, new Date(Date.now() - 3600_000)],
      ['deferred', 'temporary', 451, null],
      ['deferred', 'throttled', 421, null],
      ['failed', 'mailbox', 550, null],
      ['failed', 'mailbox', 550, null],
      ['failed', 'rejected', 554, null],
      ['unknown', 'connection_lost', null, null],
      ['queued', null, null, null],
    ];
    for (const [i, [state, errorClass, code, acceptedAt]] of rows.entries()) {
      const sub = await db
        .insertInto('subscribers')
        .values({
          email: `m${i}@metrics.example`,
          email_normalized: `m${i}@metrics.example`,
          status: 'active',
          consent_source: 'import',
        })
        .returning('id')
        .executeTakeFirstOrThrow();
      await db
        .insertInto('deliveries')
        .values({
          issue_id: issue.id,
          subscriber_id: sub.id,
          state: state as 'queued',
          error_class: errorClass,
          smtp_code: code,
          accepted_at: acceptedAt,
        })
        .execute();
    }
    await db
      .insertInto('sources')
      .values([
        { name: '网信办', url: 'https://feeds.example/cac.xml', status: 'failing', consecutive_failures: 4 },
        { name: 'EU', url: 'https://feeds.example/eu.xml' },
      ])
      .execute();

    // The queues, under this test's random prefix: 2 waiting send jobs, 1 delayed issue job.
    const send = new Queue(QUEUES.send, { connection: { url: h.env.REDIS_URL }, prefix: h.env.QUEUE_PREFIX });
    const issues = new Queue(QUEUES.issues, {
      connection: { url: h.env.REDIS_URL },
      prefix: h.env.QUEUE_PREFIX,
    });
    queues.push(send, issues);
    await send.add('batch', { issueId: issue.id, fromId: 1, toId: 5 });
    await send.add('batch', { issueId: issue.id, fromId: 6, toId: 10 });
    await issues.add('start', { issueId: issue.id, action: 'start' }, { delay: 3600_000 });
  });
  afterAll(async () => {
    for (const q of queues) {
      await q.obliterate({ force: true }).catch(() => undefined);
      await q.close();
    }
    await h?.close();
  });

  it('answers /readyz 200 when the database, its migrations and Redis are fine', async () => {
    const res = await h.web.inject({ method: 'GET', url: '/readyz' });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ ok: true, checks: { database: 'ok', migrations: 'current', redis: 'ok' } });
  });

  it('serves /metrics to the scrape token, an API key and an admin; not to others', async () => {
    expect((await h.web.inject({ method: 'GET', url: '/metrics' })).statusCode).toBe(401);
    const wrong = await h.web.inject({
      method: 'GET',
      url: '/metrics',
      headers: { authorization: 'Bearer not-the-token-at-all-000000' },
    });
    expect(wrong.statusCode).toBe(401);
    expect((await editor.get('/metrics')).statusCode).toBe(403);
    expect((await admin.get('/metrics')).statusCode).toBe(200);
    const { key } = await createApiKey(h.ctx.db, 'monitoring');
    expect(
      (await h.web.inject({ method: 'GET', url: '/metrics', headers: { 'x-api-key': key } })).statusCode,
    ).toBe(200);
  });

  it('reports queue depth, deliveries by state, the last minute, SMTP errors by class and failing feeds', async () => {
    const res = await h.web.inject({
      method: 'GET',
      url: '/metrics',
      headers: { authorization: `Bearer ${METRICS_TOKEN}` },
    });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
    const m = parseMetrics(res.body);
    expect(m.get('gazette_dependency_up{dependency="database"}')).toBe(1);
    expect(m.get('gazette_dependency_up{dependency="redis"}')).toBe(1);
    expect(m.get('gazette_queue_jobs{queue="send",state="waiting"}')).toBe(2);
    expect(m.get('gazette_queue_jobs{queue="issues",state="delayed"}')).toBe(1);
    expect(m.get('gazette_queue_jobs{queue="feeds",state="waiting"}')).toBe(0);
    expect(m.get('gazette_queue_paused{queue="send"}')).toBe(0);
    expect(m.get('gazette_deliveries{state="accepted"}')).toBe(3);
    expect(m.get('gazette_deliveries{state="failed"}')).toBe(3);
    expect(m.get('gazette_deliveries{state="deferred"}')).toBe(2);
    expect(m.get('gazette_deliveries{state="queued"}')).toBe(1);
    expect(m.get('gazette_deliveries{state="skipped"}')).toBe(0);
    expect(m.get('gazette_deliveries_accepted_last_minute')).toBe(2);
    expect(m.get('gazette_smtp_errors{class="mailbox",state="failed"}')).toBe(2);
    expect(m.get('gazette_smtp_errors{class="rejected",state="failed"}')).toBe(1);
    expect(m.get('gazette_smtp_errors{class="temporary",state="deferred"}')).toBe(1);
    expect(m.get('gazette_smtp_errors{class="throttled",state="deferred"}')).toBe(1);
    expect(m.get('gazette_smtp_errors{class="connection_lost",state="unknown"}')).toBe(1);
    expect(m.get('gazette_sources{kind="failing"}')).toBe(1);
    expect(m.get('gazette_sources{kind="total"}')).toBe(2);
    const failing = [...m.entries()].find(([k]) => k.startsWith('gazette_source_consecutive_failures{'));
    expect(failing?.[0]).toContain('source="网信办"');
    expect(failing?.[1]).toBe(4);
    expect(m.get('gazette_issues{state="sending"}')).toBe(1);
    expect(m.get('gazette_subscribers{status="active"}')).toBe(10);
    expect(res.body).toContain('# HELP gazette_smtp_errors ');
    expect(res.body).toContain('# TYPE gazette_queue_jobs gauge');
  });

  it('opens the queue dashboard to admins only, with no asset from outside', async () => {
    const signedOut = await h.web.inject({ method: 'GET', url: '/admin/queues' });
    expect(signedOut.statusCode).toBe(303);
    expect(signedOut.headers.location).toBe('/admin/sign-in?next=%2Fadmin%2Fqueues');
    // Its API is refused too: a signed-out GET under /admin goes to the sign-in form, a change gets 401.
    expect((await h.web.inject({ method: 'GET', url: '/admin/queues/api/queues' })).statusCode).toBe(303);
    expect(
      (await h.web.inject({ method: 'PUT', url: '/admin/queues/api/queues/send/pause' })).statusCode,
    ).toBe(401);
    expect((await editor.get('/admin/queues')).statusCode).toBe(403);
    expect((await editor.get('/admin/queues/api/queues')).statusCode).toBe(403);

    // Every route bull-board registered (pages, API, static files, HEAD twins) is admin-only.
    const board = h.web.accessTable.filter((r) => r.url.startsWith('/admin/queues'));
    expect(board.length).toBeGreaterThan(40);
    expect(board.filter((r) => r.access.kind !== 'session' || r.access.role !== 'admin')).toEqual([]);

    const page = await admin.get('/admin/queues');
    expect(page.statusCode).toBe(200);
    expect(page.body).toContain('<base href="/admin/queues/"');
    expect(page.body).not.toMatch(/https?:\/\/(?!www\.w3\.org)/);
    expect(page.headers['content-security-policy']).toContain("default-src 'self'");
    expect(
      stripExternalAssets(
        '<link href="https://fonts.googleapis.com/css2?x" rel="stylesheet"><link href="static/a.css" rel="stylesheet">',
      ),
    ).toBe('<link href="static/a.css" rel="stylesheet">');
    const asset = page.body.match(/src="(static\/js\/main[^"]+)"/)?.[1];
    expect((await admin.get(`/admin/queues/${asset}`)).statusCode).toBe(200);
    expect((await editor.get(`/admin/queues/${asset}`)).statusCode).toBe(403);

    const api = await admin.get('/admin/queues/api/queues');
    expect(api.statusCode).toBe(200);
    const names = (api.json() as { queues: { name: string }[] }).queues.map((q) => q.name).sort();
    expect(names).toEqual(['archive', 'feeds', 'issues', 'send']);
  });

  it("lets the dashboard's own requests change a queue with the session's token, and refuses them without", async () => {
    const page = await admin.get('/admin/queues');
    const xsrf = page.cookies.find((c) => c.name === 'XSRF-TOKEN');
    expect(xsrf).toMatchObject({ path: '/admin/queues', sameSite: 'Strict' });
    expect(xsrf?.httpOnly).toBeFalsy();
    const noToken = await h.web.inject({
      method: 'PUT',
      url: '/admin/queues/api/queues/send/pause',
      headers: { cookie: admin.cookie },
    });
    expect(noToken.statusCode).toBe(403);
    const byEditor = await h.web.inject({
      method: 'PUT',
      url: '/admin/queues/api/queues/send/pause',
      headers: { cookie: editor.cookie, 'x-xsrf-token': editor.csrf },
    });
    expect(byEditor.statusCode).toBe(403);
    const paused = await h.web.inject({
      method: 'PUT',
      url: '/admin/queues/api/queues/send/pause',
      headers: { cookie: admin.cookie, 'x-xsrf-token': xsrf?.value as string },
    });
    expect(paused.statusCode).toBe(200);
    expect(await queues[0]?.isPaused()).toBe(true);
    const m = parseMetrics((await admin.get('/metrics')).body);
    expect(m.get('gazette_queue_paused{queue="send"}')).toBe(1);
    await queues[0]?.resume();
  });

  it('shows the operations page with the queue counts to admins, in English and Chinese', async () => {
    expect((await editor.get('/admin/ops')).statusCode).toBe(403);
    const page = await admin.get('/admin/ops');
    expect(page.statusCode).toBe(200);
    const text = page.body.replace(/\s+/g, ' ');
    expect(text).toContain('href="/admin/queues"');
    expect(text).toMatch(/<th scope="row"><a href="\/admin\/queues\/queue\/send">send<\/a><\/th><td>2<\/td>/);
    expect(text).toContain('Accepted in the last minute: 2');
    expect(text).toMatch(/<code>mailbox<\/code><\/td><td>failed<\/td><td>2<\/td>/);
    expect(text).toContain('2 in all, 2 enabled, 1 failing.');
    await h.ctx.db.updateTable('users').set({ locale: 'zh-CN' }).where('email', '=', admin.email).execute();
    expect((await admin.get('/admin/ops')).body).toContain('最近一分钟被接收：2 封');
    await h.ctx.db.updateTable('users').set({ locale: 'en' }).where('email', '=', admin.email).execute();
  });
});

describe('/readyz when something is wrong', () => {
  let h: Harness;
  beforeAll(async () => {
    // Nothing listens on port 1.
    h = await startHarness({ REDIS_URL: 'redis://127.0.0.1:1' });
  });
  afterAll(async () => h?.close());

  it('answers 503 naming Redis when Redis does not answer, and the metrics say so', async () => {
    const res = await h.app.inject({ method: 'GET', url: '/readyz' });
    expect(res.statusCode).toBe(503);
    expect(res.json()).toEqual({
      ok: false,
      failed: ['redis'],
      checks: { database: 'ok', migrations: 'current', redis: 'unreachable' },
    });
    expect(res.body).not.toContain('127.0.0.1'); // the reason goes to the log, not to the public

    const { key } = await createApiKey(h.ctx.db, 'monitoring');
    const metrics = await h.app.inject({
      method: 'GET',
      url: '/metrics',
      headers: { authorization: `Bearer ${key}` },
    });
    expect(metrics.statusCode).toBe(200);
    const m = parseMetrics(metrics.body);
    expect(m.get('gazette_dependency_up{dependency="redis"}')).toBe(0);
    expect(m.get('gazette_dependency_up{dependency="database"}')).toBe(1);
    expect(m.get('gazette_deliveries{state="accepted"}')).toBe(0);
    expect([...m.keys()].some((k) => k.startsWith('gazette_queue_jobs'))).toBe(false);
  });

  it('names the migrations when the schema is behind this build', async () => {
    await sql`DELETE FROM kysely_migration WHERE name = '0010_subscriber_lookups'`.execute(h.ctx.db);
    const res = await h.app.inject({ method: 'GET', url: '/readyz' });
    expect(res.statusCode).toBe(503);
    expect(res.json()).toMatchObject({ failed: ['migrations', 'redis'], checks: { migrations: 'pending' } });
  });
});
