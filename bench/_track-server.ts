/** The tracking server for bench/track.ts, in its own process so the load generator does not share its CPU. */
import Fastify from 'fastify';
import { openDatabase } from '../src/db/connect.js';
import { silentLogger } from '../src/log.js';
import { EventWriter } from '../src/tracking/event-writer.js';
import { trackingRoutes } from '../src/http/tracking/routes.js';

const handle = await openDatabase({
  databaseUrl: process.env.DATABASE_URL as string,
  dataDir: '/nonexistent',
  schema: process.env.BENCH_SCHEMA as string,
  poolSize: 4,
});
const writer = new EventWriter({
  db: handle.db,
  log: silentLogger,
  maxBatch: Number(process.env.BENCH_BATCH ?? 1000),
  flushIntervalMs: Number(process.env.BENCH_FLUSH_MS ?? 200),
});
const app = Fastify({ logger: false });
await app.register(trackingRoutes, {
  db: handle.db,
  log: silentLogger,
  secrets: { current: process.env.SECRET_KEY as string },
  writer,
});
const url = await app.listen({ host: '127.0.0.1', port: 0 });
process.send?.({ type: 'ready', url });
process.on('message', async (m: { type: string }) => {
  if (m.type !== 'stop') return;
  const pendingAtStop = writer.pending;
  await app.close();
  await writer.close();
  await handle.close();
  process.send?.({ type: 'stopped', stats: { ...writer.stats, pendingAtStop } });
  process.exit(0);
});
