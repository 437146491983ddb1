import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { recipientLinks } from '../../src/security/recipient-links.js';
import { signToken } from '../../src/security/tokens.js';
import { addSubscriber, getSubscriber } from '../../subscribers/api.js';
import { FORM, form, type Harness, startHarness } from './support.js';

let h: Harness;
let listening: string;
beforeAll(async () => {
  h = await startHarness();
  // The one-click POST goes over a real socket, as a mail provider would send it.
  listening = await h.app.listen({ host: '127.0.0.1', port: 0 });
});
afterAll(async () => h?.close());

let counter = 0;
async function reader(opts: { sectionKeys?: string[]; locale?: 'zh-CN' | 'en' } = {}) {
  const sub = await addSubscriber(h.ctx.db, {
    email: `reader${++counter}@example.com`,
    locale: opts.locale ?? 'en',
    consentSource: 'editor',
    ...(opts.sectionKeys ? { sectionKeys: opts.sectionKeys } : {}),
  });
  return sub;
}

function linksFor(subscriberId: number, sectionKey?: string) {
  return recipientLinks(h.ctx.secrets, h.env.PUBLIC_URL, {
    subscriberId,
    issueId: 999,
    deliveryId: 999,
    ...(sectionKey ? { sectionKey } : {}),
  });
}

const path = (url: string) => new URL(url).pathname;

describe('unsubscribe', () => {
  it('shows a confirmation page on GET and changes nothing (mail scanners follow links)', async () => {
    const sub = await reader();
    const links = linksFor(sub.id);
    for (const url of [links.unsubscribeUrl, links.oneClickUnsubscribeUrl]) {
      const res = await h.app.inject({ url: path(url) });
      expect(res.statusCode).toBe(200);
      expect(res.body).toContain('<form method="post"');
      expect(res.body).not.toContain('<script');
    }
    expect((await getSubscriber(h.ctx.db, sub.id))?.status).toBe('active');
  });

  it('unsubscribes from everything with an RFC 8058 one-click POST over a real socket, no cookie', async () => {
    const sub = await reader();
    const res = await request(`${listening}${path(linksFor(sub.id).oneClickUnsubscribeUrl)}`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'List-Unsubscribe=One-Click',
    });
    expect(res.statusCode).toBe(200);
    await res.body.text();
    const after = await getSubscriber(h.ctx.db, sub.id);
    expect(after?.status).toBe('unsubscribed');
    expect(after?.unsubscribed_at).toBeInstanceOf(Date);
    const events = await h.ctx.db
      .selectFrom('events')
      .selectAll()
      .where('subscriber_id', '=', sub.id)
      .execute();
    expect(events.map((e) => [e.type, e.subtype, e.detail])).toEqual([
      ['unsubscribe', 'all', { via: 'one-click' }],
    ]);
  });

  it('accepts the one-click POST as multipart/form-data and is idempotent', async () => {
    const sub = await reader();
    const url = `${listening}${path(linksFor(sub.id).oneClickUnsubscribeUrl)}`;
    const boundary = '----gazette';
    const body = `--${boundary}\r\nContent-Disposition: form-data; name="List-Unsubscribe"\r\n\r\nOne-Click\r\n--${boundary}--\r\n`;
    for (let i = 0; i < 2; i++) {
      const res = await request(url, {
        method: 'POST',
        headers: { 'content-type': `multipart/form-data; boundary=${boundary}` },
        body,
      });
      expect(res.statusCode).toBe(200);
      await res.body.text();
    }
    expect((await getSubscriber(h.ctx.db, sub.id))?.status).toBe('unsubscribed');
    const events = await h.ctx.db
      .selectFrom('events')
      .select('id')
      .where('subscriber_id', '=', sub.id)
      .execute();
    expect(events).toHaveLength(1);
  });

  it('removes only one section through a section-scoped header link, keeping the others', async () => {
    const sub = await reader();
    const res = await request(
      `${listening}${path(linksFor(sub.id, 'case-studies').oneClickUnsubscribeUrl)}`,
      {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: 'List-Unsubscribe=One-Click',
      },
    );
    expect(res.statusCode).toBe(200);
    await res.body.text();
    const after = await getSubscriber(h.ctx.db, sub.id);
    expect(after?.status).toBe('active');
    expect(after?.all_sections).toBe(false);
    expect(after?.sectionKeys).toEqual(['domestic-regulation', 'foreign-regulation', 'industry-news']);
  });

  it('removes one section through the page form', async () => {
    const sub = await reader({ sectionKeys: ['case-studies', 'industry-news'] });
    const page = await h.app.inject({ url: path(linksFor(sub.id).unsubscribeUrl) });
    expect(page.body).toContain('value="section:case-studies"');
    expect(page.body).not.toContain('value="section:domestic-regulation"');
    const res = await h.app.inject({
      method: 'POST',
      url: path(linksFor(sub.id).unsubscribeUrl),
      headers: FORM,
      payload: form({ scope: 'section:industry-news' }),
    });
    expect(res.statusCode).toBe(200);
    expect(res.body).toContain('Section removed');
    const after = await getSubscriber(h.ctx.db, sub.id);
    expect(after?.status).toBe('active');
    expect(after?.sectionKeys).toEqual(['case-studies']);
  });

  it('unsubscribes fully when the last section is removed', async () => {
    const sub = await reader({ sectionKeys: ['industry-news'] });
    await h.app.inject({
      method: 'POST',
      url: path(linksFor(sub.id).unsubscribeUrl),
      headers: FORM,
      payload: form({ scope: 'section:industry-news' }),
    });
    expect((await getSubscriber(h.ctx.db, sub.id))?.status).toBe('unsubscribed');
  });

  it('unsubscribes from everything through the page form, in Chinese for a Chinese reader', async () => {
    const sub = await reader({ locale: 'zh-CN' });
    const res = await h.app.inject({
      method: 'POST',
      url: path(linksFor(sub.id).unsubscribeUrl),
      headers: FORM,
      payload: form({ scope: 'all' }),
    });
    expect(res.statusCode).toBe(200);
    expect(res.body).toContain('已退订');
    expect((await getSubscriber(h.ctx.db, sub.id))?.status).toBe('unsubscribed');
  });

  it('answers tampered links with a 4xx page and changes nothing', async () => {
    const sub = await reader();
    const token = path(linksFor(sub.id).oneClickUnsubscribeUrl).slice('/u/'.length);
    const [body, sig] = token.split('.');
    const payload = JSON.parse(Buffer.from(body ?? '', 'base64url').toString());
    const other = await reader();
    const forged = `${Buffer.from(JSON.stringify({ ...payload, s: other.id })).toString('base64url')}.${sig}`;
    for (const bad of [forged, `${token}x`, 'garbage']) {
      const post = await request(`${listening}/u/${bad}?lang=en`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: 'List-Unsubscribe=One-Click',
      });
      expect(post.statusCode).toBe(400);
      expect(await post.body.text()).toContain('nothing was changed');
      const page = await h.app.inject({
        method: 'POST',
        url: `/unsubscribe/${bad}?lang=en`,
        headers: FORM,
        payload: 'scope=all',
      });
      expect(page.statusCode).toBe(400);
    }
    expect((await getSubscriber(h.ctx.db, sub.id))?.status).toBe('active');
    expect((await getSubscriber(h.ctx.db, other.id))?.status).toBe('active');
  });

  it('never expires: a link from a message delivered years ago still unsubscribes, one-click and page', async () => {
    const fresh = path(linksFor((await reader()).id).oneClickUnsubscribeUrl).slice('/u/'.length);
    const [freshBody] = fresh.split('.');
    expect(JSON.parse(Buffer.from(freshBody ?? '', 'base64url').toString())).not.toHaveProperty('exp');

    // Links signed before this rule carried a 400-day expiry; one sent three years ago:
    const longAgo = new Date(Date.now() - 3 * 365 * 86_400_000);
    for (const via of ['one-click', 'page'] as const) {
      const sub = await reader();
      const token = signToken(
        h.ctx.secrets,
        { p: 'unsub', s: sub.id, i: 1, d: 1 },
        { expiresInSeconds: 400 * 86_400, now: longAgo },
      );
      const page = await h.app.inject({ url: `/u/${token}?lang=en` });
      expect(page.statusCode).toBe(200);
      expect(page.body).toContain('<form method="post"');
      const res =
        via === 'one-click'
          ? await request(`${listening}/u/${token}`, {
              method: 'POST',
              headers: { 'content-type': 'application/x-www-form-urlencoded' },
              body: 'List-Unsubscribe=One-Click',
            })
          : await request(`${listening}/unsubscribe/${token}`, {
              method: 'POST',
              headers: FORM,
              body: 'scope=all',
            });
      expect(res.statusCode, via).toBe(200);
      await res.body.text();
      expect((await getSubscriber(h.ctx.db, sub.id))?.status, via).toBe('unsubscribed');
    }
  });

  it('does not accept a preferences token as an unsubscribe token', async () => {
    const sub = await reader();
    const prefToken = path(linksFor(sub.id).preferencesUrl).slice('/preferences/'.length);
    const res = await h.app.inject({
      method: 'POST',
      url: `/u/${prefToken}`,
      payload: 'List-Unsubscribe=One-Click',
      headers: FORM,
    });
    expect(res.statusCode).toBe(400);
    expect((await getSubscriber(h.ctx.db, sub.id))?.status).toBe('active');
  });
});

describe('preference centre', () => {
  it('shows the current sections, name and locale', async () => {
    const sub = await reader({ sectionKeys: ['foreign-regulation'], locale: 'zh-CN' });
    const res = await h.app.inject({ url: path(linksFor(sub.id).preferencesUrl) });
    expect(res.statusCode).toBe(200);
    expect(res.body).toContain('偏好设置');
    expect(res.body).toMatch(/value="foreign-regulation" checked/);
    expect(res.body).not.toMatch(/value="case-studies" checked/);
    expect(res.body).toMatch(/<option value="zh-CN" selected>/);
  });

  it('saves sections, name and locale, and the page follows the new locale', async () => {
    const sub = await reader({ locale: 'zh-CN' });
    const url = path(linksFor(sub.id).preferencesUrl);
    const res = await h.app.inject({
      method: 'POST',
      url,
      headers: FORM,
      payload: form({
        action: 'save',
        name: 'Ada <b>',
        locale: 'en',
        sections: ['case-studies', 'industry-news'],
      }),
    });
    expect(res.statusCode).toBe(200);
    expect(res.body).toContain('Saved.');
    expect(res.body).toContain('value="Ada &lt;b&gt;"');
    const after = await getSubscriber(h.ctx.db, sub.id);
    expect(after?.name).toBe('Ada <b>');
    expect(after?.locale).toBe('en');
    expect(after?.sectionKeys).toEqual(['case-studies', 'industry-news']);
  });

  it('refuses an empty section choice and keeps the old one', async () => {
    const sub = await reader();
    const res = await h.app.inject({
      method: 'POST',
      url: path(linksFor(sub.id).preferencesUrl),
      headers: FORM,
      payload: form({ action: 'save', name: 'x', locale: 'en' }),
    });
    expect(res.statusCode).toBe(400);
    expect((await getSubscriber(h.ctx.db, sub.id))?.all_sections).toBe(true);
  });

  it('lets the reader leave from the preference centre', async () => {
    const sub = await reader();
    const res = await h.app.inject({
      method: 'POST',
      url: path(linksFor(sub.id).preferencesUrl),
      headers: FORM,
      payload: form({ action: 'leave' }),
    });
    expect(res.statusCode).toBe(200);
    expect((await getSubscriber(h.ctx.db, sub.id))?.status).toBe('unsubscribed');
  });

  it('does not re-activate an unsubscribed reader who saves preferences', async () => {
    const sub = await reader();
    const url = path(linksFor(sub.id).preferencesUrl);
    await h.app.inject({ method: 'POST', url, headers: FORM, payload: form({ action: 'leave' }) });
    const res = await h.app.inject({
      method: 'POST',
      url,
      headers: FORM,
      payload: form({ action: 'save', locale: 'en', sections: ['case-studies'] }),
    });
    expect(res.statusCode).toBe(200);
    expect(res.body).toContain('not subscribed at the moment');
    expect((await getSubscriber(h.ctx.db, sub.id))?.status).toBe('unsubscribed');
  });

  it('answers a tampered preferences link with 400', async () => {
    const sub = await reader();
    const url = path(linksFor(sub.id).preferencesUrl);
    const res = await h.app.inject({ url: `${url.slice(0, -3)}abc` });
    expect(res.statusCode).toBe(400);
  });
});

describe('web version link', () => {
  it('redirects a signed web-version link to the issue archive page and refuses a forged one', async () => {
    const sub = await reader();
    const url = path(linksFor(sub.id).webVersionUrl);
    const res = await h.app.inject({ url });
    expect(res.statusCode).toBe(302);
    expect(res.headers.location).toBe('/archive/999');
    expect((await h.app.inject({ url: `${url}x` })).statusCode).toBe(400);
  });
});

describe('health', () => {
  it('reports the database as reachable', async () => {
    const res = await h.app.inject({ url: '/healthz' });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ ok: true, database: 'ok' });
  });
});
