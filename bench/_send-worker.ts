/**
 * One send-worker process for the benchmark: the real engine started as `workers/send.ts` starts it
 * ("spliced"), or the straightforward pipeline ("naive": one job per recipient, nodemailer builds
 * every message). Reports its peak RSS, the messages and bytes it handed to SMTP and its CPU time
 * to the parent over IPC; stops on SIGTERM (so a --cpu-prof profile is written).
 */
import { Worker } from 'bullmq';
import nodemailer from 'nodemailer';
import { parseEnv } from '../src/config/env.js';
import { createContext } from '../src/context.js';
import { silentLogger } from '../src/log.js';
import { createRedis } from '../src/queue/redis.js';
import { recipientLinks } from '../src/security/recipient-links.js';
import { startSendWorker, stopOnSignals } from '../workers/send.js';

const env = parseEnv();
const mode = process.env.BENCH_MODE as 'spliced' | 'naive';
const ctx = await createContext(env, { log: silentLogger, migrate: false });
/** The straightforward pipeline's counts; the engine keeps its own (SendWorker.counters). */
let counters = { accepted: 0, bytes: 0 };
let peakRss = process.memoryUsage().rss;
const report = () => {
  const cpu = process.cpuUsage();
  process.send?.({
    type: 'stats',
    rss: peakRss,
    accepted: counters.accepted,
    bytes: counters.bytes,
    cpuMs: (cpu.user + cpu.system) / 1000,
  });
};
setInterval(() => {
  peakRss = Math.max(peakRss, process.memoryUsage().rss);
  report();
}, 200).unref();

if (mode === 'spliced') {
  const worker = await startSendWorker(ctx, { scanIntervalMs: 0 });
  counters = worker.counters;
  stopOnSignals(ctx, worker);
} else {
  const db = ctx.db;
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
      const links = recipientLinks(ctx.secrets, env.PUBLIC_URL, {
        subscriberId: row.subscriber_id,
        issueId: row.issue_id,
        deliveryId: row.id,
      });
      const fill = (s: string) =>
        s.replace(/\{\{(\w+)\}\}/g, (_, k: string) =>
          k === 'name' ? (row.name ?? '') : ((links as unknown as Record<string, string>)[k] ?? ''),
        );
      const info = (await transport.sendMail({
        from: env.MAIL_FROM,
        to: row.email,
        subject: fill(v.subject),
        html: fill(v.html),
        text: fill(v.text),
        headers: {
          'List-Unsubscribe': `<${links.oneClickUnsubscribeUrl}>`,
          'List-Unsubscribe-Post': 'List-Unsubscribe=One-Click',
        },
      })) as { messageSize?: number };
      counters.accepted++;
      counters.bytes += info.messageSize ?? 0;
      await db
        .updateTable('deliveries')
        .set({ state: 'accepted', accepted_at: new Date() })
        .where('id', '=', row.id)
        .execute();
    },
    { connection: createRedis(env.REDIS_URL), prefix: env.QUEUE_PREFIX, concurrency: env.SEND_CONCURRENCY },
  );
  worker.on('error', () => {});
  process.on('SIGTERM', () => {
    void worker
      .close()
      .then(() => ctx.close())
      .then(() => process.exit(0));
  });
}
process.on('message', (m: { type: string }) => {
  if (m.type === 'report') report();
});
const cpu = process.cpuUsage();
process.send?.({ type: 'ready', cpuMs: (cpu.user + cpu.system) / 1000, rss: process.memoryUsage().rss });
