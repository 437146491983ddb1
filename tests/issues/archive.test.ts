import * as cheerio from 'cheerio';
import { decodeHTML } from 'entities';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Env } from '../../src/config/env.js';
import { archiveRoutes } from '../../src/http/public/archive.js';
import { addIssueItem } from '../../src/issues/edit.js';
import type { EditorialDeps } from '../../src/issues/store.js';
import { silentLogger } from '../../src/log.js';
import { MODEL_SECTIONS } from '../../src/publication/model-sections.js';
import { ensurePublication } from '../../src/publication/publication.js';
import { upsertSection } from '../../src/publication/sections.js';
import { createTestDatabase, type TestDatabase } from '../support/test-db.js';
import { testEnv } from '../support/test-env.js';

let tdb: TestDatabase;
let env: Env;
let app: FastifyInstance;
let sentId: number;
let draftId: number;

beforeAll(async () => {
  tdb = await createTestDatabase();
  env = testEnv({ PUBLIC_URL: 'https://news.example.org', MAIL_FROM: '每月资讯 <news@example.org>' });
  const deps: EditorialDeps = {
    db: tdb.db,
    log: silentLogger,
    env,
    now: () => new Date('2025-08-01T00:00:00Z'),
  };
  await ensurePublication(tdb.db, env);
  for (const s of MODEL_SECTIONS) await upsertSection(tdb.db, s);
  const make = async (period: string) =>
    (
      await tdb.db
        .insertInto('issues')
        .values({ period, title: '数字科技与人工智能' })
        .returning('id')
        .executeTakeFirstOrThrow()
    ).id;
  sentId = await make('2025-07');
  draftId = await make('2025-08');
  await addIssueItem(
    deps,
    sentId,
    {
      sectionKey: 'case-studies',
      title: '<script>案例</script>',
      summary: '第一段。\n\n第二段。',
      sources: [{ url: 'https://example.org/a', label: '来源甲' }],
    },
    'alice',
  );
  await tdb.db
    .updateTable('issues')
    .set({ state: 'sent', sent_at: new Date('2025-08-01T01:00:00Z') })
    .where('id', '=', sentId)
    .execute();
  app = Fastify();
  await app.register(archiveRoutes, { ctx: { db: tdb.db, env, log: silentLogger } });
});
afterAll(async () => {
  await app.close();
  await tdb.drop();
});

describe('web archive', () => {
  it('lists only sent issues in the index', async () => {
    const res = await app.inject({ method: 'GET', url: '/archive' });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toContain('text/html');
    expect(res.body).toContain(`/archive/${sentId}`);
    expect(res.body).not.toContain(`/archive/${draftId}`);
    expect(res.body).toContain('数字科技与人工智能（2025年7月）');
  });

  it('shows a sent issue as a public page with escaped content', async () => {
    const res = await app.inject({ method: 'GET', url: `/archive/${sentId}` });
    expect(res.statusCode).toBe(200);
    expect(res.body).toContain('案例研讨');
    expect(res.body).toContain('&lt;script&gt;案例&lt;/script&gt;');
    expect(res.body).not.toContain('<script>');
    expect(res.body).toContain('<p>第二段。</p>');
    expect(res.body).toContain('<a href="https://example.org/a" rel="noopener">来源甲</a>');
  });

  it('answers 404 for drafts and unknown ids', async () => {
    expect((await app.inject({ method: 'GET', url: `/archive/${draftId}` })).statusCode).toBe(404);
    expect((await app.inject({ method: 'GET', url: '/archive/99999' })).statusCode).toBe(404);
    expect((await app.inject({ method: 'GET', url: '/archive/abc' })).statusCode).toBe(404);
  });

  it('publishes an Atom feed of sent issues with absolute links', async () => {
    const res = await app.inject({ method: 'GET', url: '/archive/feed.atom' });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toContain('application/atom+xml');
    expect(res.body).toContain('<feed xmlns="http://www.w3.org/2005/Atom">');
    expect(res.body).toContain(`<id>https://news.example.org/archive/${sentId}</id>`);
    expect(res.body).not.toContain(`/archive/${draftId}<`);
    expect(res.body.match(/<entry>/g)).toHaveLength(1);
  });

  it('escapes a subject in the Atom feed, so a reader shows it as text and never as markup', async () => {
    const subject = '<img src=x onerror=alert(1)> 七月 ]]> & 更多';
    await tdb.db.updateTable('issues').set({ subject }).where('id', '=', sentId).execute();
    await tdb.db.updateTable('publication').set({ name: '<b>律协</b> & AI' }).execute();
    const res = await app.inject({ method: 'GET', url: '/archive/feed.atom' });
    // Parsed as XML, as a feed reader does: the title is HTML (type="html") that says the subject.
    const $ = cheerio.load(res.body, { xml: true });
    const entryTitle = $('entry > title');
    expect(entryTitle.attr('type')).toBe('html');
    expect(entryTitle.text()).not.toMatch(/<[a-z]/i);
    expect(decodeHTML(entryTitle.text())).toBe(subject);
    expect($('feed > title').text()).toBe('<b>律协</b> & AI');
    expect($('feed > title').attr('type') ?? 'text').toBe('text');
  });
});
