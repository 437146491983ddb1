import * as cheerio from 'cheerio';
import type { LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensurePublication } from '../../src/publication/publication.js';
import { type Browser, startWebHarness, type WebHarness } from './support.js';

let h: WebHarness;
let editor: Browser;
let viewer: Browser;
let julyId: number;

beforeAll(async () => {
  h = await startWebHarness();
  [editor, viewer] = [await h.signIn('editor'), await h.signIn('viewer')];
  await h.ctx.db.updateTable('users').set({ locale: 'en' }).execute();
  await ensurePublication(h.ctx.db, h.env);
  julyId = (
    await h.ctx.db
      .insertInto('issues')
      .values({ period: '2025-07', title: 'Monthly', state: 'sent', intro: 'Dear members,' })
      .returning('id')
      .executeTakeFirstOrThrow()
  ).id;
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

describe('duplicating an issue from the issue list', () => {
  it('offers the newest issue with the next period filled in, to editors only', async () => {
    const $ = cheerio.load((await editor.get('/admin/issues')).body);
    expect($('form[action$="/duplicate"]').attr('action')).toBe(`/admin/issues/${julyId}/duplicate`);
    expect($('#duplicate-period').val()).toBe('2025-08');
    expect((await viewer.get('/admin/issues')).body).not.toContain('/duplicate"');
  });

  it('opens the new draft, then sends a second try to the draft already there with the reason', async () => {
    const first = await editor.post(`/admin/issues/${julyId}/duplicate`, { period: '2025-08' });
    expect(first.statusCode).toBe(303);
    const copyId = Number((first.headers.location as string).split('/').pop());
    expect((await follow(editor, first)).body).toContain(
      'Draft for 2025-08 created with the masthead, intro and sections of 2025-07.',
    );
    const again = await editor.post(`/admin/issues/${julyId}/duplicate`, { period: '2025-08' });
    expect(again.headers.location).toBe(`/admin/issues/${copyId}`);
    expect((await follow(editor, again)).body).toContain(`2025-08 already has issue ${copyId} (draft)`);
    const bad = await editor.post(`/admin/issues/${julyId}/duplicate`, { period: 'August' });
    expect(bad.headers.location).toBe('/admin/issues');
    expect((await follow(editor, bad)).body).toContain('is not a period like 2025-08');
    expect((await viewer.post(`/admin/issues/${julyId}/duplicate`, {})).statusCode).toBe(403);
  });
});

describe('the summary preview fragment', () => {
  it('answers the rendered HTML of the Markdown sent, nothing else around it', async () => {
    const res = await editor.post('/admin/issues/summary-preview', {
      summary: '**要点**：见[公报](https://example.org/oj)\n\n<script>alert(1)</script>',
    });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(res.body).toBe(
      '<p><strong>要点</strong>：见<a href="https://example.org/oj">公报</a></p><p>&lt;script&gt;alert(1)&lt;/script&gt;</p>',
    );
  });

  it('needs an editor and the CSRF token', async () => {
    expect(
      (await editor.post('/admin/issues/summary-preview', { summary: 'x' }, { csrf: false })).statusCode,
    ).toBe(403);
    expect((await viewer.post('/admin/issues/summary-preview', { summary: 'x' })).statusCode).toBe(403);
  });
});
