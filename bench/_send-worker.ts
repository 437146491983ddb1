/** One send-worker process for the benchmark: the real engine (spliced) or the straightforward pipeline. */
import { Worker } from 'bullmq';
import nodemailer from 'nodemailer';
import { parseEnv } from '../src/config/env.js';
import { openDatabase } from '../src/db/connect.js';
import { createSendWorker } from '../src/delivery/api.js';
import { silentLogger } from '../src/log.js';
import { createRedis } from '../src/queue/redis.js';
import { recipientLinks } from '../src/security/recipient-links.js';

const env = parseEnv();
const mode = process.env.BENCH_MODE as 'spliced' | 'naive';
const handle = await openDatabase({
  databaseUrl: env.DATABASE_URL,
  dataDir: '/nonexistent',
  schema: process.env.BENCH_SCHEMA as string,
  poolSize: 6,
});
const db = handle.db;
const secrets = { current: env.SECRET_KEY as string };
let peakRss = process.memoryUsage().rss;
setInterval(() => {
  peakRss = Math.max(peakRss, process.memoryUsage().rss);
  process.send?.({ type: 'rss', rss: peakRss });
}, 200).unref();

if (mode === 'spliced') {
  await createSendWorker({
    db,
    env,
    log: silentLogger,
    secrets,
    now: () => new Date(),
    connection: { url: env.REDIS_URL, prefix: env.QUEUE_PREFIX },
    scanIntervalMs: 0,
  });
} else {
  // The straightforward pipeline: one job per recipient, nodemailer builds every message.
  const transport = nodemailer.createTransport({
    url: env.SMTP_URL?.[0],
    pool: true,
    maxConnections: env.SMTP_POOL_CONNECTIONS,
  } as never);
  const variants = new Map<string, { subject: string; html: string; text: string }>();
  const worker = new Worker(
    'naive-send',
    async (job) => {
      const { deliveryId } = job.data as { deliveryId: number };
      const row = await db
        .selectFrom('deliveries')
        .innerJoin('subscribers', 'subscribers.id', 'deliveries.subscriber_id')
        .select([
          'deliveries.id',
          'deliveries.issue_id',
          'deliveries.subscriber_id',
          'deliveries.variant_key',
          'subscribers.email',
          'subscribers.name',
        ])
        .where('deliveries.id', '=', deliveryId)
        .where('deliveries.state', '=', 'queued')
        .executeTakeFirst();
      if (!row) return;
      let v = variants.get(row.variant_key as string);
      if (!v) {
        v = await db
          .selectFrom('issue_variants')
          .select(['subject', 'html', 'text'])
          .where('issue_id', '=', row.issue_id)
          .where('variant_key', '=', row.variant_key as string)
          .executeTakeFirstOrThrow();
        variants.set(row.variant_key as string, v);
      }
      const links = recipientLinks(secrets, env.PUBLIC_URL, {
        subscriberId: row.subscriber_id,
        issueId: row.issue_id,
        deliveryId: row.id,
      });
      const fill = (s: string) =>
        s.replace(/\{\{(\w+)\}\}/g, (_, k: string) =>
          k === 'name' ? (row.name ?? '') : ((links as unknown as Record<string, string>)[k] ?? ''),
        );
      await transport.sendMail({
        from: env.MAIL_FROM,
        to: row.email,
        subject: fill(v.subject),
        html: fill(v.html),
        text: fill(v.text),
        headers: {
          'List-Unsubscribe': `<${links.oneClickUnsubscribeUrl}>`,
          'List-Unsubscribe-Post': 'List-Unsubscribe=One-Click',
        },
      });
      await db
        .updateTable('deliveries')
        .set({ state: 'accepted', accepted_at: new Date() })
        .where('id', '=', row.id)
        .execute();
    },
    { connection: createRedis(env.REDIS_URL), prefix: env.QUEUE_PREFIX, concurrency: env.SEND_CONCURRENCY },
  );
  worker.on('error', () => {});
}
process.send?.({ type: 'ready' });
