import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { FORM, form, type Harness, linkPath, startHarness } from './support.js';

let h: Harness;
beforeAll(async () => {
  h = await startHarness({ SUBSCRIBE_RATE_PER_MINUTE: '1000' });
});
afterAll(async () => h?.close());
beforeEach(() => {
  h.smtp.messages.length = 0;
  h.clock.now = new Date();
});

async function subscribe(fields: Record<string, string | string[]>) {
  const res = await h.app.inject({ method: 'POST', url: '/subscribe', headers: FORM, payload: form(fields) });
  await h.app.background.settle();
  return res;
}

/** Opens the mailed link (a page with a button) and presses the button. */
async function confirmVia(path: string) {
  return h.app.inject({ method: 'POST', url: path });
}

async function statusOf(email: string) {
  const row = await h.ctx.db
    .selectFrom('subscribers')
    .select(['status', 'all_sections', 'consent_source', 'confirmed_at'])
    .where('email_normalized', '=', email)
    .executeTakeFirst();
  return row;
}

describe('subscribe form and double opt-in', () => {
  it('shows the subscribe form in Chinese and in English without any script', async () => {
    const zh = await h.app.inject({ url: '/subscribe', headers: { 'accept-language': 'zh-CN,zh;q=0.9' } });
    expect(zh.statusCode).toBe(200);
    expect(zh.body).toContain('<html lang="zh-CN">');
    expect(zh.body).toContain('新规概览');
    expect(zh.body).not.toContain('<script');
    const en = await h.app.inject({ url: '/subscribe?lang=en' });
    expect(en.body).toContain('<html lang="en">');
    expect(en.body).toContain('Domestic regulation');
  });

  it('creates a pending subscriber and mails a confirmation link that activates them', async () => {
    const res = await subscribe({ email: 'Reader.One@Example.COM', name: '读者一', locale: 'zh-CN' });
    expect(res.statusCode).toBe(200);
    expect((await statusOf('reader.one@example.com'))?.status).toBe('pending');
    const mails = await h.mails();
    expect(mails).toHaveLength(1);
    expect(mails[0]?.to).toBe('reader.one@example.com');
    expect(mails[0]?.subject).toContain('请确认订阅');
    const path = linkPath(mails[0]?.text ?? '', '/confirm/');
    // Opening the link (as a mail scanner would) only shows a button.
    const page = await h.app.inject({ url: path });
    expect(page.statusCode).toBe(200);
    expect(page.body).toContain(`<form method="post" action="${path}">`);
    expect((await statusOf('reader.one@example.com'))?.status).toBe('pending');
    const confirm = await confirmVia(path);
    expect(confirm.statusCode).toBe(200);
    expect(confirm.body).toContain('订阅已确认');
    const row = await statusOf('reader.one@example.com');
    expect(row?.status).toBe('active');
    expect(row?.consent_source).toBe('form');
    expect(row?.confirmed_at).toBeInstanceOf(Date);
  });

  it('treats confirming twice as harmless', async () => {
    await subscribe({ email: 'twice@example.com', locale: 'en' });
    const path = linkPath((await h.mails())[0]?.text ?? '', '/confirm/');
    expect((await confirmVia(path)).statusCode).toBe(200);
    const first = await statusOf('twice@example.com');
    const again = await confirmVia(path);
    expect(again.statusCode).toBe(200);
    expect(again.body).toContain('Already confirmed');
    const second = await statusOf('twice@example.com');
    expect(second?.status).toBe('active');
    expect(second?.confirmed_at?.getTime()).toBe(first?.confirmed_at?.getTime());
  });

  it('refuses an expired confirmation link with 410 and leaves the subscriber pending', async () => {
    await subscribe({ email: 'late@example.com', locale: 'en' });
    const path = linkPath((await h.mails())[0]?.text ?? '', '/confirm/');
    h.clock.now = new Date(Date.now() + (h.env.CONFIRM_TOKEN_TTL_HOURS + 1) * 3600_000);
    for (const method of ['GET', 'POST'] as const) {
      const res = await h.app.inject({ method, url: `${path}?lang=en` });
      expect(res.statusCode).toBe(410);
      expect(res.body).toContain('Link expired');
    }
    expect((await statusOf('late@example.com'))?.status).toBe('pending');
  });

  it('refuses a tampered confirmation link with 400 and changes nothing', async () => {
    await subscribe({ email: 'tamper@example.com', locale: 'en' });
    const path = linkPath((await h.mails())[0]?.text ?? '', '/confirm/');
    const token = path.slice('/confirm/'.length);
    const [body, sig] = token.split('.');
    const payload = JSON.parse(Buffer.from(body ?? '', 'base64url').toString());
    payload.s = payload.s + 1;
    const forged = `${Buffer.from(JSON.stringify(payload)).toString('base64url')}.${sig}`;
    for (const bad of [forged, `${token.slice(0, -2)}xx`, 'not-a-token']) {
      const res = await h.app.inject({ method: 'POST', url: `/confirm/${bad}?lang=en` });
      expect(res.statusCode).toBe(400);
      expect(res.body).toContain('Invalid link');
    }
    expect((await statusOf('tamper@example.com'))?.status).toBe('pending');
  });

  it('gives the same answer for new, pending, active, unsubscribed and suppressed addresses', async () => {
    await subscribe({ email: 'known@example.com', locale: 'en' });
    await confirmVia(linkPath((await h.mails())[0]?.text ?? '', '/confirm/'));
    await h.ctx.db
      .insertInto('suppressions')
      .values({ kind: 'address', value: 'blocked@example.com', reason: 'manual' })
      .execute();
    await subscribe({ email: 'pending@example.com', locale: 'en' });
    h.clock.now = new Date(Date.now() + 11 * 60_000); // past the one-mail-per-address window
    const answers = [];
    for (const email of [
      'brand-new@example.com',
      'pending@example.com',
      'known@example.com',
      'blocked@example.com',
    ]) {
      const res = await subscribe({ email, locale: 'en' });
      answers.push({ status: res.statusCode, body: res.body });
    }
    expect(new Set(answers.map((a) => a.status))).toEqual(new Set([200]));
    expect(new Set(answers.map((a) => a.body)).size).toBe(1);
    // The JSON endpoint for embedded forms answers the same way too.
    const api = [];
    for (const email of ['another-new@example.com', 'known@example.com', 'blocked@example.com']) {
      const res = await h.app.inject({ method: 'POST', url: '/api/v1/subscribe', payload: { email } });
      await h.app.background.settle();
      api.push(`${res.statusCode} ${res.body}`);
    }
    expect(new Set(api)).toEqual(new Set(['202 {"status":"confirmation_pending"}']));
    // The suppressed address got no mail; the active one got a reminder, not a confirmation.
    const mails = await h.mails();
    expect(mails.some((m) => m.to === 'blocked@example.com')).toBe(false);
    const toKnown = mails.filter((m) => m.to === 'known@example.com');
    expect(toKnown.at(-1)?.subject).toContain('already subscribed');
    expect(await statusOf('blocked@example.com')).toBeUndefined();
  });

  it('answers a malformed address with 400 naming the problem, and never sends', async () => {
    const res = await subscribe({ email: 'victim@example.com\r\nBcc: all@example.com', locale: 'en' });
    expect(res.statusCode).toBe(400);
    expect(res.body).toContain('line break');
    const api = await h.app.inject({
      method: 'POST',
      url: '/api/v1/subscribe',
      payload: { email: 'no-at-sign' },
    });
    expect(api.statusCode).toBe(400);
    expect(api.json().error).toContain('no @');
    expect(h.smtp.messages).toHaveLength(0);
  });

  it('stores the chosen sections for a new subscriber', async () => {
    await subscribe({
      email: 'picky@example.com',
      locale: 'en',
      sections: ['case-studies', 'industry-news'],
    });
    const row = await statusOf('picky@example.com');
    expect(row?.all_sections).toBe(false);
    const keys = await h.ctx.db
      .selectFrom('subscriber_sections')
      .innerJoin('sections', 'sections.id', 'subscriber_sections.section_id')
      .innerJoin('subscribers', 'subscribers.id', 'subscriber_sections.subscriber_id')
      .where('subscribers.email_normalized', '=', 'picky@example.com')
      .select('sections.key')
      .execute();
    expect(keys.map((k) => k.key).sort()).toEqual(['case-studies', 'industry-news']);
  });

  it('does not let an old confirmation link undo a later unsubscribe', async () => {
    await subscribe({ email: 'leaver@example.com', locale: 'en' });
    const path = linkPath((await h.mails())[0]?.text ?? '', '/confirm/');
    await confirmVia(path);
    h.clock.now = new Date(Date.now() + 60_000);
    await h.ctx.db
      .updateTable('subscribers')
      .set({ status: 'unsubscribed', unsubscribed_at: h.clock.now })
      .where('email_normalized', '=', 'leaver@example.com')
      .execute();
    const replay = await h.app.inject({ method: 'POST', url: `${path}?lang=en` });
    expect(replay.statusCode).toBe(410);
    expect((await statusOf('leaver@example.com'))?.status).toBe('unsubscribed');
    // Signing up again sends a fresh link, which does bring them back.
    h.smtp.messages.length = 0;
    h.clock.now = new Date(Date.now() + 11 * 60_000); // past the one-mail-per-10-minutes window
    await subscribe({ email: 'leaver@example.com', locale: 'en' });
    await confirmVia(linkPath((await h.mails())[0]?.text ?? '', '/confirm/'));
    expect((await statusOf('leaver@example.com'))?.status).toBe('active');
  });

  it('mails one address at most once in 10 minutes, however many clients ask, and answers each the same', async () => {
    const answers: string[] = [];
    for (let i = 1; i <= 6; i++) {
      const res = await h.app.inject({
        method: 'POST',
        url: '/subscribe',
        headers: FORM,
        remoteAddress: `203.0.113.${i}`,
        payload: form({ email: 'six-times@example.com', locale: 'en' }),
      });
      await h.app.background.settle();
      answers.push(`${res.statusCode} ${res.body}`);
    }
    expect((await h.mails()).filter((m) => m.to === 'six-times@example.com')).toHaveLength(1);
    // A fresh address gets the same answer: the throttle says nothing about who exists.
    const fresh = await subscribe({ email: 'someone-new@example.com', locale: 'en' });
    expect(new Set([...answers, `${fresh.statusCode} ${fresh.body}`]).size).toBe(1);
    // Already subscribed: the reminder is throttled the same way.
    await confirmVia(linkPath((await h.mails())[0]?.text ?? '', '/confirm/'));
    h.smtp.messages.length = 0;
    h.clock.now = new Date(Date.now() + 11 * 60_000);
    await subscribe({ email: 'six-times@example.com', locale: 'en' });
    await subscribe({ email: 'six-times@example.com', locale: 'en' });
    expect((await h.mails()).filter((m) => m.to === 'six-times@example.com')).toHaveLength(1);
  });

  it('rate-limits the subscribe form per client', async () => {
    const limited = await (await import('./support.js')).startHarness({ SUBSCRIBE_RATE_PER_MINUTE: '2' });
    try {
      const codes = [];
      for (let i = 0; i < 3; i++) {
        const res = await limited.app.inject({
          method: 'POST',
          url: '/subscribe',
          headers: FORM,
          payload: form({ email: `r${i}@example.com`, locale: 'en' }),
        });
        codes.push(res.statusCode);
      }
      expect(codes).toEqual([200, 200, 429]);
    } finally {
      await limited.close();
    }
  });

  it.each([
    [
      'unset: no proxy is trusted, so X-Forwarded-For from loopback does not rotate the limit',
      {},
      [200, 200, 429],
    ],
    ['names the proxy: its X-Forwarded-For gives the client', { TRUST_PROXY: '127.0.0.1' }, [200, 200, 200]],
  ])('TRUST_PROXY %s', async (_what, env: Record<string, string>, expected) => {
    const limited = await (await import('./support.js')).startHarness({
      SUBSCRIBE_RATE_PER_MINUTE: '2',
      ...env,
    });
    try {
      const codes = [];
      for (let i = 0; i < 3; i++) {
        const res = await limited.app.inject({
          method: 'POST',
          url: '/subscribe',
          remoteAddress: '127.0.0.1',
          headers: { ...FORM, 'x-forwarded-for': `198.51.100.${i + 1}` },
          payload: form({ email: `x${i}@example.com`, locale: 'en' }),
        });
        codes.push(res.statusCode);
      }
      expect(codes).toEqual(expected);
    } finally {
      await limited.close();
    }
  });
});
