import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SecretKeys } from '../../src/config/secret.js';
import { silentLogger } from '../../src/log.js';
import { recipientLinks } from '../../src/security/recipient-links.js';
import { signToken } from '../../src/security/tokens.js';
import { EventWriter } from '../../src/tracking/event-writer.js';
import { registerIssueLinks } from '../../src/tracking/issue-links.js';
import { PIXEL_GIF, trackingRoutes } from '../../src/http/tracking/routes.js';
import { createTestDatabase, type TestDatabase } from '../support/test-db.js';
import { type SeededIssue, seedSentIssue } from './seed.js';

const secrets: SecretKeys = { current: 'k'.repeat(40) };
const PUBLIC = 'https://news.example.org';

let tdb: TestDatabase;
let app: FastifyInstance;
let writer: EventWriter;
let issue: SeededIssue;
let other: SeededIssue;
let links: Map<string, number>;
let foreignLinkId: number;

function tokenFor(d: SeededIssue['deliveries'][number], issueId: number): string {
  return recipientLinks(secrets, PUBLIC, { subscriberId: d.subscriberId, issueId, deliveryId: d.id })
    .trackingToken;
}

beforeAll(async () => {
  tdb = await createTestDatabase();
  issue = await seedSentIssue(tdb.db, { recipients: 3 });
  other = await seedSentIssue(tdb.db, { recipients: 1, period: '2025-08' });
  links = await registerIssueLinks(tdb.db, issue.issueId, [
    { url: 'https://www.cac.gov.cn/2025-07/a.htm', sectionId: issue.sectionIds.domestic as number },
    { url: 'https://eur-lex.europa.eu/b', sectionId: issue.sectionIds.foreign as number },
  ]);
  foreignLinkId = (await registerIssueLinks(tdb.db, other.issueId, ['https://evil.example.net/phish'])).get(
    'https://evil.example.net/phish',
  ) as number;
  // A long interval: rows appear only when the test flushes, so each assertion sees what it caused.
  writer = new EventWriter({ db: tdb.db, log: silentLogger, flushIntervalMs: 60_000 });
  app = Fastify();
  await app.register(trackingRoutes, { db: tdb.db, log: silentLogger, secrets, writer });
  await app.ready();
});

afterAll(async () => {
  await app?.close();
  await writer?.close();
  await tdb?.drop();
});

async function events(type: string) {
  await writer.flush();
  return tdb.db
    .selectFrom('events')
    .selectAll()
    .where('type', '=', type as never)
    .orderBy('id')
    .execute();
}

describe('open pixel', () => {
  it('answers a 1x1 GIF that is never cached and records the first open once', async () => {
    const d = issue.deliveries[0] as SeededIssue['deliveries'][number];
    const url = `/t/o/${tokenFor(d, issue.issueId)}.gif`;
    for (let i = 0; i < 3; i++) {
      const res = await app.inject({ method: 'GET', url, headers: { 'user-agent': 'Thunderbird/128' } });
      expect(res.statusCode).toBe(200);
      expect(res.headers['content-type']).toBe('image/gif');
      expect(res.headers['cache-control']).toContain('no-store');
      expect(res.rawPayload.equals(PIXEL_GIF)).toBe(true);
    }
    const opens = (await events('open')).filter((e) => Number(e.delivery_id) === d.id);
    expect(opens).toHaveLength(1);
    expect(opens[0]?.proxied).toBe(false);
    expect(opens[0]?.dedupe_key).toBe(`open:${d.id}`);
  });

  it('also answers the pixel without the .gif suffix (the footer template writes /t/o/<token>)', async () => {
    const d = issue.deliveries[0] as SeededIssue['deliveries'][number];
    const res = await app.inject({ method: 'GET', url: `/t/o/${tokenFor(d, issue.issueId)}` });
    expect(res.statusCode).toBe(200);
    expect(res.rawPayload.equals(PIXEL_GIF)).toBe(true);
    expect((await events('open')).filter((e) => Number(e.delivery_id) === d.id)).toHaveLength(1);
  });

  it('flags an open through Google’s image proxy instead of hiding it', async () => {
    const d = issue.deliveries[1] as SeededIssue['deliveries'][number];
    const res = await app.inject({
      method: 'GET',
      url: `/t/o/${tokenFor(d, issue.issueId)}.gif`,
      headers: {
        'user-agent':
          'Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)',
      },
    });
    expect(res.statusCode).toBe(200);
    const opens = (await events('open')).filter((e) => Number(e.delivery_id) === d.id);
    expect(opens).toHaveLength(1);
    expect(opens[0]?.proxied).toBe(true);
    expect(opens[0]?.detail).toEqual({ proxy: 'google-image-proxy' });
  });

  it('still serves the image for a tampered token but records nothing', async () => {
    const before = (await events('open')).length;
    const d = issue.deliveries[2] as SeededIssue['deliveries'][number];
    const good = tokenFor(d, issue.issueId);
    const [body, mac] = good.split('.') as [string, string];
    const forgedBody = Buffer.from(JSON.stringify({ p: 'trk', d: 999999, s: 1, i: issue.issueId })).toString(
      'base64url',
    );
    for (const bad of [`${forgedBody}.${mac}`, `${body}.${mac.slice(0, -2)}AA`, 'garbage', `${body}`]) {
      const res = await app.inject({ method: 'GET', url: `/t/o/${bad}.gif` });
      expect(res.statusCode).toBe(200);
      expect(res.headers['content-type']).toBe('image/gif');
    }
    expect(await events('open')).toHaveLength(before);
  });
});

describe('click redirect', () => {
  it('redirects to the registered URL and counts every click, recording the first per link once', async () => {
    const d = issue.deliveries[0] as SeededIssue['deliveries'][number];
    const linkId = links.get('https://www.cac.gov.cn/2025-07/a.htm') as number;
    for (let i = 0; i < 3; i++) {
      const res = await app.inject({ method: 'GET', url: `/t/c/${tokenFor(d, issue.issueId)}/${linkId}` });
      expect(res.statusCode).toBe(302);
      expect(res.headers.location).toBe('https://www.cac.gov.cn/2025-07/a.htm');
    }
    const clicks = (await events('click')).filter((e) => Number(e.delivery_id) === d.id);
    expect(clicks).toHaveLength(3);
    expect(clicks.filter((c) => c.dedupe_key === `click:${d.id}:${linkId}`)).toHaveLength(1);
    expect(clicks.filter((c) => c.subtype === 'repeat')).toHaveLength(2);
    const link = await tdb.db
      .selectFrom('issue_links')
      .select('click_count')
      .where('id', '=', linkId)
      .executeTakeFirstOrThrow();
    expect(link.click_count).toBe(3);
  });

  it('refuses a link id from another issue with 404, never redirecting there', async () => {
    const d = issue.deliveries[1] as SeededIssue['deliveries'][number];
    const res = await app.inject({
      method: 'GET',
      url: `/t/c/${tokenFor(d, issue.issueId)}/${foreignLinkId}`,
    });
    expect(res.statusCode).toBe(404);
    expect(res.headers.location).toBeUndefined();
    expect(res.body).not.toContain('evil.example.net');
  });

  it('refuses unknown and malformed link ids', async () => {
    const d = issue.deliveries[1] as SeededIssue['deliveries'][number];
    const token = tokenFor(d, issue.issueId);
    expect((await app.inject({ method: 'GET', url: `/t/c/${token}/987654` })).statusCode).toBe(404);
    for (const bad of ['-1', '1e3', 'abc', encodeURIComponent('https://evil.example.net')]) {
      const res = await app.inject({ method: 'GET', url: `/t/c/${token}/${bad}` });
      expect(res.statusCode).toBe(400);
      expect(res.headers.location).toBeUndefined();
    }
  });

  it('refuses a tampered token with 400, even one that names the other issue', async () => {
    const before = (await events('click')).length;
    const d = issue.deliveries[1] as SeededIssue['deliveries'][number];
    const good = tokenFor(d, issue.issueId);
    const mac = good.split('.')[1] as string;
    const forged = `${Buffer.from(JSON.stringify({ p: 'trk', d: d.id, s: d.subscriberId, i: other.issueId })).toString('base64url')}.${mac}`;
    const wrongKey = signToken(
      { current: 'x'.repeat(40) },
      { p: 'trk', d: d.id, s: d.subscriberId, i: other.issueId },
    );
    // A valid token made for another purpose (unsubscribe) is not a tracking token.
    const unsub = signToken(secrets, { p: 'unsub', s: d.subscriberId, i: other.issueId, d: d.id });
    for (const bad of [forged, wrongKey, unsub, 'not-a-token']) {
      const res = await app.inject({ method: 'GET', url: `/t/c/${bad}/${foreignLinkId}` });
      expect(res.statusCode).toBe(400);
      expect(res.headers.location).toBeUndefined();
    }
    expect(await events('click')).toHaveLength(before);
  });
});

describe('statistics endpoint', () => {
  it('returns the issue’s statistics as JSON, including events still queued', async () => {
    const d = issue.deliveries[2] as SeededIssue['deliveries'][number];
    const linkId = links.get('https://eur-lex.europa.eu/b') as number;
    await app.inject({ method: 'GET', url: `/t/c/${tokenFor(d, issue.issueId)}/${linkId}` });
    const res = await app.inject({ method: 'GET', url: `/api/issues/${issue.issueId}/stats` });
    expect(res.statusCode).toBe(200);
    const s = res.json();
    expect(s.totals.prepared).toBe(3);
    expect(s.totals.opened).toBe(2);
    expect(s.totals.openedDirect).toBe(1);
    expect(s.totals.clickedUnique).toBe(2);
    expect(s.totals.clicksTotal).toBe(4);
    expect(s.topLinks[0]).toMatchObject({
      url: 'https://www.cac.gov.cn/2025-07/a.htm',
      clicksTotal: 3,
      clickedUnique: 1,
    });
  });

  it('answers 404 for an unknown issue and 400 for a bad id', async () => {
    expect((await app.inject({ method: 'GET', url: '/api/issues/99999/stats' })).statusCode).toBe(404);
    expect((await app.inject({ method: 'GET', url: '/api/issues/abc/stats' })).statusCode).toBe(400);
  });
});

describe('over a listening socket', () => {
  it('answers concurrent clicks from many recipients with redirects and records each', async () => {
    const server = Fastify();
    await server.register(trackingRoutes, { db: tdb.db, log: silentLogger, secrets, writer });
    const base = await server.listen({ host: '127.0.0.1', port: 0 });
    try {
      const linkId = links.get('https://eur-lex.europa.eu/b') as number;
      const before = (await events('click')).length;
      const responses = await Promise.all(
        Array.from({ length: 30 }, (_, k) => {
          const d = issue.deliveries[k % issue.deliveries.length] as SeededIssue['deliveries'][number];
          return fetch(`${base}/t/c/${tokenFor(d, issue.issueId)}/${linkId}`, { redirect: 'manual' });
        }),
      );
      expect(responses.map((r) => r.status)).toEqual(Array(30).fill(302));
      expect(new Set(responses.map((r) => r.headers.get('location')))).toEqual(
        new Set(['https://eur-lex.europa.eu/b']),
      );
      expect((await events('click')).length).toBe(before + 30);
    } finally {
      await server.close();
    }
  });
});
