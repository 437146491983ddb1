import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { Readable } from 'node:stream';
import type { LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/log.js';
import {
  addSubscriber,
  countSubscribers,
  getSubscriber,
  getSubscriberByEmail,
  importSubscribersCsv,
  listSubscribers,
  subscriberHistory,
  suppress,
  unsuppress,
} from '../../subscribers/api.js';
import { createImportWorker } from '../../workers/imports.js';
import { waitFor } from '../support/wait.js';
import { type Browser, startWebHarness, type WebHarness } from './support.js';

const FIXTURE = resolve(import.meta.dirname, '../fixtures/subscribers/with-bad-rows.csv');

/** A multipart/form-data body as a browser sends it for the import form. */
function multipart(fields: Record<string, string>, file?: { name: string; content: string | Buffer }) {
  const boundary = '----gazette-test-boundary';
  const parts: (string | Buffer)[] = [];
  for (const [k, v] of Object.entries(fields))
    parts.push(`--${boundary}\r\nContent-Disposition: form-data; name="${k}"\r\n\r\n${v}\r\n`);
  if (file)
    parts.push(
      `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="${file.name}"\r\nContent-Type: text/csv\r\n\r\n`,
      file.content,
      '\r\n',
    );
  parts.push(`--${boundary}--\r\n`);
  return {
    payload: Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p) : p))),
    headers: { 'content-type': `multipart/form-data; boundary=${boundary}` },
  };
}

/** The import worker in this process, on the harness's database and queue prefix. */
const startImportWorker = (h: WebHarness) =>
  createImportWorker({
    db: h.ctx.db,
    log: silentLogger,
    now: () => new Date(),
    connection: { url: h.env.REDIS_URL, prefix: h.env.QUEUE_PREFIX },
  });

const unescapeHtml = (s: string) => s.replace(/&#x3D;/g, '=').replace(/&amp;/g, '&');

describe('subscriber pages', () => {
  let h: WebHarness;
  let editor: Browser;
  let viewer: Browser;
  let admin: Browser;
  let worker: ReturnType<typeof createImportWorker>;
  beforeAll(async () => {
    h = await startWebHarness();
    worker = startImportWorker(h);
    [editor, viewer, admin] = [await h.signIn('editor'), await h.signIn('viewer'), await h.signIn('admin')];
    const db = h.ctx.db;
    await addSubscriber(db, { email: 'zhang.lawyer@firm.example', name: '张律师', consentSource: 'import' });
    await addSubscriber(db, {
      email: 'li@firm.example',
      name: 'Li Counsel',
      locale: 'en',
      sectionKeys: ['case-studies'],
      consentSource: 'import',
    });
    await addSubscriber(db, {
      email: 'wang@firm.example',
      name: '王',
      sectionKeys: ['industry-news'],
      status: 'pending',
      consentSource: 'form',
    });
  });
  afterAll(async () => {
    await worker?.close();
    await h?.close();
  });

  /** Follows a post/redirect/get answer as a browser would, with the flash cookie it set. */
  const follow = (b: Browser, res: LightMyRequestResponse) =>
    h.web.inject({
      method: 'GET',
      url: res.headers.location as string,
      headers: {
        cookie: [b.cookie, ...res.cookies.map((c) => `${c.name}=${encodeURIComponent(c.value)}`)].join('; '),
      },
    });

  const setLocale = (b: Browser, locale: 'en' | 'zh-CN') =>
    h.ctx.db.updateTable('users').set({ locale }).where('email', '=', b.email).execute();

  it('searches by address, name, status and section (stage filter and page)', async () => {
    const db = h.ctx.db;
    expect((await listSubscribers(db, { search: '张' })).map((s) => s.email)).toEqual([
      'zhang.lawyer@firm.example',
    ]);
    // Every-section subscribers receive case studies too.
    expect((await listSubscribers(db, { section: 'case-studies' })).map((s) => s.email).sort()).toEqual([
      'li@firm.example',
      'zhang.lawyer@firm.example',
    ]);
    expect(await countSubscribers(db, { section: 'industry-news', status: 'pending' })).toBe(1);

    await setLocale(viewer, 'zh-CN');
    const byName = await viewer.get('/admin/subscribers?q=Counsel');
    expect(byName.statusCode).toBe(200);
    expect(byName.body).toContain('li@firm.example');
    expect(byName.body).not.toContain('zhang.lawyer@firm.example');
    expect(byName.body).toContain('共 1 位订阅者符合条件。');

    const pending = await viewer.get('/admin/subscribers?status=pending');
    expect(pending.body).toContain('wang@firm.example');
    expect(pending.body).not.toContain('li@firm.example');

    const section = await viewer.get('/admin/subscribers?section=industry-news');
    expect(section.body).toContain('wang@firm.example');
    expect(section.body).toContain('zhang.lawyer@firm.example');
    expect(section.body).not.toContain('li@firm.example');

    // A viewer sees no forms that change anything.
    expect(section.body).not.toContain('action="/admin/subscribers/import"');
  });

  it('pages through a long list with a next-page link', async () => {
    const rows = Array.from({ length: 55 }, (_, i) => `bulk${String(i).padStart(2, '0')}@many.example`);
    await importSubscribersCsv(h.ctx.db, Readable.from([`email\n${rows.join('\n')}\n`]));
    const first = await viewer.get('/admin/subscribers?q=many.example');
    expect(first.body).toContain('bulk00@many.example');
    expect(first.body).not.toContain('bulk54@many.example');
    const next = unescapeHtml(first.body.match(/href="([^"]+)" rel="next"/)?.[1] ?? '');
    expect(next).toMatch(/after=[\w-]+/);
    const second = await viewer.get(next as string);
    expect(second.body).toContain('bulk54@many.example');
    expect(second.body).not.toContain('bulk00@many.example');
    expect(second.body).not.toContain('rel="next"');
  });

  it('adds a subscriber from the form, with sections, and refuses a duplicate with a message', async () => {
    await setLocale(editor, 'en');
    const res = await editor.post('/admin/subscribers', {
      email: 'New.Person@Firm.example',
      name: '新订阅者',
      locale: 'en',
      sections: ['domestic-regulation', 'case-studies'] as unknown as string,
    });
    expect(res.statusCode).toBe(303);
    const sub = await getSubscriberByEmail(h.ctx.db, 'new.person@firm.example');
    expect(sub).toMatchObject({ name: '新订阅者', locale: 'en', status: 'active', consent_source: 'editor' });
    expect(sub?.sectionKeys.sort()).toEqual(['case-studies', 'domestic-regulation']);
    expect(res.headers.location).toBe(`/admin/subscribers/${sub?.id}`);
    expect((await follow(editor, res)).body).toContain('Subscriber added.');

    const again = await editor.post('/admin/subscribers', { email: 'new.person@firm.example', all: '1' });
    expect(again.headers.location).toBe('/admin/subscribers');
    expect((await follow(editor, again)).body).toContain('A subscriber with this address already exists.');
  });

  it('refuses changes from a viewer', async () => {
    const res = await viewer.post('/admin/subscribers', { email: 'viewer-add@firm.example', all: '1' });
    expect(res.statusCode).toBe(403);
    expect(await getSubscriberByEmail(h.ctx.db, 'viewer-add@firm.example')).toBeUndefined();
  });

  it('edits name, language and sections', async () => {
    const sub = await getSubscriberByEmail(h.ctx.db, 'zhang.lawyer@firm.example');
    const res = await editor.post(`/admin/subscribers/${sub?.id}`, {
      name: '张大律师',
      locale: 'en',
      sections: 'foreign-regulation',
    });
    expect(res.statusCode).toBe(303);
    const after = await getSubscriber(h.ctx.db, sub?.id as number);
    expect(after).toMatchObject({ name: '张大律师', locale: 'en', all_sections: false });
    expect(after?.sectionKeys).toEqual(['foreign-regulation']);
    await editor.post(`/admin/subscribers/${sub?.id}`, { name: '张大律师', locale: 'en', all: '1' });
    expect((await getSubscriber(h.ctx.db, sub?.id as number))?.all_sections).toBe(true);
  });

  it('suppresses and unsuppresses an address', async () => {
    const sub = await getSubscriberByEmail(h.ctx.db, 'li@firm.example');
    const res = await editor.post(`/admin/subscribers/${sub?.id}/suppress`, { note: 'asked by phone' });
    expect(res.statusCode).toBe(303);
    const rows = await h.ctx.db
      .selectFrom('suppressions')
      .selectAll()
      .where('value', '=', 'li@firm.example')
      .execute();
    expect(rows).toMatchObject([{ kind: 'address', reason: 'manual', note: 'asked by phone' }]);
    const page = await follow(editor, res);
    expect(page.body).toContain('This address is on the suppression list');
    expect(page.body).toContain('The address is suppressed.');

    await editor.post(`/admin/subscribers/${sub?.id}/unsuppress`, {});
    expect(
      await h.ctx.db.selectFrom('suppressions').selectAll().where('value', '=', 'li@firm.example').execute(),
    ).toEqual([]);
    const audit = await h.ctx.db
      .selectFrom('suppression_audit')
      .selectAll()
      .where('value', '=', 'li@firm.example')
      .execute();
    expect(audit).toMatchObject([
      { action: 'lift', reason: 'manual', actor: expect.stringMatching(/^user:/) },
    ]);
  });

  it("shows why a bounce suppressed an address, with the report's words", async () => {
    const sub = await getSubscriberByEmail(h.ctx.db, 'li@firm.example');
    await suppress(h.ctx.db, {
      kind: 'address',
      value: 'li@firm.example',
      reason: 'soft_bounce',
      bounceReason: 'mailbox_full',
      evidence: { channel: 'dsn', status: '5.2.2', diagnostic: '552 5.2.2 Mailbox full' },
    });
    const page = await editor.get(`/admin/subscribers/${sub?.id}`);
    expect(page.body).toContain('Why: soft bounces over several issues in a row · mailbox full');
    expect(page.body).toContain('The report said: 5.2.2 · 552 5.2.2 Mailbox full');
    await unsuppress(h.ctx.db, { kind: 'address', value: 'li@firm.example', actor: 'test' });
  });

  it("shows one subscriber's deliveries and events", async () => {
    const db = h.ctx.db;
    const sub = await getSubscriberByEmail(db, 'wang@firm.example');
    const issue = await db
      .insertInto('issues')
      .values({ period: '2025-07', title: '数字科技与人工智能简报', state: 'sent' })
      .returning('id')
      .executeTakeFirstOrThrow();
    const delivery = await db
      .insertInto('deliveries')
      .values({
        issue_id: issue.id,
        subscriber_id: sub?.id as number,
        state: 'failed',
        attempts: 2,
        smtp_code: 550,
        error_class: 'mailbox',
      })
      .returning('id')
      .executeTakeFirstOrThrow();
    const link = await db
      .insertInto('issue_links')
      .values({ issue_id: issue.id, url: 'https://www.cac.gov.cn/rule' })
      .returning('id')
      .executeTakeFirstOrThrow();
    await db
      .insertInto('events')
      .values({
        type: 'click',
        delivery_id: delivery.id,
        issue_id: issue.id,
        subscriber_id: sub?.id as number,
        link_id: link.id,
      })
      .execute();
    const history = await subscriberHistory(db, sub?.id as number);
    expect(history.deliveries).toMatchObject([
      { issueTitle: '数字科技与人工智能简报', state: 'failed', smtpCode: 550 },
    ]);
    expect(history.events).toMatchObject([{ type: 'click', url: 'https://www.cac.gov.cn/rule' }]);

    await setLocale(viewer, 'zh-CN');
    const zh = await viewer.get(`/admin/subscribers/${sub?.id}`);
    expect(zh.body).toContain('收件记录');
    expect(zh.body).toContain('2025-07 数字科技与人工智能简报');
    expect(zh.body).toContain('550 · mailbox');
    expect(zh.body).toContain('https://www.cac.gov.cn/rule');
    expect(zh.body).toContain('点击');
    await setLocale(viewer, 'en');
    const en = await viewer.get(`/admin/subscribers/${sub?.id}`);
    expect(en.body).toContain('Deliveries');
    expect(en.body).toContain('Failed');
    expect(en.body).toContain('Click');
    // No erase button for a viewer (nor an editor); the server refuses them anyway.
    expect(en.body).not.toContain('/erase');
  });

  it('imports a CSV upload through the import job and reports each bad row with its line, cell and reason, in the editor’s language', async () => {
    const upload = async () => {
      const body = multipart({ _csrf: editor.csrf }, { name: 'list.csv', content: readFileSync(FIXTURE) });
      const res = await h.web.inject({
        method: 'POST',
        url: '/admin/subscribers/import',
        headers: { cookie: editor.cookie, ...body.headers },
        payload: body.payload,
      });
      // The upload is stored and queued; the answer is the import's own page, which follows the job.
      expect(res.statusCode).toBe(303);
      const page = res.headers.location as string;
      expect(page).toMatch(/^\/admin\/subscribers\/imports\/\d+$/);
      await waitFor('the import job to finish', async () => {
        const status = await editor.get(`${page}/status`);
        return status.body.includes('data-import-state="done"');
      });
      return (await editor.get(page)).body.replace(/\s+/g, ' ');
    };
    const text = await upload();
    expect(text).toContain('Import report: list.csv');
    expect(text).toMatch(/Added<\/th><td>4</);
    expect(text).toMatch(/Rows with problems<\/th><td>5</);
    for (const [line, value, reason] of [
      [4, 'not-an-address', 'The email address has no @.'],
      [7, 'evil@example.com Bcc: all@example.com', 'The email address contains a line break.'],
      [8, 'zhao@example.com', 'Language &quot;fr&quot; is not zh-CN or en.'],
      [9, 'qian@example.com', 'No such sections: no-such-topic'],
      [10, 'ZHANG@Example.com', 'The same address as on line 2.'],
    ] as const)
      expect(text).toContain(`<tr><td>${line}</td><td>${value}</td><td>${reason}</td></tr>`);
    expect((await getSubscriberByEmail(h.ctx.db, 'sun@example.com'))?.sectionKeys).toEqual(['industry-news']);
    // The finished report no longer polls.
    expect(text).not.toContain('data-poll=');

    await setLocale(editor, 'zh-CN');
    try {
      const zh = await upload();
      // The same file again: everyone it added is updated, nobody added twice.
      expect(zh).toMatch(/更新<\/th><td>4</);
      for (const [line, reason] of [
        [4, '邮箱地址缺少 @。'],
        [7, '邮箱地址中有换行。'],
        [8, '语言“fr”无效，应为 zh-CN 或 en。'],
        [9, '没有这些栏目：no-such-topic'],
        [10, '与第 2 行的地址重复。'],
      ] as const)
        expect(zh).toMatch(new RegExp(`<tr><td>${line}</td><td>[^<]*</td><td>${reason}</td></tr>`));
    } finally {
      await setLocale(editor, 'en');
    }
    // The list page links the latest imports.
    const list = await editor.get('/admin/subscribers');
    expect(list.body).toContain('Recent imports');
    expect(list.body).toMatch(/href="\/admin\/subscribers\/imports\/\d+">list\.csv<\/a>/);
  });

  it('offers the refused rows as a CSV download whose cells a spreadsheet cannot run', async () => {
    const content = 'email,name\n=1+2@example.com,x\nok@example.com,ok\n';
    const body = multipart({ _csrf: editor.csrf }, { name: 'formula.csv', content });
    const res = await h.web.inject({
      method: 'POST',
      url: '/admin/subscribers/import',
      headers: { cookie: editor.cookie, ...body.headers },
      payload: body.payload,
    });
    const page = res.headers.location as string;
    await waitFor('the import to finish', async () =>
      (await editor.get(`${page}/status`)).body.includes('data-import-state="done"'),
    );
    const csv = await editor.get(`${page}/refused.csv`);
    expect(csv.statusCode).toBe(200);
    expect(csv.headers['content-type']).toBe('text/csv; charset=utf-8');
    expect(csv.headers['content-disposition']).toMatch(/^attachment; filename="import-\d+-refused\.csv"$/);
    const { parse } = await import('csv-parse/sync');
    const rows = parse(csv.body.replace(/^\ufeff/, ''), { columns: true }) as Record<string, string>[];
    expect(rows).toEqual([
      {
        Line: '2',
        'Email as given': "'=1+2@example.com",
        Reason: 'An address cannot start with =, + or - (a spreadsheet would run it as a formula).',
      },
    ]);
    // Imports are an editor's: a viewer reads neither the report nor the download.
    expect((await viewer.get(page)).statusCode).toBe(403);
    expect((await viewer.get(`${page}/refused.csv`)).statusCode).toBe(403);
  });

  it('refuses an upload without its CSRF token, and says so when no file was chosen', async () => {
    const forged = multipart({}, { name: 'x.csv', content: 'email\nforged@example.com\n' });
    const res = await h.web.inject({
      method: 'POST',
      url: '/admin/subscribers/import',
      headers: { cookie: editor.cookie, ...forged.headers },
      payload: forged.payload,
    });
    expect(res.statusCode).toBe(403);
    expect(await getSubscriberByEmail(h.ctx.db, 'forged@example.com')).toBeUndefined();

    const empty = multipart({ _csrf: editor.csrf });
    const none = await h.web.inject({
      method: 'POST',
      url: '/admin/subscribers/import',
      headers: { cookie: editor.cookie, ...empty.headers },
      payload: empty.payload,
    });
    expect(none.statusCode).toBe(400);
    expect(none.body).toContain('Choose a CSV file.');
  });

  it('exports the list as a CSV download, to editors only', async () => {
    const res = await editor.get('/admin/subscribers/export.csv');
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toBe('text/csv; charset=utf-8');
    expect(res.headers['content-disposition']).toMatch(
      /^attachment; filename="subscribers-\d{4}-\d{2}-\d{2}\.csv"$/,
    );
    expect(res.body.startsWith('\ufeffemail,name,locale,topics,status\n')).toBe(true);
    expect(res.body).toContain('wang@firm.example,王,zh-CN,industry-news,pending');
    const lines = res.body.trim().split('\n');
    expect(lines.length - 1).toBe(await countSubscribers(h.ctx.db));

    const pending = await editor.get('/admin/subscribers/export.csv?status=pending');
    expect(pending.body.trim().split('\n')).toHaveLength(2);
    expect((await viewer.get('/admin/subscribers/export.csv')).statusCode).toBe(403);
  });

  it('erases a subscriber for an admin only', async () => {
    const sub = await getSubscriberByEmail(h.ctx.db, 'wang@firm.example');
    const refused = await editor.post(`/admin/subscribers/${sub?.id}/erase`, {});
    expect(refused.statusCode).toBe(403);
    expect(await getSubscriber(h.ctx.db, sub?.id as number)).toBeDefined();
    const res = await admin.post(`/admin/subscribers/${sub?.id}/erase`, {});
    expect(res.statusCode).toBe(303);
    expect(await getSubscriber(h.ctx.db, sub?.id as number)).toBeUndefined();
    expect(
      await h.ctx.db
        .selectFrom('deliveries')
        .selectAll()
        .where('subscriber_id', '=', sub?.id as number)
        .execute(),
    ).toEqual([]);
    expect((await admin.get(`/admin/subscribers/${sub?.id}`)).statusCode).toBe(404);
  });
});

describe('a large subscriber import', () => {
  const MAX_ROWS = 250_000;
  const MAX_BYTES = 8 * 1024 * 1024;
  let h: WebHarness;
  let editor: Browser;
  let base: string;
  let worker: ReturnType<typeof createImportWorker>;
  beforeAll(async () => {
    h = await startWebHarness({ IMPORT_MAX_ROWS: String(MAX_ROWS), IMPORT_MAX_BYTES: String(MAX_BYTES) });
    worker = startImportWorker(h);
    await worker.ready;
    editor = await h.signIn('editor');
    await h.ctx.db.updateTable('users').set({ locale: 'en' }).where('email', '=', editor.email).execute();
    base = await h.serve();
  });
  afterAll(async () => {
    await worker?.close();
    await h?.close();
  });

  const upload = (content: string) => {
    const body = multipart({ _csrf: editor.csrf }, { name: 'big.csv', content });
    return fetch(`${base}/admin/subscribers/import`, {
      method: 'POST',
      headers: { cookie: editor.cookie, ...body.headers },
      body: body.payload,
      redirect: 'manual',
      signal: AbortSignal.timeout(60_000),
    });
  };
  const get = async (path: string) => {
    const res = await fetch(`${base}${path}`, {
      headers: { cookie: editor.cookie },
      signal: AbortSignal.timeout(30_000),
    });
    return { status: res.status, body: (await res.text()).replace(/\s+/g, ' ') };
  };
  const importCount = async () =>
    Number(
      (
        await h.ctx.db
          .selectFrom('subscriber_imports')
          .select((eb) => eb.fn.countAll<string>().as('n'))
          .executeTakeFirstOrThrow()
      ).n,
    );

  it('runs 200,000 rows as a job: the upload answers at once, the page shows progress, /healthz keeps answering', async () => {
    const lines = ['email,name,locale'];
    for (let i = 0; i < 200_000; i++)
      lines.push(
        i < 4000 && i % 4 === 0 ? `bulk${i}@example.com,读者${i},en` : `bulk${i}-at-example.com,x,en`,
      );
    const res = await upload(`${lines.join('\n')}\n`);
    expect(res.status).toBe(303);
    const page = res.headers.get('location') as string;
    // The page polls its status fragment while the import is queued or running.
    const first = await get(page);
    expect(first.body).toContain(`data-poll="${page}/status"`);

    // Follows the job through the status fragment, as the page's script does, and asks /healthz
    // between polls: each must answer (a bounded wait), however far the import has got.
    const seen: { state: string; percent: number }[] = [];
    for (;;) {
      const health = await fetch(`${base}/healthz`, { signal: AbortSignal.timeout(30_000) });
      expect(health.status).toBe(200);
      await health.arrayBuffer();
      const status = await get(`${page}/status`);
      expect(status.status).toBe(200);
      // A fragment: the section alone, without the layout.
      expect(status.body.trim().startsWith('<section id="import-status"')).toBe(true);
      const state = status.body.match(/data-import-state="(\w+)"/)?.[1] ?? '';
      const percent = Number(status.body.match(/<progress max="100" value="([\d.]+)"/)?.[1] ?? -1);
      seen.push({ state, percent });
      if (state === 'done' || state === 'failed') break;
    }
    // Progress was visible part-way: a running import with some but not all of the file read.
    expect(seen.some((s) => s.state === 'running' && s.percent > 0 && s.percent < 100)).toBe(true);
    expect(seen.at(-1)?.state).toBe('done');

    const done = await get(page);
    expect(done.body).toMatch(/Rows read<\/th><td>200000</);
    expect(done.body).toMatch(/Added<\/th><td>1000</);
    expect(done.body).toMatch(/Rows with problems<\/th><td>199000</);
    // Line 1 is the header, so row i is on line i + 2; the first bad row is i = 1.
    expect(done.body).toContain(
      '<tr><td>3</td><td>bulk1-at-example.com</td><td>The email address has no @.</td></tr>',
    );
    expect(done.body).toContain('The report keeps the first 10000 refused rows; the rest are counted.');
    expect(await getSubscriberByEmail(h.ctx.db, 'bulk3996@example.com')).toBeDefined();
    const refused = await fetch(`${base}${page}/refused.csv`, { headers: { cookie: editor.cookie } });
    const csvLines = (await refused.text()).trim().split('\n');
    expect(csvLines).toHaveLength(1 + 10_000);
    expect(csvLines[1]).toBe('3,bulk1-at-example.com,The email address has no @.');
  }, 180_000);

  it('refuses a file over the byte limit before storing anything, and stops one over the row limit with its reason', async () => {
    const before = await importCount();
    const tooBig = await upload(`email\n${'x'.repeat(MAX_BYTES)}\n`);
    expect(tooBig.status).toBe(413);
    expect(await tooBig.text()).toContain('8 MB at most, IMPORT_MAX_BYTES');
    // Far past the limit: refused as the body passes the limit, nothing of it kept.
    const wayTooBig = await upload(`email\n${'x'.repeat(2 * MAX_BYTES)}\n`);
    expect(wayTooBig.status).toBe(413);
    expect(await importCount()).toBe(before);

    const rows = ['email'];
    // Every thousandth row good, so what was imported before the limit shows.
    for (let i = 0; i <= MAX_ROWS; i++) rows.push(i % 1000 === 0 ? `r${i}@example.com` : `r${i}`);
    const tooLong = await upload(`${rows.join('\n')}\n`);
    expect(tooLong.status).toBe(303);
    const page = tooLong.headers.get('location') as string;
    const stopped = await waitFor(
      'the import to stop',
      async () => {
        const status = await get(`${page}/status`);
        return status.body.includes('data-import-state="failed"') ? status.body : null;
      },
      { timeoutMs: 120_000 },
    );
    expect(stopped).toContain(
      `The import stopped: The file has more than ${MAX_ROWS} rows (IMPORT_MAX_ROWS); the rows before line ${MAX_ROWS + 2} were imported.`,
    );
    expect(stopped).toMatch(new RegExp(`Added</th><td>${MAX_ROWS / 1000}<`));
    expect(await getSubscriberByEmail(h.ctx.db, `r${MAX_ROWS - 1000}@example.com`)).toBeDefined();
    expect(await getSubscriberByEmail(h.ctx.db, `r${MAX_ROWS}@example.com`)).toBeUndefined();
  }, 240_000);
});
