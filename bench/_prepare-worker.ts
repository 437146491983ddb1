/**
 * The prepare step of one issue in a process of its own, for `npm run bench -- prepare`: freezes the
 * audience (keyset batches), compiles each variant once and enqueues the send jobs, as
 * `gazette issue send` does. Samples its RSS at every audience batch and reports to the parent.
 */
import { Writable } from 'node:stream';
import pino from 'pino';
import { parseEnv } from '../src/config/env.js';
import { openDatabase } from '../src/db/connect.js';
import { openSendQueue, startIssueSend } from '../src/delivery/api.js';
import { stageContent } from '../src/delivery/stage-content.js';
import { loadModelIssue } from '../tests/support/model-issue.js';

const env = parseEnv();
const issueId = Number(process.env.BENCH_ISSUE_ID);
const handle = await openDatabase({ databaseUrl: env.DATABASE_URL, dataDir: '/nonexistent', poolSize: 2 });
const queue = openSendQueue({ url: env.REDIS_URL, prefix: env.QUEUE_PREFIX });
const model = loadModelIssue();

const mb = () => process.memoryUsage().rss / 1048576;
const timeline: { rows: number; rssMb: number; seconds: number }[] = [];
let rows = 0;
let peakRssMb = mb();
const startRssMb = peakRssMb;
const t0 = performance.now();
// The prepare step logs one debug event per audience batch; the bench reads them to sample memory.
const log = pino(
  { level: 'debug', base: undefined },
  new Writable({
    write(line: Buffer, _enc, done) {
      const o = JSON.parse(line.toString()) as { event?: string; queued?: number; skipped?: number };
      if (o.event === 'delivery.prepare.batch') {
        rows += (o.queued ?? 0) + (o.skipped ?? 0);
        const rssMb = mb();
        if (rssMb > peakRssMb) peakAt = { seconds: (performance.now() - t0) / 1000, rows };
        peakRssMb = Math.max(peakRssMb, rssMb);
        timeline.push({ rows, rssMb, seconds: (performance.now() - t0) / 1000 });
      }
      done();
    },
  }),
);
let peakAt = { seconds: 0, rows: 0 };
const sampler = setInterval(() => {
  const now = mb();
  if (now > peakRssMb) peakAt = { seconds: (performance.now() - t0) / 1000, rows };
  peakRssMb = Math.max(peakRssMb, now);
}, 50);

const result = await startIssueSend(
  {
    db: handle.db,
    env,
    log,
    secrets: { current: env.SECRET_KEY as string },
    now: () => new Date(),
    queue,
    batchSize: Number(process.env.BENCH_PREPARE_BATCH ?? 5000),
    content: { ...stageContent, loadIssue: async () => ({ ...model, id: issueId }) },
  },
  issueId,
);
const seconds = (performance.now() - t0) / 1000;
clearInterval(sampler);
peakRssMb = Math.max(peakRssMb, mb());
const counts = await queue.getJobCounts('waiting', 'delayed', 'prioritized');
const jobs = Object.values(counts).reduce((a, b) => a + b, 0);
process.send?.({ type: 'done', result, seconds, startRssMb, peakRssMb, peakAt, timeline, jobs });
await queue.close();
await handle.close();
process.exit(0);
