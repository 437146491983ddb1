import { type ChildProcess, fork } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Migrator, sql } from 'kysely';
import pg from 'pg';
import { openDatabase } from '../src/db/connect.js';
import { migrations } from '../src/db/migrations/index.js';
import { recipientLinks } from '../src/security/recipient-links.js';
import { registerIssueLinks } from '../src/tracking/issue-links.js';

/**
 * Click redirects per second under concurrent load: autocannon against the tracking routes on a
 * real listening server (127.0.0.1, separate process) backed by PostgreSQL, with event writes
 * batched by the EventWriter. Each request is a different recipient's click on one of the issue's
 * links, so first clicks, repeats and the per-link counters are all exercised.
 *
 *   npm run bench -- track --json [--duration 10] [--connections 50] [--recipients 5000] [--links 30] [--batch 1000]
 */

const here = dirname(fileURLToPath(import.meta.url));
const log = (msg: string) => process.stderr.write(`[track] ${msg}\n`);

function flag(args: string[], name: string, fallback: string): string {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? (args[i + 1] ?? fallback) : fallback;
}

interface AutocannonResult {
  requests: { average: number; total: number };
  latency: { p50: number; p99: number; average: number; max: number };
  non2xx: number;
  errors: number;
  timeouts: number;
  statusCodeStats?: Record<string, { count: number }>;
  '3xx': number;
  '2xx': number;
  duration: number;
}
type Autocannon = (opts: Record<string, unknown>) => Promise<AutocannonResult>;

export async function run(args: string[]): Promise<object> {
  const duration = Number(flag(args, 'duration', '10'));
  const connections = Number(flag(args, 'connections', '50'));
  const recipients = Number(flag(args, 'recipients', '5000'));
  const linkCount = Number(flag(args, 'links', '30'));
  const batch = flag(args, 'batch', '1000');
  const databaseUrl = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
  const schema = `bench_${randomBytes(4).toString('hex')}`;
  const secret = randomBytes(32).toString('hex');

  const admin = new pg.Client({ connectionString: databaseUrl });
  await admin.connect();
  await admin.query(`CREATE SCHEMA ${schema}`);
  const handle = await openDatabase({ databaseUrl, dataDir: '/nonexistent', schema, poolSize: 4 });
  const db = handle.db;
  let server: ChildProcess | undefined;
  try {
    // Kysely looks for its migration tables in every schema unless told which one; with other
    // tests' and benchmarks' schemas in the same database that check can be fooled, so name ours.
    const migrated = await new Migrator({
      db,
      provider: { getMigrations: async () => migrations },
      migrationTableSchema: schema,
      allowUnorderedMigrations: true,
    }).migrateToLatest();
    if (migrated.error) throw migrated.error;
    log(`seeding ${recipients} deliveries and ${linkCount} links in schema ${schema}`);
    const issue = await db
      .insertInto('issues')
      .values({ period: '2025-07', title: 'Bench', state: 'sent' } as never)
      .returning('id')
      .executeTakeFirstOrThrow();
    await sql`INSERT INTO subscribers (email, email_normalized, status, consent_source)
      SELECT 'r' || g || '@example.com', 'r' || g || '@example.com', 'active', 'import' FROM generate_series(1, ${recipients}) g`.execute(
      db,
    );
    await sql`INSERT INTO deliveries (issue_id, subscriber_id, variant_key, state)
      SELECT ${issue.id}, id, 'all', 'accepted' FROM subscribers`.execute(db);
    const deliveries = await db
      .selectFrom('deliveries')
      .select(['id', 'subscriber_id'])
      .orderBy('id')
      .execute();
    const links = await registerIssueLinks(
      db,
      issue.id,
      Array.from({ length: linkCount }, (_, i) => `https://example.com/article/${i}`),
    );
    const linkIds = [...links.values()];
    const paths = deliveries.map((d, i) => {
      const token = recipientLinks({ current: secret }, 'https://news.example.org', {
        subscriberId: Number(d.subscriber_id),
        issueId: issue.id,
        deliveryId: Number(d.id),
      }).trackingToken;
      return `/t/c/${token}/${linkIds[i % linkIds.length]}`;
    });

    server = fork(join(here, '_track-server.ts'), [], {
      execArgv: ['--import', 'tsx'],
      env: {
        ...process.env,
        DATABASE_URL: databaseUrl,
        BENCH_SCHEMA: schema,
        SECRET_KEY: secret,
        BENCH_BATCH: batch,
      },
    });
    const url = await new Promise<string>((ok, fail) => {
      server?.on('message', (m: { type: string; url: string }) => m.type === 'ready' && ok(m.url));
      server?.on('exit', (code) => fail(new Error(`tracking server exited with ${code}`)));
    });
    log(`server at ${url}; autocannon ${connections} connections for ${duration}s`);

    const autocannon = ((await import('autocannon' as string)) as { default: Autocannon }).default;
    // Warm-up: the first click of the issue loads its links into the cache.
    await autocannon({ url: `${url}${paths[0]}`, connections: 1, amount: 20 });
    let next = 0;
    const result = await autocannon({
      url,
      connections,
      duration,
      requests: [
        {
          method: 'GET',
          setupRequest: (req: Record<string, unknown>) => {
            const path = paths[next % paths.length];
            next++;
            return { ...req, path };
          },
        },
      ],
    });
    const stats = await new Promise<Record<string, number>>((ok) => {
      server?.on(
        'message',
        (m: { type: string; stats: Record<string, number> }) => m.type === 'stopped' && ok(m.stats),
      );
      server?.send({ type: 'stop' });
    });
    const counted = await sql<{ type: string; c: number }>`
      SELECT type, count(*)::int AS c FROM events WHERE issue_id = ${issue.id} GROUP BY type`.execute(db);
    const clickEvents = counted.rows.find((r) => r.type === 'click')?.c ?? 0;
    const linkTotal = await sql<{
      s: number;
    }>`SELECT coalesce(sum(click_count), 0)::int AS s FROM issue_links WHERE issue_id = ${issue.id}`.execute(
      db,
    );
    const firsts = await sql<{
      c: number;
    }>`SELECT count(*)::int AS c FROM events WHERE issue_id = ${issue.id} AND type = 'click' AND dedupe_key IS NOT NULL`.execute(
      db,
    );
    const redirects = result['3xx'];
    return {
      benchmark: 'track: click redirects (302) under concurrent load, batched event writes',
      server: `Fastify on 127.0.0.1 (own process), PostgreSQL events via EventWriter (batch ${batch} / 200 ms)`,
      connections,
      durationSeconds: duration,
      recipients,
      links: linkCount,
      requestsPerSecond: Math.round(result.requests.average),
      requestsTotal: result.requests.total,
      redirects302: redirects,
      non2xx3xx: result.non2xx - redirects,
      errors: result.errors,
      timeouts: result.timeouts,
      latencyMs: {
        p50: result.latency.p50,
        p99: result.latency.p99,
        average: result.latency.average,
        max: result.latency.max,
      },
      eventsWritten: clickEvents,
      firstClicksRecorded: firsts.rows[0]?.c ?? 0,
      linkClickCounterTotal: linkTotal.rows[0]?.s ?? 0,
      // The server also answered the warm-up (20) and the requests in flight when autocannon stopped,
      // so compare with what the server queued: every click it answered is in the database.
      clicksAnsweredByServer: stats.queued,
      everyClickRecorded: clickEvents === stats.queued && stats.dropped === 0,
      writer: stats,
    };
  } finally {
    if (server && server.exitCode === null) server.kill();
    await handle.close();
    await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    await admin.end();
  }
}
