import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiKey, revokeApiKey } from '../../src/accounts/api-keys.js';
import { type Harness, startHarness } from './support.js';

const ENV_KEY = 'env-key-for-tests-0123456789abcdef';
let h: Harness;
let tableKey: string;
beforeAll(async () => {
  h = await startHarness({ API_KEYS: ENV_KEY });
  tableKey = (await createApiKey(h.ctx.db, 'test')).key;
});
afterAll(async () => h?.close());

const auth = { 'x-api-key': ENV_KEY };

describe('JSON API', () => {
  it('refuses admin routes without a valid API key', async () => {
    for (const headers of [
      {},
      { 'x-api-key': 'wrong-key-wrong-key-wrong-key' },
      { authorization: 'Bearer nope' },
    ]) {
      const res = await h.app.inject({ url: '/api/v1/subscribers', headers });
      expect(res.statusCode).toBe(401);
    }
  });

  it('accepts keys from API_KEYS and from the api_keys table, and stops accepting a revoked one', async () => {
    expect((await h.app.inject({ url: '/api/v1/subscribers', headers: auth })).statusCode).toBe(200);
    const bearer = { authorization: `Bearer ${tableKey}` };
    expect((await h.app.inject({ url: '/api/v1/subscribers', headers: bearer })).statusCode).toBe(200);
    const other = await createApiKey(h.ctx.db, 'to revoke');
    await revokeApiKey(h.ctx.db, other.id);
    expect(
      (await h.app.inject({ url: '/api/v1/subscribers', headers: { 'x-api-key': other.key } })).statusCode,
    ).toBe(401);
  });

  it('adds, reads, lists and edits a subscriber', async () => {
    const created = await h.app.inject({
      method: 'POST',
      url: '/api/v1/subscribers',
      headers: auth,
      payload: { email: 'API.User@example.com', name: 'Api', locale: 'en', sectionKeys: ['industry-news'] },
    });
    expect(created.statusCode).toBe(201);
    const body = created.json();
    expect(body).toMatchObject({
      email: 'API.User@example.com',
      status: 'active',
      consentSource: 'api',
      allSections: false,
      sectionKeys: ['industry-news'],
    });
    const got = await h.app.inject({ url: `/api/v1/subscribers/${body.id}`, headers: auth });
    expect(got.json().name).toBe('Api');
    const edited = await h.app.inject({
      method: 'PATCH',
      url: `/api/v1/subscribers/${body.id}`,
      headers: auth,
      payload: { sectionKeys: 'all', locale: 'zh-CN' },
    });
    expect(edited.statusCode).toBe(200);
    expect(edited.json()).toMatchObject({
      allSections: true,
      locale: 'zh-CN',
      sectionKeys: expect.arrayContaining(['case-studies']),
    });
    const list = await h.app.inject({
      url: '/api/v1/subscribers?status=active&search=api.user',
      headers: auth,
    });
    expect(list.json().subscribers.map((s: { id: number }) => s.id)).toEqual([body.id]);
    const dup = await h.app.inject({
      method: 'POST',
      url: '/api/v1/subscribers',
      headers: auth,
      payload: { email: 'api.user@EXAMPLE.com' },
    });
    expect(dup.statusCode).toBe(409);
  });

  it('validates bodies and names the problem', async () => {
    const extra = await h.app.inject({
      method: 'POST',
      url: '/api/v1/subscribers',
      headers: auth,
      payload: { email: 'a@example.com', admin: true },
    });
    expect(extra.statusCode).toBe(400);
    const badLocale = await h.app.inject({
      method: 'POST',
      url: '/api/v1/subscribers',
      headers: auth,
      payload: { email: 'a@example.com', locale: 'fr' },
    });
    expect(badLocale.statusCode).toBe(400);
    expect(badLocale.json().error).toContain('locale');
    const badSection = await h.app.inject({
      method: 'POST',
      url: '/api/v1/subscribers',
      headers: auth,
      payload: { email: 'b@example.com', sectionKeys: ['nope'] },
    });
    expect(badSection.statusCode).toBe(400);
    expect(badSection.json().error).toBe('Unknown section: nope');
    const injected = await h.app.inject({
      method: 'POST',
      url: '/api/v1/subscribers',
      headers: auth,
      payload: { email: 'c@example.com\r\nBcc: x@example.com' },
    });
    expect(injected.statusCode).toBe(400);
    expect(injected.json().error).toContain('line break');
  });

  it('refuses to re-activate an unsubscribed subscriber', async () => {
    const created = (
      await h.app.inject({
        method: 'POST',
        url: '/api/v1/subscribers',
        headers: auth,
        payload: { email: 'left@example.com' },
      })
    ).json();
    await h.app.inject({
      method: 'PATCH',
      url: `/api/v1/subscribers/${created.id}`,
      headers: auth,
      payload: { status: 'unsubscribed' },
    });
    const res = await h.app.inject({
      method: 'PATCH',
      url: `/api/v1/subscribers/${created.id}`,
      headers: auth,
      payload: { status: 'active' },
    });
    expect(res.statusCode).toBe(409);
    expect(res.json().error).toContain('only their own confirmation');
  });

  it('manages suppressions', async () => {
    const add = await h.app.inject({
      method: 'POST',
      url: '/api/v1/suppressions',
      headers: auth,
      payload: { kind: 'domain', value: 'Spam.Example', note: 'abuse' },
    });
    expect(add.statusCode).toBe(201);
    expect(add.json()).toMatchObject({
      kind: 'domain',
      value: 'spam.example',
      reason: 'manual',
      note: 'abuse',
    });
    const blocked = await h.app.inject({
      method: 'POST',
      url: '/api/v1/subscribers',
      headers: auth,
      payload: { email: 'x@spam.example' },
    });
    expect(blocked.statusCode).toBe(409);
    const list = await h.app.inject({ url: '/api/v1/suppressions', headers: auth });
    expect(list.json().suppressions.map((s: { value: string }) => s.value)).toContain('spam.example');
    const del = await h.app.inject({
      method: 'DELETE',
      url: '/api/v1/suppressions',
      headers: auth,
      payload: { kind: 'domain', value: 'spam.example' },
    });
    expect(del.statusCode).toBe(204);
    const bad = await h.app.inject({
      method: 'POST',
      url: '/api/v1/suppressions',
      headers: auth,
      payload: { kind: 'domain', value: 'not a domain' },
    });
    expect(bad.statusCode).toBe(400);
  });

  it('exports and erases one subscriber', async () => {
    const created = (
      await h.app.inject({
        method: 'POST',
        url: '/api/v1/subscribers',
        headers: auth,
        payload: { email: 'bye@example.com', name: 'Bye' },
      })
    ).json();
    const data = await h.app.inject({ url: `/api/v1/subscribers/${created.id}/data`, headers: auth });
    expect(data.json()).toMatchObject({
      subscriber: { email: 'bye@example.com', name: 'Bye' },
      deliveries: [],
      events: [],
    });
    const erase = await h.app.inject({
      method: 'DELETE',
      url: `/api/v1/subscribers/${created.id}`,
      headers: auth,
    });
    expect(erase.statusCode).toBe(204);
    expect((await h.app.inject({ url: `/api/v1/subscribers/${created.id}`, headers: auth })).statusCode).toBe(
      404,
    );
    const readd = await h.app.inject({
      method: 'POST',
      url: '/api/v1/subscribers',
      headers: auth,
      payload: { email: 'bye@example.com' },
    });
    expect(readd.statusCode).toBe(409);
    expect(readd.json().error).toContain('erased');
  });

  it('documents the API as OpenAPI', async () => {
    const res = await h.app.inject({ url: '/openapi.json' });
    expect(res.statusCode).toBe(200);
    const doc = res.json();
    expect(doc.openapi).toMatch(/^3\./);
    expect(Object.keys(doc.paths)).toEqual(
      expect.arrayContaining([
        '/api/v1/subscribe',
        '/api/v1/subscribers',
        '/api/v1/subscribers/{id}',
        '/api/v1/suppressions',
      ]),
    );
    expect(
      doc.paths['/api/v1/subscribers'].post.requestBody.content['application/json'].schema.required,
    ).toEqual(['email']);
    expect(Object.keys(doc.paths).some((p: string) => p.startsWith('/u/'))).toBe(false);
  });
});
