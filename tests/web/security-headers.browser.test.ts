import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium } from '../support/chromium.js';
import { startWebHarness, type WebHarness } from './support.js';

/**
 * The clickjacking test of the penetration report: a page on the same host (another port) frames
 * the signed-in /admin/sources. Every page says no framing (CSP frame-ancestors, X-Frame-Options),
 * runs no inline script, and carries nosniff and a Referrer-Policy.
 */
describe('security headers', () => {
  let h: WebHarness;
  let browser: Browser;
  let base: string;
  let attacker: Server;
  let attackerUrl: string;
  let cookie: string;
  beforeAll(async () => {
    h = await startWebHarness();
    cookie = (await h.signIn('admin')).cookie;
    base = await h.serve();
    attacker = createServer((req, res) => {
      const target = new URL(req.url ?? '/', 'http://x').searchParams.get('target') ?? '/admin/sources';
      res.setHeader('content-type', 'text/html; charset=utf-8');
      res.end(
        `<!doctype html><title>win a prize</title><iframe id="f" src="${base}${target}" width="800" height="600"></iframe>`,
      );
    });
    await new Promise<void>((resolve) => attacker.listen(0, '127.0.0.1', resolve));
    attackerUrl = `http://127.0.0.1:${(attacker.address() as AddressInfo).port}/`;
    browser = await launchChromium();
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    await new Promise((resolve) => attacker?.close(resolve));
    await h?.close();
  });

  it.each(['/admin/sources', '/admin/settings', '/subscribe', '/archive', '/healthz', '/api/v1/subscribers'])(
    '%s forbids framing and inline script',
    async (url) => {
      const res = await h.web.inject({ method: 'GET', url, headers: { cookie } });
      const csp = String(res.headers['content-security-policy']);
      expect(csp).toContain("frame-ancestors 'none'");
      expect(csp).toMatch(/script-src 'self'(;|$)/);
      expect(csp).not.toContain("unsafe-inline'; script"); // inline styles only, never inline script
      expect(csp).toContain("script-src-attr 'none'");
      expect(res.headers['x-frame-options']).toBe('DENY');
      expect(res.headers['x-content-type-options']).toBe('nosniff');
      expect(['same-origin', 'no-referrer']).toContain(res.headers['referrer-policy']);
      // The harness's PUBLIC_URL is https: browsers are told to stay on https.
      expect(res.headers['strict-transport-security']).toMatch(/^max-age=\d+/);
    },
  );

  it('sends no HSTS when the public address is plain http', async () => {
    const plain = await startWebHarness({ PUBLIC_URL: 'http://localhost:3000' });
    try {
      const res = await plain.web.inject({ method: 'GET', url: '/subscribe' });
      expect(res.headers['strict-transport-security']).toBeUndefined();
      expect(res.headers['x-frame-options']).toBe('DENY');
    } finally {
      await plain.close();
    }
  });

  it('in Chromium, a page on another port cannot frame the signed-in /admin/sources', async () => {
    const context = await browser.newContext();
    await context.addCookies(
      cookie.split('; ').map((pair) => {
        const [name, ...value] = pair.split('=');
        return { name: name as string, value: value.join('='), url: base };
      }),
    );
    // The session works in this browser: the page itself opens.
    const direct = await context.newPage();
    await direct.goto(`${base}/admin/sources`);
    await expect.poll(() => direct.locator('h1').count()).toBeGreaterThan(0);

    const page = await context.newPage();
    const refusals: string[] = [];
    page.on('console', (m) => {
      if (/frame|ancestor/i.test(m.text())) refusals.push(m.text());
    });
    await page.goto(attackerUrl);
    await page.locator('#f').waitFor();
    await expect.poll(() => refusals.length).toBeGreaterThan(0);
    const frame = page.frames().find((f) => f !== page.mainFrame());
    // Chromium shows its own error page in place of the framed one: nothing of the admin page.
    const framed = frame ? await frame.content().catch(() => '') : '';
    expect(frame?.url()).toMatch(/^chrome-error:/);
    expect(framed).not.toContain('csrf-token');
    expect(refusals.join('\n')).toContain("frame-ancestors 'none'");
    await context.close();
  });
});
