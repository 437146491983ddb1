/**
 * The import worker in its own process, for the kill test: `node --import tsx import-child-worker.ts`.
 * Settings come from the environment the test gives it; a short lock (2 s) so another worker takes
 * the job over soon after this one is killed. Prints "ready" once it takes jobs.
 */
import { parseEnv } from '../../src/config/env.js';
import { openDatabase } from '../../src/db/connect.js';
import { silentLogger } from '../../src/log.js';
import { createImportWorker } from '../../workers/imports.js';

const env = parseEnv();
const handle = await openDatabase({
  databaseUrl: env.DATABASE_URL,
  dataDir: '/nonexistent',
  schema: process.env.TEST_SCHEMA as string,
  poolSize: 4,
});
const worker = createImportWorker({
  db: handle.db,
  log: silentLogger,
  now: () => new Date(),
  connection: { url: env.REDIS_URL, prefix: env.QUEUE_PREFIX },
  batchSize: Number(process.env.IMPORT_BATCH ?? 500),
  lockDurationMs: 2000,
  stalledIntervalMs: 1000,
});
await worker.ready;
await worker.worker.waitUntilReady();
process.stdout.write('ready\n');
