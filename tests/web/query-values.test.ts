import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiKey } from '../../src/accounts/api-keys.js';
import { type Browser, startWebHarness, type WebHarness } from './support.js';

/** Query values that answered 500 in the penetration test answer 400 and say which value is wrong. */
describe('query values are checked before they reach the database', () => {
  let h: WebHarness;
  let editor: Browser;
  let key: string;
  beforeAll(async () => {
    h = await startWebHarness();
    editor = await h.signIn('editor');
    key = (await createApiKey(h.ctx.db, 'query-test', 'editor')).key;
  });
  afterAll(async () => h?.close());

  it.each(['/admin/inbox?q=%00', '/admin/subscribers?q=%00', '/admin/inbox?q=a%0d%0ab'])(
    '%s answers 400 naming the parameter, in the reader’s language',
    async (url) => {
      const res = await h.web.inject({
        method: 'GET',
        url,
        headers: { cookie: editor.cookie, 'accept-language': 'en' },
      });
      expect(res.statusCode).toBe(400);
      expect(res.body).toContain('The parameter &quot;q&quot; in the address contains a control character');
      const zh = await h.web.inject({
        method: 'GET',
        url,
        headers: { cookie: editor.cookie, 'accept-language': 'zh-CN' },
      });
      expect(zh.body).toContain('含有控制字符');
    },
  );

  it.each([
    ['/api/v1/subscribers?search=%00', 'search'],
    ['/api/v1/subscribers?after=99999999999999999999', 'after'],
    ['/api/v1/suppressions?after=99999999999', 'after'],
  ])('%s answers 400 with the reason', async (url, param) => {
    const res = await h.web.inject({ method: 'GET', url, headers: { 'x-api-key': key } });
    expect(res.statusCode).toBe(400);
    expect((res.json() as { error: string }).error).toContain(param);
  });

  it('ignores an id no table can hold in an inbox filter, as any malformed filter', async () => {
    const res = await editor.get('/admin/inbox?source=999999999999&section=99999999999');
    expect(res.statusCode).toBe(200);
  });
});
