import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { QueueEvents } from 'bullmq';
import { simpleParser } from 'mailparser';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createContext } from '../../src/context.js';
import { openSendQueue } from '../../src/delivery/api.js';
import { DEMO_FEEDS, DEMO_SUBSCRIBERS } from '../../src/demo/fixtures.js';
import { type DemoSummary, runDemo } from '../../src/demo/run-demo.js';
import { silentLogger } from '../../src/log.js';
import { MODEL_SECTIONS } from '../../src/publication/index.js';
import { QUEUES } from '../../src/queue/names.js';
import { createRedis } from '../../src/queue/redis.js';
import { startSmtpCatcher } from '../../src/smtp/catcher.js';
import { startWorkers } from '../../workers/index.js';
import { createTestDatabase, type TestDatabase } from '../support/test-db.js';
import { testEnv } from '../support/test-env.js';

/**
 * The foundation's vertical slice on real parts: HTTP feeds → items → draft → approve → prepare
 * (deliveries + variants) → BullMQ send worker → pooled SMTP → ledger.
 */
describe('the whole pipeline', () => {
  let tdb: TestDatabase;
  // The embedded default sender (newsletter@localhost), as `npm run demo` on a fresh machine has it.
  const env = testEnv({ MAIL_FROM: 'Gazette <newsletter@localhost>' });
  let summary: DemoSummary;

  beforeAll(async () => {
    tdb = await createTestDatabase();
    summary = await runDemo(env, silentLogger, { schema: tdb.schema });
  }, 120_000);
  afterAll(async () => tdb?.drop());

  it('polls every fixture feed and puts every item in the issue', () => {
    expect(summary.sources.map((s) => s.status)).toEqual(['ok', 'ok', 'ok', 'ok']);
    const total = DEMO_FEEDS.reduce((n, f) => n + f.entries.length, 0);
    expect(summary.items).toBe(total);
  });

  it('ends with every delivery accepted', () => {
    expect(summary.deliveries.accepted).toBe(DEMO_SUBSCRIBERS.length);
    const others = Object.entries(summary.deliveries).filter(([k, v]) => k !== 'accepted' && v > 0);
    expect(others).toEqual([]);
  });

  it('sends each subscriber exactly one message with exactly the chosen sections, in order', async () => {
    expect(summary.outbox).toHaveLength(DEMO_SUBSCRIBERS.length);
    const messages = await Promise.all(summary.outbox.map(async (p) => simpleParser(readFileSync(p))));
    for (const sub of DEMO_SUBSCRIBERS) {
      const mine = messages.filter(
        (m) => m.to && !Array.isArray(m.to) && m.to.value[0]?.address === sub.email,
      );
      expect(mine, sub.email).toHaveLength(1);
      const text = mine[0]!.text ?? '';
      const chosen = sub.sectionKeys ?? MODEL_SECTIONS.map((s) => s.key);
      const positions = MODEL_SECTIONS.map((s) => ({
        key: s.key,
        at: text.indexOf((s.names[sub.locale] ?? s.names['zh-CN']) as string),
      }));
      for (const p of positions) {
        if (chosen.includes(p.key))
          expect(p.at, `${sub.email} should get ${p.key}`).toBeGreaterThanOrEqual(0);
        else expect(p.at, `${sub.email} should not get ${p.key}`).toBe(-1);
      }
      const present = positions.filter((p) => p.at >= 0);
      expect(present.map((p) => p.key)).toEqual([...present].sort((a, b) => a.at - b.at).map((p) => p.key));
      // The items of a chosen section are in the message; those of other sections are not.
      for (const feed of DEMO_FEEDS) {
        for (const entry of feed.entries) {
          expect(text.includes(entry.title), `${entry.title} for ${sub.email}`).toBe(
            chosen.includes(feed.sectionKey),
          );
        }
      }
    }
  });

  it('compiles and stores each variant once, under one key', () => {
    const keys = summary.variants.map((v) => v.variantKey);
    expect(new Set(keys).size).toBe(keys.length);
    // zhang: all four sections (zh-CN); li: two (en); wang: one (zh-CN).
    expect(keys.sort()).toEqual([
      'en:case-studies+foreign-regulation',
      'zh-CN:case-studies+domestic-regulation+foreign-regulation+industry-news',
      'zh-CN:industry-news',
    ]);
  });

  it('sends source links through the signed click redirect, and carries an open pixel', async () => {
    const message = await simpleParser(readFileSync(summary.outbox[0]!));
    const html = String(message.html);
    const hrefs = [...html.matchAll(/href="([^"]+)"/g)].map((m) => m[1]!.replace(/&amp;/g, '&'));
    const articleLinks = hrefs.filter((h) => h.includes('/articles/'));
    expect(articleLinks).toEqual([]);
    expect(hrefs.filter((h) => h.includes('/t/c/')).length).toBeGreaterThan(0);
    expect(html).toMatch(/\/t\/o\/[A-Za-z0-9_.-]+/);
    expect(html).not.toContain('{{');
  });

  it('sends nothing when the send job runs a second time', async () => {
    const catcher = await startSmtpCatcher();
    const ctx = await createContext(
      { ...env, SMTP_URL: [catcher.url] },
      { log: silentLogger, schema: tdb.schema },
    );
    const workers = await startWorkers(ctx, { roles: ['send'] });
    const queue = openSendQueue({ url: env.REDIS_URL, prefix: env.QUEUE_PREFIX });
    const events = new QueueEvents(QUEUES.send, {
      connection: createRedis(env.REDIS_URL),
      prefix: env.QUEUE_PREFIX,
    });
    await events.waitUntilReady();
    try {
      const ids = await ctx.db
        .selectFrom('deliveries')
        .select('id')
        .where('issue_id', '=', summary.issueId)
        .orderBy('id')
        .execute();
      const job = await queue.add('send', {
        issueId: summary.issueId,
        fromId: ids[0]!.id,
        toId: ids[ids.length - 1]!.id,
      });
      // Completed jobs are removed at once, so wait on the queue's events rather than polling the job.
      await expect(job.waitUntilFinished(events, 20_000)).resolves.toBeDefined();
      expect(catcher.messages).toHaveLength(0);
      const states = await ctx.db
        .selectFrom('deliveries')
        .select('state')
        .where('issue_id', '=', summary.issueId)
        .execute();
      expect(states.every((s) => s.state === 'accepted')).toBe(true);
    } finally {
      await events.close();
      await queue.close();
      await workers.close();
      await ctx.close();
      await catcher.close();
    }
  });

  it('runs twice: the second run starts clean, outbox included, and says so', async () => {
    const again = await runDemo(env, silentLogger, { schema: tdb.schema });
    expect(again.database.start).toBe('reset');
    expect(again.deliveries.accepted).toBe(DEMO_SUBSCRIBERS.length);
    expect(again.outboxCleared).toBe(DEMO_SUBSCRIBERS.length);
    const left = readdirSync(join(env.DATA_DIR, 'outbox')).map((n) => join(env.DATA_DIR, 'outbox', n));
    expect(left.sort()).toEqual([...again.outbox].sort());
  }, 120_000);
});
