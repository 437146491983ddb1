import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildAppServer } from '../../src/http/app.js';
import { type AppContext, createContext } from '../../src/context.js';
import { silentLogger } from '../../src/log.js';
import { createTestDatabase, type TestDatabase } from '../support/test-db.js';
import { testEnv } from '../support/test-env.js';

const API_KEY = 'gz_test_key_0123456789abcdefghijkl';

/** The one web server mounts every stage's routes, and the editors' statistics need a key. */
describe('the web server as composed for `gazette serve`', () => {
  let tdb: TestDatabase;
  let ctx: AppContext;
  let app: FastifyInstance;

  beforeAll(async () => {
    tdb = await createTestDatabase();
    ctx = await createContext(testEnv({ API_KEYS: API_KEY }), { log: silentLogger, schema: tdb.schema });
    app = await buildAppServer(ctx, async () => ({}));
    const [issue] = await ctx.db
      .insertInto('issues')
      .values({ period: '2025-07', title: '2025年7月', state: 'sent', sent_at: new Date() })
      .returning('id')
      .execute();
    expect(issue?.id).toBe(1);
  });
  afterAll(async () => {
    await app?.close();
    await ctx?.close();
    await tdb?.drop();
  });

  it('serves the subscriber pages and health check', async () => {
    expect((await app.inject('/healthz')).statusCode).toBe(200);
  });

  it('serves the public archive with its Atom feed', async () => {
    const index = await app.inject('/archive');
    expect(index.statusCode).toBe(200);
    expect(index.body).toContain('2025年7月');
    const feed = await app.inject('/archive/feed.atom');
    expect(feed.statusCode).toBe(200);
    expect(feed.headers['content-type']).toContain('atom');
  });

  it('answers the open pixel even for a token it does not trust', async () => {
    const res = await app.inject('/t/o/not-a-token.gif');
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toBe('image/gif');
  });

  it('refuses issue statistics without an API key and serves them with one', async () => {
    expect((await app.inject('/api/issues/1/stats')).statusCode).toBe(401);
    expect(
      (await app.inject({ url: '/api/issues/1/stats', headers: { 'x-api-key': 'wrong' } })).statusCode,
    ).toBe(401);
    const ok = await app.inject({ url: '/api/issues/1/stats', headers: { 'x-api-key': API_KEY } });
    expect(ok.statusCode).toBe(200);
    expect(ok.json()).toHaveProperty('totals');
  });

  it("mounts the editors' issue API behind the same key and records who edited", async () => {
    expect((await app.inject('/api/issues')).statusCode).toBe(401);
    const list = await app.inject({ url: '/api/issues', headers: { 'x-api-key': API_KEY } });
    expect(list.statusCode).toBe(200);
    expect(JSON.stringify(list.json())).toContain('2025-07');
  });
});
