import { simpleParser } from 'mailparser';
import { describe, expect, it } from 'vitest';
import { BufferPool } from '../../src/delivery/buffer-pool.js';
import { CircuitBreaker } from '../../src/delivery/circuit-breaker.js';
import { classifySmtpReply, retryDelayMs } from '../../src/delivery/classify.js';
import { buildMimeTemplate, type RecipientValues } from '../../src/delivery/mime.js';
import { pickWeighted, weightedOrder } from '../../src/delivery/relay-scheduler.js';
import { parseRelayUrls } from '../../src/delivery/relay-spec.js';

describe('classifySmtpReply', () => {
  it.each([
    [{ responseCode: 250, response: '250 2.0.0 Ok: queued' }, 'accepted'],
    [{ responseCode: 451, response: '451 4.3.0 Try again later' }, 'retry'],
    [{ responseCode: 450, response: '450 4.2.1 Mailbox busy' }, 'retry'],
    [{ responseCode: 421, response: '421 4.7.0 Too many connections' }, 'throttle'],
    [{ responseCode: 454, response: '454 4.7.1 Relay access temporarily denied' }, 'throttle'],
    [{ responseCode: 550, response: '550 5.1.1 User unknown' }, 'fail-suppress'],
    [{ responseCode: 550, response: '550 No such mailbox' }, 'fail-suppress'],
    [{ responseCode: 552, response: '552 5.3.4 Message too big' }, 'fail'],
    [{ responseCode: 554, response: '554 5.7.1 Spam content' }, 'fail-block'],
    [{ responseCode: 550, response: '550 5.7.1 Policy rejection' }, 'fail-block'],
    [{ responseCode: 550, response: '550 Mailbox unavailable or access denied' }, 'throttle'],
    [{ responseCode: 550, response: '550 Requested action not taken' }, 'fail'],
    [{ code: 'EAUTH', responseCode: 535, response: '535 5.7.8 Authentication failed' }, 'pause-issue'],
    [{ code: 'ETLS', message: 'unable to verify the first certificate' }, 'pause-issue'],
    [{ code: 'ECONNECTION', command: 'CONN', message: 'connect ECONNREFUSED 127.0.0.1:25' }, 'retry'],
    [{ code: 'ESOCKET', command: 'CONN', message: 'read ECONNRESET' }, 'unknown'],
    [
      { code: 'ECONNECTION', message: 'Reached maximum number of retries after connection was closed' },
      'unknown',
    ],
  ])('%o → %s', (outcome, decision) => {
    expect(classifySmtpReply(outcome).decision).toBe(decision);
  });

  it('backs off exponentially with jitter', () => {
    expect(retryDelayMs(1, 1000, () => 0)).toBe(500);
    expect(retryDelayMs(1, 1000, () => 1)).toBe(1000);
    expect(retryDelayMs(3, 1000, () => 1)).toBe(4000);
    expect(retryDelayMs(3, 1000, () => 0)).toBe(2000);
  });
});

describe('CircuitBreaker', () => {
  it('trips when the failure share of the window crosses the threshold, not before enough results', () => {
    const b = new CircuitBreaker(20, 0.5, 10);
    for (let i = 0; i < 9; i++) expect(b.record(true)).toBe(false);
    expect(b.record(true)).toBe(true);
    const ok = new CircuitBreaker(20, 0.5, 10);
    for (let i = 0; i < 40; i++) expect(ok.record(i % 3 === 0)).toBe(false);
  });
});

describe('relays', () => {
  it('reads weights and rate limits from each URL fragment and picks by weight', () => {
    const specs = parseRelayUrls(
      ['smtp://a.example:25#weight=3&perSecond=10', 'smtps://u:p@b.example#perHour=500'],
      {
        perSecond: 0,
        perHour: 0,
      },
    );
    expect(specs.map((s) => [s.name, s.weight, s.perSecond, s.perHour])).toEqual([
      ['a.example:25', 3, 10, 0],
      ['b.example:465', 1, 0, 500],
    ]);
    expect(specs[0]?.url).toBe('smtp://a.example:25');
    expect(pickWeighted(specs, () => 0.7).name).toBe('a.example:25');
    expect(pickWeighted(specs, () => 0.8).name).toBe('b.example:465');
    expect(() => parseRelayUrls(['smtp://a#weight=x'])).toThrow(/weight/);
  });

  it('orders every relay by weight for fallback, weight 0 last', () => {
    const t = (name: string, weight: number) => ({ name, spec: { weight } });
    const items = [t('spare', 0), t('a', 3), t('b', 1)];
    // First draw 0.9 of 4 lands on b; then a is the only weighted one left; then spare.
    const draws = [0.9, 0.5, 0.5];
    expect(weightedOrder(items, () => draws.shift() as number).map((i) => i.name)).toEqual([
      'b',
      'a',
      'spare',
    ]);
    expect(weightedOrder(items, () => 0).map((i) => i.name)).toEqual(['a', 'b', 'spare']);
    expect(weightedOrder([], Math.random)).toEqual([]);
  });
});

describe('MIME template', () => {
  const longCjk = '人工智能治理须在联合国宪章和各国监管框架下开展，尊重国家主权。'.repeat(40);
  const variant = {
    variantKey: 'zh-CN:domestic',
    subject: '数字科技与人工智能每月资讯（2025年7月）',
    html: `<html><body><p style="margin:0">您好 {{name}}</p><p>${longCjk}</p><a href="{{unsubscribeUrl}}">退订</a><img src="https://t/{{trackingToken}}"></body></html>`,
    text: `您好 {{name}}\n\n${longCjk}\n\n退订：{{unsubscribeUrl}}`,
  };
  const recipient: RecipientValues = {
    deliveryId: 42,
    address: 'reader@example.net',
    name: '张三 <x>',
    oneClickUnsubscribeUrl: 'https://n.example/u/tok/one-click',
    tokens: {
      name: '张三 <x>',
      unsubscribeUrl: 'https://n.example/u/tok?a=1&b=2',
      preferencesUrl: 'https://n.example/p/tok',
      webVersionUrl: 'https://n.example/w/tok',
      trackingToken: 'trk.42',
    },
  };
  const opts = {
    issueId: 7,
    from: '数字科技委员会 <news@example.org>',
    messageIdDomain: 'example.org',
    listId: 'Digest <digest.example.org>',
    feedbackId: '7:1:newsletter:example.org',
  };

  for (const eightBit of [true, false]) {
    it(`builds a message mailparser reads back (${eightBit ? '8bit' : 'base64'}), lines within 998 octets`, async () => {
      const t = buildMimeTemplate(variant, { ...opts, eightBit });
      expect(t.eightBit).toBe(eightBit);
      const { raw, messageId } = t.render(recipient);
      for (const line of raw.toString('utf8').split('\r\n'))
        expect(Buffer.byteLength(line)).toBeLessThanOrEqual(998);
      expect(raw.includes(Buffer.from('Content-Transfer-Encoding: base64'))).toBe(!eightBit);
      const m = await simpleParser(raw);
      expect(m.messageId).toBe(`<${messageId}>`);
      expect(m.subject).toBe(variant.subject);
      expect(m.to && 'value' in m.to ? m.to.value[0]?.address : '').toBe('reader@example.net');
      expect(m.from?.value[0]).toEqual({ address: 'news@example.org', name: '数字科技委员会' });
      expect(m.html).toContain('您好 张三 &lt;x&gt;');
      // The one escaper (src/rendering/escape.ts) also writes = as an entity; a browser reads a=1&b=2.
      expect(m.html).toContain('href="https://n.example/u/tok?a&#61;1&amp;b&#61;2"');
      expect((m.html as string).replace(/<!--\r?\n-->/g, '')).toContain(longCjk);
      expect(m.text).toContain('您好 张三 <x>');
      expect(m.text?.replace(/\r?\n/g, '')).toContain(longCjk);
      expect(m.text).toContain('退订：https://n.example/u/tok?a=1&b=2');
    });
  }

  it('writes into a reused buffer when it fits, and allocates when it does not', () => {
    const t = buildMimeTemplate(variant, { ...opts, eightBit: true });
    const when = new Date(0);
    const fresh = t.render(recipient, when).raw;
    const pool = new BufferPool(1);
    const big = pool.take(t.approxBytes + 8192);
    expect(big.length % 16384).toBe(0);
    const reused = t.render(recipient, when, big).raw;
    expect(reused.equals(fresh)).toBe(true);
    expect(reused.buffer).toBe(big.buffer);
    // Another recipient in the same buffer later: the bytes are that recipient's alone.
    const other = t.render({ ...recipient, deliveryId: 43, name: 'Li' }, when, big).raw;
    expect(other.equals(t.render({ ...recipient, deliveryId: 43, name: 'Li' }, when).raw)).toBe(true);
    const small = Buffer.alloc(10);
    expect(t.render(recipient, when, small).raw.buffer).not.toBe(small.buffer);
    pool.give(big);
    pool.give(Buffer.alloc(16));
    expect(pool.size).toBe(1);
    expect(pool.take(100)).toBe(big);
    expect(pool.take(100)).not.toBe(big);
  });

  it('refuses an address that could inject headers', () => {
    const t = buildMimeTemplate(variant, { ...opts, eightBit: true });
    expect(() => t.render({ ...recipient, address: 'a@b.c\r\nBcc: x@y.z' })).toThrow(/plain mailbox/);
  });
});
