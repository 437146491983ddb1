import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import pg from 'pg';
import { parseEnv } from '../src/config/env.js';
import { openDatabase } from '../src/db/connect.js';
import { migrateToLatest } from '../src/db/migrate.js';
import { closeFetchAgents } from '../src/feeds/fetch.js';
import { pollDueSources } from '../src/feeds/poll.js';
import { silentLogger } from '../src/log.js';

/**
 * `npm run bench -- feeds --sources 1000 [--items 10] [--concurrency 8] --json`
 *
 * Serves N RSS 2.0 feeds from a local HTTP server (ETag-aware, Chinese text, a few articles shared
 * across feeds so cross-source dedupe is exercised), adds them as sources in a fresh PostgreSQL
 * database, polls them all (fresh), then polls them all again (every one a 304), and reports
 * sources per second for each pass and the process's peak RSS. The feed server runs in the same
 * process, so the memory figure includes it.
 */

function flag(args: string[], name: string, fallback: number): number {
  const i = args.indexOf(`--${name}`);
  if (i < 0) return fallback;
  const n = Number(args[i + 1]);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`--${name} needs a positive number`);
  return n;
}

function feedXml(i: number, items: number, port: number): string {
  const entries: string[] = [];
  for (let k = 0; k < items; k++) {
    // Every 10th feed's first item is an article other outlets also carry.
    const shared = k === 0 && i % 10 === 0;
    const link = shared
      ? `http://news.example.cn/shared/${i % 50}.html?utm_source=feed${i}`
      : `http://news.example.cn/f${i}/a${k}.html`;
    const day = String((k % 28) + 1).padStart(2, '0');
    entries.push(
      `<item><title>第 ${i} 号来源的第 ${k} 条：人工智能监管动态与典型案例 &amp; 解读</title>` +
        `<link>${link.replace(/&/g, '&amp;')}</link><guid isPermaLink="false">f${i}-i${k}</guid>` +
        `<pubDate>2025-07-${day} 10:00:00</pubDate>` +
        `<description><![CDATA[<p>监管部门发布配套指引草案，明确平台对元数据标识的核验义务。<a href="/more/${k}">详情</a></p><script>track()</script>]]></description></item>`,
    );
  }
  return `<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>来源 ${i}</title><link>http://127.0.0.1:${port}/</link><description>bench</description>${entries.join('')}</channel></rss>`;
}

export async function run(args: string[]): Promise<object> {
  const sources = flag(args, 'sources', 1000);
  const itemsPerFeed = flag(args, 'items', 10);
  const env = parseEnv({
    ...process.env,
    LOG_LEVEL: 'silent',
    FETCH_ALLOW_PRIVATE: '127.0.0.1',
    DATABASE_URL:
      process.env.BENCH_DATABASE_URL ??
      process.env.TEST_DATABASE_URL ??
      'postgres://postgres@127.0.0.1:5432/test',
  });
  const concurrency = flag(args, 'concurrency', env.FEED_POLL_CONCURRENCY);

  let peakRss = process.memoryUsage().rss;
  const sampler = setInterval(() => {
    peakRss = Math.max(peakRss, process.memoryUsage().rss);
  }, 25);

  // The feed server: bodies built once, 304 when the ETag matches.
  let port = 0;
  const bodies: Buffer[] = [];
  let served200 = 0;
  let served304 = 0;
  const server = createServer((req, res) => {
    const m = /^\/feed\/(\d+)\.xml$/.exec(req.url ?? '');
    const i = m ? Number(m[1]) : -1;
    const feed = bodies[i];
    if (!feed) return void res.writeHead(404).end();
    const etag = `"f${i}-v1"`;
    if (req.headers['if-none-match'] === etag) {
      served304++;
      return void res.writeHead(304, { etag }).end();
    }
    served200++;
    res.writeHead(200, {
      'content-type': 'application/rss+xml; charset=utf-8',
      etag,
      'content-length': feed.length,
    });
    res.end(feed);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
  for (let i = 0; i < sources; i++) bodies.push(Buffer.from(feedXml(i, itemsPerFeed, port)));

  // A fresh database (not just a schema), so nothing else on the server can disturb the run.
  const dbName = `gazette_bench_feeds_${randomBytes(4).toString('hex')}`;
  const adminUrl = env.DATABASE_URL as string;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${dbName}`);
  const url = new URL(adminUrl);
  url.pathname = `/${dbName}`;
  const handle = await openDatabase({
    databaseUrl: url.href,
    dataDir: '/nonexistent',
    poolSize: Math.min(20, concurrency + 2),
  });
  try {
    await migrateToLatest(handle.db);
    const db = handle.db;
    process.stderr.write(
      `feeds bench: ${sources} sources × ${itemsPerFeed} items, concurrency ${concurrency}\n`,
    );
    for (let start = 0; start < sources; start += 500) {
      const rows = [];
      for (let i = start; i < Math.min(sources, start + 500); i++) {
        rows.push({
          name: `来源 ${i}`,
          url: `http://127.0.0.1:${port}/feed/${i}.xml`,
          kind: 'feed' as const,
        });
      }
      await db.insertInto('sources').values(rows).execute();
    }
    const deps = { db, log: silentLogger, env };

    const pass = async (label: string) => {
      const t0 = performance.now();
      const results = await pollDueSources(deps, { concurrency });
      const seconds = (performance.now() - t0) / 1000;
      const byStatus: Record<string, number> = {};
      let newItems = 0;
      for (const r of results) {
        byStatus[r.outcome.status] = (byStatus[r.outcome.status] ?? 0) + 1;
        newItems += r.outcome.newItems;
      }
      const perSecond = Math.round((results.length / seconds) * 10) / 10;
      process.stderr.write(
        `  ${label}: ${results.length} sources in ${seconds.toFixed(2)} s (${perSecond}/s) ${JSON.stringify(byStatus)}\n`,
      );
      return {
        sources: results.length,
        seconds: Math.round(seconds * 1000) / 1000,
        sourcesPerSecond: perSecond,
        byStatus,
        newItems,
      };
    };

    const fresh = await pass('fresh');
    const unchanged = await pass('unchanged (304)');
    const stored = await db
      .selectFrom('items')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .executeTakeFirstOrThrow();
    const sightings = await db
      .selectFrom('item_sightings')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .executeTakeFirstOrThrow();
    peakRss = Math.max(peakRss, process.memoryUsage().rss);
    return {
      bench: 'feeds',
      sources,
      itemsPerFeed,
      concurrency,
      fresh,
      unchanged,
      itemsStored: Number(stored.n),
      sightingsStored: Number(sightings.n),
      served: { ok: served200, notModified: served304 },
      peakRssMb: Math.round((peakRss / 1024 / 1024) * 10) / 10,
      note: 'one process: feed server, fetcher and PostgreSQL client; 2-core machine',
    };
  } finally {
    clearInterval(sampler);
    await handle.close();
    await closeFetchAgents();
    await new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
    await admin.query(`DROP DATABASE IF EXISTS ${dbName}`).catch(() => {});
    await admin.end();
  }
}
