import * as cheerio from 'cheerio';
import { parse } from 'csv-parse/sync';
import type { LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addSubscriber, getSubscriberByEmail, isSuppressed, listBulkActions } from '../../subscribers/api.js';
import { type Browser, startWebHarness, type WebHarness } from './support.js';

let h: WebHarness;
let editor: Browser;
let viewer: Browser;
const id: Record<string, number> = {};

beforeAll(async () => {
  h = await startWebHarness();
  [editor, viewer] = [await h.signIn('editor'), await h.signIn('viewer')];
  for (const [i, [email, name]] of [
    ['b@firm.example', 'Bo'],
    ['a@firm.example', 'Zed'],
    ['c@firm.example', 'Al'],
    ['d@other.example', '=cmd|calc'],
  ].entries()) {
    const sub = await addSubscriber(
      h.ctx.db,
      { email: email as string, name: name as string, consentSource: 'import' },
      { now: new Date(Date.UTC(2025, 0, 1 + i)) },
    );
    id[email as string] = sub.id;
  }
  await h.ctx.db.updateTable('users').set({ locale: 'en' }).execute();
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
const emailsOn = (html: string) =>
  cheerio
    .load(html)('table.subscribers tbody td a')
    .map((_, el) => cheerio.load(el).text())
    .get();

describe('the subscriber list page', () => {
  it('sorts by a column, says so to assistive technology, and the header link turns the order round', async () => {
    const byEmail = await viewer.get('/admin/subscribers?sort=email');
    expect(emailsOn(byEmail.body)).toEqual([
      'a@firm.example',
      'b@firm.example',
      'c@firm.example',
      'd@other.example',
    ]);
    const $ = cheerio.load(byEmail.body);
    expect($('th[aria-sort="ascending"] a').attr('href')).toBe('/admin/subscribers?sort=email&dir=desc');
    const desc = await viewer.get('/admin/subscribers?sort=email&dir=desc');
    expect(emailsOn(desc.body)[0]).toBe('d@other.example');
    const byName = await viewer.get('/admin/subscribers?sort=name');
    expect(emailsOn(byName.body)).toEqual([
      'd@other.example',
      'c@firm.example',
      'b@firm.example',
      'a@firm.example',
    ]);
    const byJoin = await viewer.get('/admin/subscribers?sort=created&dir=desc');
    expect(emailsOn(byJoin.body)[0]).toBe('d@other.example');
  });

  it('starts again from the first page when the page position is not one it gave out', async () => {
    const res = await viewer.get('/admin/subscribers?sort=email&after=bm90LWEtY3Vyc29y');
    expect(res.statusCode).toBe(200);
    expect(emailsOn(res.body)[0]).toBe('a@firm.example');
  });

  it('shows a viewer no bulk actions and refuses their posts', async () => {
    const page = await viewer.get('/admin/subscribers');
    expect(page.body).not.toContain('/admin/subscribers/bulk/');
    const res = await viewer.post('/admin/subscribers/bulk/suppress', { ids: String(id['a@firm.example']) });
    expect(res.statusCode).toBe(403);
  });
});

describe('bulk actions from the list', () => {
  it('adds a section to the ticked rows and comes back to the same filtered, sorted list', async () => {
    const res = await editor.post('/admin/subscribers/bulk/sections', {
      ids: [String(id['a@firm.example']), String(id['b@firm.example'])] as unknown as string,
      mode: 'set',
      sections: 'case-studies',
      sort: 'email',
      q: 'firm',
    });
    expect(res.statusCode).toBe(303);
    expect(res.headers.location).toBe('/admin/subscribers?q=firm&sort=email');
    const page = await follow(editor, res);
    expect(page.body).toContain('Sections changed for 2 subscribers.');
    expect((await getSubscriberByEmail(h.ctx.db, 'a@firm.example'))?.sectionKeys).toEqual(['case-studies']);
    expect((await getSubscriberByEmail(h.ctx.db, 'c@firm.example'))?.all_sections).toBe(true);
    const audit = (await listBulkActions(h.ctx.db))[0];
    expect(audit).toMatchObject({ actor: `user:${editor.email}`, action: 'sections-set', affected: 2 });
  });

  it('applies to every subscriber the filter matches when asked, refusing if the count moved', async () => {
    const stale = await editor.post('/admin/subscribers/bulk/suppress', {
      scope: 'all',
      q: 'firm',
      expected: '2',
    });
    expect((await follow(editor, stale)).body).toContain(
      'The list changed meanwhile: 3 subscribers match now, not the 2 shown.',
    );
    expect(await isSuppressed(h.ctx.db, 'a@firm.example')).toBe(false);
    const res = await editor.post('/admin/subscribers/bulk/suppress', {
      scope: 'all',
      q: 'firm',
      expected: '3',
      note: 'left the association',
    });
    expect((await follow(editor, res)).body).toContain('3 subscribers handled: 3 addresses newly suppressed');
    expect(await isSuppressed(h.ctx.db, 'c@firm.example')).toBe(true);
    expect(await isSuppressed(h.ctx.db, 'd@other.example')).toBe(false);
  });

  it('says what is missing: nothing ticked, no section chosen', async () => {
    const none = await editor.post('/admin/subscribers/bulk/suppress', {});
    expect((await follow(editor, none)).body).toContain('No subscriber is selected');
    const noSection = await editor.post('/admin/subscribers/bulk/sections', {
      ids: String(id['a@firm.example']),
      mode: 'add',
    });
    expect((await follow(editor, noSection)).body).toContain('Choose at least one section.');
  });

  it('exports the selection as the import-format CSV with formulas neutralised, and records it', async () => {
    const res = await editor.post('/admin/subscribers/bulk/export', {
      ids: [String(id['d@other.example']), String(id['a@firm.example'])] as unknown as string,
    });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toBe('text/csv; charset=utf-8');
    expect(res.headers['content-disposition']).toMatch(/^attachment; filename="subscribers-selection-/);
    const rows = parse(res.body.replace(/^\uFEFF/, ''), { columns: true }) as Record<string, string>[];
    expect(rows.map((r) => r.email).sort()).toEqual(['a@firm.example', 'd@other.example']);
    expect(rows.find((r) => r.email === 'd@other.example')?.name).toBe("'=cmd|calc");
    expect((await listBulkActions(h.ctx.db))[0]).toMatchObject({ action: 'export', affected: 2 });
  });

  it('refuses a post without the CSRF token', async () => {
    const res = await editor.post(
      '/admin/subscribers/bulk/export',
      { ids: String(id['a@firm.example']) },
      { csrf: false },
    );
    expect(res.statusCode).toBe(403);
  });
});

describe('the signup form snippet page', () => {
  it('gives the HTML for the public subscribe address, in the chosen language, with the rate limit named', async () => {
    const res = await viewer.get('/admin/subscribers/signup-form?locale=zh-CN&sections=1&shown=1');
    const $ = cheerio.load(res.body);
    const code = cheerio.load($('#signup-code').text());
    expect(code('form').attr('action')).toBe('https://news.example.org/subscribe');
    expect(code('input[name="locale"]').val()).toBe('zh-CN');
    expect(code('input[name="sections"]')).toHaveLength(4);
    expect(res.body).toContain('SUBSCRIBE_RATE_PER_MINUTE');
    const without = await viewer.get('/admin/subscribers/signup-form?locale=en&shown=1');
    expect(
      cheerio.load(cheerio.load(without.body)('#signup-code').text())('input[name="sections"]'),
    ).toHaveLength(0);
  });
});
