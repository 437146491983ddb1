import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { Readable } from 'node:stream';
import type { LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
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

const unescapeHtml = (s: string) => s.replace(/&#x3D;/g, '=').replace(/&amp;/g, '&');

describe('subscriber pages', () => {
  let h: WebHarness;
  let editor: Browser;
  let viewer: Browser;
  let admin: Browser;
  beforeAll(async () => {
    h = await startWebHarness();
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
  afterAll(async () => h?.close());

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

  it('imports a CSV upload and reports each bad row with its line number, in the editor’s language', async () => {
    const upload = () => {
      const body = multipart({ _csrf: editor.csrf }, { name: 'list.csv', content: readFileSync(FIXTURE) });
      return h.web.inject({
        method: 'POST',
        url: '/admin/subscribers/import',
        headers: { cookie: editor.cookie, ...body.headers },
        payload: body.payload,
      });
    };
    const res = await upload();
    expect(res.statusCode).toBe(200);
    const text = res.body.replace(/\s+/g, ' ');
    expect(text).toContain('Import report: list.csv');
    expect(text).toMatch(/Added<\/th><td>4</);
    expect(text).toMatch(/Rows with problems<\/th><td>5</);
    for (const [line, reason] of [
      [4, 'The email address has no @.'],
      [7, 'The email address contains a line break.'],
      [8, 'Language &quot;fr&quot; is not zh-CN or en.'],
      [9, 'No such sections: no-such-topic'],
      [10, 'The same address as on line 2.'],
    ] as const)
      expect(text).toContain(`<tr><td>${line}</td><td>${reason}</td></tr>`);
    expect((await getSubscriberByEmail(h.ctx.db, 'sun@example.com'))?.sectionKeys).toEqual(['industry-news']);

    await setLocale(editor, 'zh-CN');
    try {
      const zh = (await upload()).body.replace(/\s+/g, ' ');
      for (const [line, reason] of [
        [4, '邮箱地址缺少 @。'],
        [7, '邮箱地址中有换行。'],
        [8, '语言“fr”无效，应为 zh-CN 或 en。'],
        [9, '没有这些栏目：no-such-topic'],
        [10, '与第 2 行的地址重复。'],
      ] as const)
        expect(zh).toContain(`<tr><td>${line}</td><td>${reason}</td></tr>`);
    } finally {
      await setLocale(editor, 'en');
    }
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
  beforeAll(async () => {
    h = await startWebHarness({ IMPORT_MAX_ROWS: String(MAX_ROWS), IMPORT_MAX_BYTES: String(MAX_BYTES) });
    editor = await h.signIn('editor');
    await h.ctx.db.updateTable('users').set({ locale: 'en' }).where('email', '=', editor.email).execute();
    base = await h.serve();
  });
  afterAll(async () => h?.close());

  const upload = (content: string) => {
    const body = multipart({ _csrf: editor.csrf }, { name: 'big.csv', content });
    return fetch(`${base}/admin/subscribers/import`, {
      method: 'POST',
      headers: { cookie: editor.cookie, ...body.headers },
      body: body.payload,
      signal: AbortSignal.timeout(300_000),
    });
  };

  it('keeps answering /healthz while it reads 200,000 rows, imports the good ones and lists the bad by line', async () => {
    // One batch of good rows first, then bad rows only: those never reach the database, so once
    // the first batch is stored only the importer's own yielding lets other requests in.
    const lines = ['email,name,locale'];
    for (let i = 0; i < 200_000; i++)
      lines.push(
        i < 4000 && i % 4 === 0 ? `bulk${i}@example.com,读者${i},en` : `bulk${i}-at-example.com,x,en`,
      );
    let importDone = false;
    const importing = upload(`${lines.join('\n')}\n`).then(async (res) => {
      importDone = true;
      return { status: res.status, body: (await res.text()).replace(/\s+/g, ' ') };
    });
    // Polls /healthz over HTTP for as long as the import runs; each answer must come (bounded wait).
    let firstBatchStored = false;
    let answersAfterFirstBatch = 0;
    while (!importDone) {
      const res = await fetch(`${base}/healthz`, { signal: AbortSignal.timeout(30_000) });
      expect(res.status).toBe(200);
      await res.arrayBuffer();
      if (firstBatchStored && !importDone) answersAfterFirstBatch++;
      firstBatchStored ||= (await getSubscriberByEmail(h.ctx.db, 'bulk0@example.com')) !== undefined;
    }
    const done = await importing;
    // Without yielding, the rest of the file is read in one go after the first batch: no answer.
    expect(answersAfterFirstBatch).toBeGreaterThanOrEqual(3);
    expect(done.status).toBe(200);
    expect(done.body).toMatch(/Added<\/th><td>1000</);
    expect(done.body).toMatch(/Rows with problems<\/th><td>199000</);
    // Line 1 is the header, so row i is on line i + 2; the first bad row is i = 1.
    expect(done.body).toContain('<tr><td>3</td><td>The email address has no @.</td></tr>');
    expect(await getSubscriberByEmail(h.ctx.db, 'bulk3996@example.com')).toBeDefined();
  });

  it('refuses a file over the row or byte limit, naming the limit', async () => {
    const rows = ['email'];
    for (let i = 0; i <= MAX_ROWS; i++) rows.push(`r${i}`);
    const tooLong = await upload(`${rows.join('\n')}\n`);
    expect(tooLong.status).toBe(400);
    expect(await tooLong.text()).toContain(`more than ${MAX_ROWS} rows (IMPORT_MAX_ROWS)`);

    const tooBig = await upload(`email\n${'x'.repeat(MAX_BYTES)}\n`);
    expect(tooBig.status).toBe(413);
    expect(await tooBig.text()).toContain('8 MB at most, IMPORT_MAX_BYTES');
  });
});
