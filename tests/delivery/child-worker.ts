/**
 * A send worker in its own process, for the crash test: `node --import tsx child-worker.ts`.
 * Settings come from the environment the test gives it; it prints "ready" once it listens.
 */
import { parseEnv } from '../../src/config/env.js';
import { openDatabase } from '../../src/db/connect.js';
import { createSendWorker } from '../../src/delivery/send-worker.js';
import { silentLogger } from '../../src/log.js';
import { renderable, standInContent } from './support.js';

const env = parseEnv();
const handle = await openDatabase({
  databaseUrl: env.DATABASE_URL,
  dataDir: '/nonexistent',
  schema: process.env.TEST_SCHEMA as string,
  poolSize: 4,
});
await createSendWorker({
  db: handle.db,
  env,
  log: silentLogger,
  secrets: { current: 'x'.repeat(32) },
  now: () => new Date(),
  content: standInContent((id) => renderable(id)),
  connection: { url: env.REDIS_URL, prefix: env.QUEUE_PREFIX },
  scanIntervalMs: 0,
  concurrency: 2,
});
process.stdout.write('ready\n');
