import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import pg from 'pg';
import { openDatabase } from '../src/db/connect.js';
import { migrateToLatest } from '../src/db/migrate.js';
import { createOpsReader, renderMetrics } from '../src/http/ops/metrics.js';
import {
  applyBulkAction,
  countSubscribers,
  getSubscriber,
  listSubscribers,
  subscriberCursor,
  subscriberHistory,
} from '../subscribers/api.js';

/**
 * What a /metrics scrape and the editors' subscriber pages cost on a large ledger, against
 * PostgreSQL (DATABASE_URL or the local test database) in a throwaway schema and Redis
 * (REDIS_URL or local) under a random prefix. Flags: --subscribers N (default 100000),
 * --issues N (default 10; one delivery per subscriber per issue), --runs N (default 20).
 */
export async function run(args: string[]): Promise<object> {
  const flag = (name: string, fallback: number) => {
    const i = args.indexOf(`--${name}`);
    return i >= 0 ? Number(args[i + 1]) : fallback;
  };
  const subscribers = flag('subscribers', 100_000);
  const issues = flag('issues', 10);
  const runs = flag('runs', 20);
  const url = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
  const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
  const schema = `bench_${randomBytes(5).toString('hex')}`;
  const admin = new pg.Client({ connectionString: url });
  await admin.connect();
  await admin.query(`CREATE SCHEMA ${schema}`);
  const handle = await openDatabase({ databaseUrl: url, dataDir: '/nonexistent', schema, poolSize: 4 });
  const reader = createOpsReader(handle.db, {
    redisUrl,
    prefix: `bench-${randomBytes(4).toString('hex')}`,
    now: () => new Date(),
  });
  try {
    await migrateToLatest(handle.db, { schema });
    const q = (text: string) => admin.query(`SET search_path = ${schema}; ${text}`);
    process.stderr.write(`seeding ${subscribers} subscribers × ${issues} issues…\n`);
    const t0 = performance.now();
    await q(`INSERT INTO sections (key, position, names) VALUES ('a', 1, '{}'), ('b', 2, '{}')`);
    await q(`INSERT INTO subscribers (email, email_normalized, name, status, consent_source)
             SELECT 'r' || i || '@example.com', 'r' || i || '@example.com', '读者' || i,
                    CASE WHEN i % 50 = 0 THEN 'unsubscribed' ELSE 'active' END, 'import'
             FROM generate_series(1, ${subscribers}) i`);
    await q(`INSERT INTO issues (period, title, state) SELECT '2025-' || lpad(i::text, 2, '0'), 'Issue ' || i, 'sent'
             FROM generate_series(1, ${issues}) i`);
    await q(`INSERT INTO sources (name, url, status, consecutive_failures)
             SELECT 'feed ' || i, 'https://feeds.example/' || i, CASE WHEN i % 7 = 0 THEN 'failing' ELSE 'ok' END, i % 7
             FROM generate_series(1, 40) i`);
    await q(`INSERT INTO deliveries (issue_id, subscriber_id, state, error_class, smtp_code, accepted_at)
             SELECT i.id, s.id,
               CASE WHEN s.id % 100 = 0 THEN 'failed' WHEN s.id % 97 = 0 THEN 'deferred' ELSE 'accepted' END,
               CASE WHEN s.id % 100 = 0 THEN 'mailbox' WHEN s.id % 97 = 0 THEN 'temporary' END,
               CASE WHEN s.id % 100 = 0 THEN 550 WHEN s.id % 97 = 0 THEN 451 ELSE 250 END,
               CASE WHEN s.id % 100 = 0 OR s.id % 97 = 0 THEN NULL ELSE now() - (i.id || ' days')::interval END
             FROM issues i CROSS JOIN subscribers s`);
    await q('ANALYZE');
    const seedMs = performance.now() - t0;

    const time = async (fn: () => Promise<unknown>) => {
      await fn(); // warm
      const samples: number[] = [];
      for (let i = 0; i < runs; i++) {
        const start = performance.now();
        await fn();
        samples.push(performance.now() - start);
      }
      samples.sort((a, b) => a - b);
      return {
        medianMs: Number(samples[Math.floor(samples.length / 2)]?.toFixed(1)),
        maxMs: Number(samples.at(-1)?.toFixed(1)),
      };
    };
    const scrape = await time(async () => renderMetrics(await reader.snapshot()));
    const sample = await renderMetrics(await reader.snapshot());
    const middle = Math.floor(subscribers / 2);
    return {
      subscribers,
      deliveries: subscribers * issues,
      seedMs: Math.round(seedMs),
      metricsScrape: { ...scrape, bytes: Buffer.byteLength(sample.body) },
      subscriberPage: await time(() => subscriberHistory(handle.db, middle, { limit: 100 })),
      subscriberSearch: await time(async () => {
        await listSubscribers(handle.db, { search: `r${middle}@`, limit: 51 });
        await countSubscribers(handle.db, { search: `r${middle}@` });
      }),
      subscriberListBySection: await time(async () => {
        await listSubscribers(handle.db, { section: 'a', status: 'active', limit: 51 });
        await countSubscribers(handle.db, { section: 'a', status: 'active' });
      }),
      // The list sorted by name (newest order last), its first page and one deep in the list.
      subscriberListSorted: await time(async () => {
        await listSubscribers(handle.db, { sort: 'name', direction: 'desc', limit: 51 });
        await countSubscribers(handle.db, {});
      }),
      // A page in the middle of the list sorted by state (the keyset cursor of subscriber `middle`).
      subscriberListSortedDeep: await (async () => {
        const at = await getSubscriber(handle.db, middle);
        const cursor = at ? subscriberCursor(at, 'status') : undefined;
        return time(() =>
          listSubscribers(handle.db, { sort: 'status', limit: 51, ...(cursor ? { cursor } : {}) }),
        );
      })(),
      // One bulk change over every active subscriber (one transaction, audit row included); once.
      bulkSectionsAllActive: await (async () => {
        const start = performance.now();
        const result = await applyBulkAction(
          handle.db,
          { filter: { status: 'active' } },
          { action: 'sections-set', sectionKeys: ['b'] },
          { actor: 'bench' },
        );
        return { ms: Math.round(performance.now() - start), affected: result.affected };
      })(),
      runs,
    };
  } finally {
    await reader.close();
    await handle.close();
    await admin.query(`DROP SCHEMA ${schema} CASCADE`);
    await admin.end();
  }
}
