import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { issueEditorRoutes } from '../../src/http/api/issues.js';
import { silentLogger } from '../../src/log.js';
import { MODEL_DOCUMENT, sharedFixture } from '../support/shared.js';
import { createTestDatabase, type TestDatabase } from '../support/test-db.js';
import { testEnv } from '../support/test-env.js';

const model = sharedFixture(MODEL_DOCUMENT);
const modelText = model.present ? model.read() : '';

let tdb: TestDatabase;
let app: FastifyInstance;
const auth = { authorization: 'Bearer editor-token' };

beforeAll(async () => {
  tdb = await createTestDatabase();
  const env = testEnv();
  app = Fastify();
  await app.register(issueEditorRoutes, {
    ctx: { db: tdb.db, log: silentLogger, env, now: () => new Date('2025-08-01T00:00:00Z') },
    authorize: async (req) => (req.headers.authorization === auth.authorization ? 'web-editor' : null),
  });
});
afterAll(async () => {
  await app.close();
  await tdb.drop();
});

describe.skipIf(!model.present)('issue editor JSON API', () => {
  it('refuses requests the injected check does not authorise', async () => {
    const res = await app.inject({ method: 'GET', url: '/api/issues' });
    expect(res.statusCode).toBe(401);
  });

  it('imports, edits, moves and approves, auditing the signed-in editor', async () => {
    const imported = await app.inject({
      method: 'POST',
      url: '/api/issues/import',
      headers: auth,
      payload: { markdown: modelText },
    });
    expect(imported.statusCode).toBe(201);
    const { id, sections } = imported.json() as { id: number; sections: { items: unknown[] }[] };
    expect(sections.reduce((n, s) => n + s.items.length, 0)).toBe(27);

    const detail = (await app.inject({ method: 'GET', url: `/api/issues/${id}`, headers: auth })).json() as {
      sections: { key: string; items: { id: number }[] }[];
    };
    const firstItem = detail.sections[0]?.items[0]?.id;

    const patched = await app.inject({
      method: 'PATCH',
      url: `/api/issues/${id}/items/${firstItem}`,
      headers: auth,
      payload: { summary: '网页编辑器改写的摘要。' },
    });
    expect(patched.statusCode).toBe(200);
    // A refusal carries a stable code and its parameters beside the English message, so a client
    // (the editors' pages among them) can say it in its own language.
    const badSource = await app.inject({
      method: 'PATCH',
      url: `/api/issues/${id}/items/${firstItem}`,
      headers: auth,
      payload: { sources: [{ url: 'https://ok.example/a' }, { url: 'ftp://files.example/b' }] },
    });
    expect(badSource.statusCode).toBe(400);
    expect(badSource.json()).toEqual({
      error: 'bad_request',
      message: 'Source 2 must be an http(s) URL: "ftp://files.example/b"',
      code: 'source-not-http',
      params: { n: 2, url: 'ftp://files.example/b' },
    });
    const moved = await app.inject({
      method: 'POST',
      url: `/api/issues/${id}/items/${firstItem}/move`,
      headers: auth,
      payload: { sectionKey: 'industry-news', position: 0 },
    });
    expect(moved.statusCode).toBe(200);
    const approved = await app.inject({ method: 'POST', url: `/api/issues/${id}/approve`, headers: auth });
    expect(approved.json()).toMatchObject({ state: 'approved', approved_by: 'web-editor' });

    const audit = (
      await app.inject({ method: 'GET', url: `/api/issues/${id}/audit`, headers: auth })
    ).json() as {
      actor: string;
      action: string;
    }[];
    expect(audit.map((a) => `${a.actor}:${a.action}`)).toEqual([
      'web-editor:import',
      'web-editor:update-item',
      'web-editor:move-item',
      'web-editor:approve',
    ]);
    const md = await app.inject({ method: 'GET', url: `/api/issues/${id}/markdown`, headers: auth });
    expect(md.body).toContain('网页编辑器改写的摘要。');
  });

  it('answers bad input with 400, illegal moves with 409 and unknown issues with 404', async () => {
    const bad = await app.inject({
      method: 'PATCH',
      url: '/api/issues/1',
      headers: auth,
      payload: { colour: 'red' },
    });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().message).toContain('colour');
    const sched = await app.inject({
      method: 'POST',
      url: '/api/issues/1/schedule',
      headers: auth,
      payload: { at: '2030-01-01 09:00' },
    });
    expect(sched.statusCode).toBe(400); // no queue on this server
    await app.inject({ method: 'POST', url: '/api/issues/1/cancel', headers: auth });
    const again = await app.inject({ method: 'POST', url: '/api/issues/1/approve', headers: auth });
    expect(again.statusCode).toBe(409);
    expect(again.json()).toMatchObject({
      error: 'illegal_transition',
      code: 'illegal-transition',
      params: { state: 'cancelled', action: 'approve' },
    });
    expect((await app.inject({ method: 'GET', url: '/api/issues/999', headers: auth })).statusCode).toBe(404);
    const unplaced = await app.inject({
      method: 'POST',
      url: '/api/issues/import',
      headers: auth,
      payload: { markdown: '标题\n\n每月资讯 2025 年 9 月\n\n# 无此栏目\n\n## 1. 条目\n' },
    });
    expect(unplaced.statusCode).toBe(422);
    expect(unplaced.json().problems[0]).toMatchObject({ line: 5 });
  });
});
