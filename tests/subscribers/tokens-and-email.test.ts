import { describe, expect, it } from 'vitest';
import { verifyLinkToken } from '../../src/security/link-tokens.js';
import { recipientLinks } from '../../src/security/recipient-links.js';
import { signToken, TokenError, verifyToken } from '../../src/security/tokens.js';
import { InvalidEmailError, normalizeEmail } from '../../subscribers/email.js';

const OLD = { current: 'o'.repeat(40) };
const ROTATED = { current: 'n'.repeat(40), previous: 'o'.repeat(40) };

function reason(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    if (err instanceof TokenError) return err.reason;
    throw err;
  }
  return undefined;
}

describe('signed tokens', () => {
  it('round-trips a payload as a compact URL-safe token', () => {
    const token = signToken(OLD, { p: 'pref', s: 42 });
    expect(token).toMatch(/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{43}$/);
    expect(verifyToken(OLD, token)).toEqual({ p: 'pref', s: 42 });
  });

  it('still accepts tokens signed with the previous key during rotation, and signs with the new one', () => {
    const old = signToken(OLD, { s: 1 });
    expect(verifyToken(ROTATED, old)).toEqual({ s: 1 });
    const fresh = signToken(ROTATED, { s: 2 });
    expect(reason(() => verifyToken(OLD, fresh))).toBe('bad-signature');
    expect(reason(() => verifyToken({ current: 'x'.repeat(40) }, old))).toBe('bad-signature');
  });

  it('rejects a changed payload, a changed signature and garbage with typed reasons', () => {
    const token = signToken(OLD, { s: 1 });
    const [body, sig] = token.split('.');
    const forgedBody = Buffer.from(JSON.stringify({ s: 2 })).toString('base64url');
    expect(reason(() => verifyToken(OLD, `${forgedBody}.${sig}`))).toBe('bad-signature');
    expect(reason(() => verifyToken(OLD, `${body}.${sig?.slice(0, -1)}A`))).toBe('bad-signature');
    expect(reason(() => verifyToken(OLD, 'nonsense'))).toBe('malformed');
    expect(reason(() => verifyToken(OLD, 'a.b.c'))).toBe('malformed');
  });

  it('expires tokens at their expiry time', () => {
    const issued = new Date('2026-01-01T00:00:00Z');
    const token = signToken(OLD, { s: 1 }, { expiresInSeconds: 60, now: issued });
    expect(verifyToken(OLD, token, { now: new Date('2026-01-01T00:00:59Z') }).s).toBe(1);
    expect(reason(() => verifyToken(OLD, token, { now: new Date('2026-01-01T00:01:00Z') }))).toBe('expired');
  });

  it('refuses a valid token used for another purpose', () => {
    const pref = signToken(OLD, { p: 'pref', s: 1 });
    expect(reason(() => verifyLinkToken(OLD, pref, 'unsub'))).toBe('bad-signature');
    expect(verifyLinkToken(OLD, pref, 'pref').s).toBe(1);
  });

  it('builds every per-recipient link from one call', () => {
    const links = recipientLinks(OLD, 'https://news.example.org/', {
      subscriberId: 7,
      issueId: 3,
      deliveryId: 99,
    });
    expect(links.oneClickUnsubscribeUrl).toMatch(/^https:\/\/news\.example\.org\/u\/[\w-]+\.[\w-]+$/);
    expect(links.unsubscribeUrl).toMatch(/^https:\/\/news\.example\.org\/unsubscribe\//);
    expect(links.preferencesUrl).toMatch(/^https:\/\/news\.example\.org\/preferences\//);
    expect(links.webVersionUrl).toMatch(/^https:\/\/news\.example\.org\/web\//);
    const unsub = verifyLinkToken(OLD, links.oneClickUnsubscribeUrl.split('/u/')[1] ?? '', 'unsub');
    expect(unsub).toMatchObject({ s: 7, i: 3, d: 99 });
    expect(verifyLinkToken(OLD, links.trackingToken, 'trk')).toMatchObject({ d: 99, s: 7, i: 3 });
    expect(verifyLinkToken(OLD, links.webVersionUrl.split('/web/')[1] ?? '', 'web')).toMatchObject({
      i: 3,
      s: 7,
    });
  });
});

describe('normalizeEmail', () => {
  it('trims, lower-cases and converts an international domain to punycode', () => {
    expect(normalizeEmail('  Zhang.San@Example.COM ')).toBe('zhang.san@example.com');
    expect(normalizeEmail('li@例子.中国')).toBe('li@xn--fsqu00a.xn--fiqs8s');
  });

  it.each([
    ['a@example.com\r\nBcc: x@example.com', 'line break'],
    ['a@example.com\nX: y', 'line break'],
    ['a\u0000@example.com', 'control character'],
    ['"A" <a@example.com>', 'space or one of'],
    ['a@example.com, b@example.com', 'space or one of'],
    ['a@b@example.com', 'more than one @'],
    ['example.com', 'no @'],
    ['@example.com', 'nothing before the @'],
    ['a@', 'no domain'],
    ['a@localhost', 'not a valid domain'],
    ['a@-bad.example', 'not a valid domain'],
    ['a..b@example.com', 'local part'],
    [`${'x'.repeat(65)}@example.com`, 'longer than 64'],
    ['', 'empty'],
    ['=1+1@example.com', 'starts with = + or -'],
    ['+cmd@example.com', 'starts with = + or -'],
    ['-2+3@example.com', 'starts with = + or -'],
  ])('refuses %j, saying what is wrong', (raw, problem) => {
    expect(() => normalizeEmail(raw)).toThrow(InvalidEmailError);
    expect(() => normalizeEmail(raw)).toThrow(problem);
  });
});
