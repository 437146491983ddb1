import { readdir, rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { sql } from 'kysely';
import { addSubscriber } from '../../subscribers/api.js';
import { startWorkers, type WorkerSet } from '../../workers/index.js';
import { waitForIssue } from '../cli/wait-for-issue.js';
import type { Env } from '../config/env.js';
import { createContext } from '../context.js';
import type { Db } from '../db/schema.js';
import { issueStats, startIssueSend } from '../delivery/api.js';
import { addSource, pollDueSources } from '../feeds/sources-api.js';
import { approveIssue, assembleDraft } from '../issues/index.js';
import type { Logger } from '../log.js';
import {
  ensurePublication,
  isLocalSender,
  MODEL_SECTIONS,
  markSenderVerified,
  upsertSection,
} from '../publication/index.js';
import { assertRedisReachable } from '../queue/redis.js';
import { startSmtpCatcher } from '../smtp/catcher.js';
import { startDemoFeedServer } from './feed-server.js';
import { DEMO_FEEDS, DEMO_PERIOD, DEMO_SUBSCRIBERS } from './fixtures.js';

export const DEMO_PUBLICATION_NAME = 'Gazette 演示 · 数字科技与人工智能每月资讯';

export interface DemoSummary {
  database: { kind: string; where: string; start: 'clean' | 'reset' };
  issueId: number;
  period: string;
  sources: { name: string; status: string; newItems: number }[];
  items: number;
  variants: { variantKey: string; htmlBytes: number; textBytes: number }[];
  deliveries: Record<string, number>;
  outbox: string[];
  /** .eml files of earlier runs removed from the outbox before sending. */
  outboxCleared: number;
}

/**
 * `npm run demo`: the whole pipeline in one process on embedded defaults. A local HTTP server
 * serves four fixture feeds; they are polled, assembled into a draft for July 2025, approved,
 * prepared (audience frozen, variants compiled once) and sent by the BullMQ send worker through
 * pooled SMTP to the in-process catcher, which writes each message to DATA_DIR/outbox.
 */
/** The demo's sender when none is configured: a reserved domain, caught by the demo's own outbox. */
const DEMO_SENDER = 'newsletter@gazette-demo.example';

export async function runDemo(env: Env, log: Logger, opts: { schema?: string } = {}): Promise<DemoSummary> {
  await assertRedisReachable(env.REDIS_URL);
  const feedServer = await startDemoFeedServer();
  const outboxDir = join(env.DATA_DIR, 'outbox');
  const catcher = env.SMTP_URL ? undefined : await startSmtpCatcher({ outboxDir, keepInMemory: false });
  const demoEnv: Env = {
    ...env,
    // The demo's feeds are on loopback: allow exactly that host, nothing else private.
    FETCH_ALLOW_PRIVATE: [...env.FETCH_ALLOW_PRIVATE, '127.0.0.1'],
    SMTP_URL: env.SMTP_URL ?? (catcher ? [catcher.url] : []),
  };
  const ctx = await createContext(demoEnv, { log, ...(opts.schema ? { schema: opts.schema } : {}) });
  let workers: WorkerSet | undefined;
  try {
    const start = await resetPreviousDemo(ctx.db);
    // Starting clean includes the outbox: afterwards it holds exactly this run's messages.
    const outboxCleared = catcher ? await clearOutbox(outboxDir) : 0;
    log.info(
      { event: 'demo.start', start, database: ctx.database.kind },
      `demo: ${start === 'clean' ? 'empty database, starting clean' : 'previous demo data found, starting clean'}`,
    );

    const publication = await ensurePublication(ctx.db, demoEnv);
    await ctx.db.updateTable('publication').set({ name: DEMO_PUBLICATION_NAME }).execute();
    if (catcher) {
      // The checklist refuses a local sender (it reaches nobody). The demo's mail never leaves its
      // own catcher, so it sends as a reserved example domain (RFC 2606) and, holding the outbox
      // the verification link would go to, counts that sender as verified.
      const sender = isLocalSender(publication.from_email) ? DEMO_SENDER : publication.from_email;
      await ctx.db.updateTable('publication').set({ from_email: sender }).execute();
      await markSenderVerified(ctx.db, sender, ctx.now());
    }
    for (const section of MODEL_SECTIONS) await upsertSection(ctx.db, section);

    for (const feed of DEMO_FEEDS) {
      await addSource(ctx.db, {
        name: feed.name,
        url: `${feedServer.baseUrl}${feed.path}`,
        sectionKey: feed.sectionKey,
        allowPrivate: true,
      });
    }
    const polled = await pollDueSources({ db: ctx.db, log, env: demoEnv });

    for (const s of DEMO_SUBSCRIBERS) {
      await addSubscriber(ctx.db, {
        email: s.email,
        name: s.name,
        locale: s.locale,
        ...(s.sectionKeys ? { sectionKeys: s.sectionKeys } : {}),
        status: 'active',
        consentSource: 'editor',
      });
    }

    const deps = { db: ctx.db, log, env: demoEnv, now: ctx.now, secrets: ctx.secrets };
    const { issueId } = await assembleDraft(deps, { period: DEMO_PERIOD });
    await approveIssue(deps, issueId, 'demo');

    workers = await startWorkers(ctx, { roles: ['send', 'issues'] });
    await startIssueSend({ ...deps, queue: workers.sendQueue }, issueId);
    await waitForIssue(deps, issueId, { timeoutMs: 120_000 });

    const stats = await issueStats(ctx.db, issueId);
    const variants = await ctx.db
      .selectFrom('issue_variants')
      .select(['variant_key', 'html_bytes', 'text_bytes'])
      .where('issue_id', '=', issueId)
      .orderBy('variant_key')
      .execute();
    const items = await ctx.db
      .selectFrom('issue_items')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('issue_id', '=', issueId)
      .executeTakeFirstOrThrow();
    return {
      database: { kind: ctx.database.kind, where: ctx.database.where, start },
      issueId,
      period: DEMO_PERIOD,
      sources: polled.map((p) => ({ name: p.name, status: p.outcome.status, newItems: p.outcome.newItems })),
      items: Number(items.n),
      variants: variants.map((v) => ({
        variantKey: v.variant_key,
        htmlBytes: v.html_bytes,
        textBytes: v.text_bytes,
      })),
      deliveries: stats.byState,
      outbox: catcher ? catcher.messages.map((m) => resolve(m.path ?? '')) : [],
      outboxCleared,
    };
  } finally {
    await workers?.close();
    await ctx.close();
    await catcher?.close();
    await feedServer.close();
  }
}

/** Removes the .eml files an earlier run left (nothing else in the folder); returns how many. */
async function clearOutbox(dir: string): Promise<number> {
  const names = (await readdir(dir).catch(() => [] as string[])).filter((n) => n.endsWith('.eml'));
  await Promise.all(names.map((n) => rm(join(dir, n), { force: true })));
  return names.length;
}

/**
 * Running the demo twice works: a database that holds only an earlier demo is emptied first.
 * A database with anything else in it is left alone and the demo refuses, naming DATA_DIR.
 */
async function resetPreviousDemo(db: Db): Promise<'clean' | 'reset'> {
  const publication = await db.selectFrom('publication').select('name').executeTakeFirst();
  if (!publication) {
    const issues = await db.selectFrom('issues').select('id').limit(1).execute();
    if (issues.length === 0) return 'clean';
  }
  if (publication && publication.name !== DEMO_PUBLICATION_NAME) {
    throw Object.assign(
      new Error(
        `The database already holds a real publication ("${publication.name}"); the demo will not touch it. ` +
          'Run the demo with another DATA_DIR (e.g. DATA_DIR=./data/demo npm run demo) or another DATABASE_URL.',
      ),
      { userFacing: true },
    );
  }
  await sql`TRUNCATE events, issue_links, deliveries, issue_variants, issue_audit, issue_items, issue_sections,
    issues, item_sightings, items, sources, subscriber_sections, subscribers, suppressions RESTART IDENTITY CASCADE`.execute(
    db,
  );
  return 'reset';
}
