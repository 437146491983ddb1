import { createServer } from 'node:net';
import { Queue } from 'bullmq';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Env } from '../../src/config/env.js';
import { closeFetchAgents } from '../../src/feeds/fetch.js';
import { addIssueItem } from '../../src/issues/edit.js';
import { issueEditorRoutes } from '../../src/http/api/issues.js';
import { silentLogger } from '../../src/log.js';
import { MODEL_SECTIONS } from '../../src/publication/model-sections.js';
import { ensurePublication } from '../../src/publication/publication.js';
import { upsertSection } from '../../src/publication/sections.js';
import { QUEUES } from '../../src/queue/names.js';
import { createRedis } from '../../src/queue/redis.js';
import { archiveJobId, queueArchiveRequests } from '../../src/snapshots/request.js';
import { listSnapshots } from '../../src/snapshots/store.js';
import { createArchiveWorker } from '../../workers/archive.js';
import { captureLog } from '../delivery/support.js';
import { type FixtureServer, startFixtureServer } from '../feeds/fixture-server.js';
import { createTestDatabase, type TestDatabase } from '../support/test-db.js';
import { testEnv } from '../support/test-env.js';
import { waitFor } from '../support/wait.js';

let tdb: TestDatabase;
let env: Env;
let source: FixtureServer;
const now = () => new Date('2025-08-01T00:00:00Z');
const deps = () => ({ db: tdb.db, log: silentLogger, env, now });

/** A draft with one item citing `path` on the local source server. */
async function draftCiting(period: string, path: string): Promise<number> {
  const { id } = await tdb.db
    .insertInto('issues')
    .values({ period, title: '每月资讯' })
    .returning('id')
    .executeTakeFirstOrThrow();
  await addIssueItem(
    deps(),
    id,
    {
      sectionKey: 'domestic-regulation',
      title: '工业和信息化部发布《关于加强数据安全管理的通知》',
      summary: '通知要求企业建立数据分类分级制度。',
      sources: [{ url: `${source.baseUrl}${path}` }],
    },
    'editor',
  );
  return id;
}

async function editorApi(archive: ReturnType<typeof queueArchiveRequests>, log = silentLogger) {
  const app = Fastify();
  await app.register(issueEditorRoutes, {
    ctx: { ...deps(), log },
    authorize: async () => 'chief',
    archive,
  });
  return app;
}

beforeAll(async () => {
  tdb = await createTestDatabase();
  env = testEnv();
  source = await startFixtureServer();
  source.route('/notice', (_req, res) =>
    res
      .writeHead(200, { 'content-type': 'text/html; charset=utf-8' })
      .end('<html><head><title>数据安全管理通知</title></head><body><p>通知全文</p></body></html>'),
  );
  await ensurePublication(tdb.db, env);
  for (const s of MODEL_SECTIONS) await upsertSection(tdb.db, s);
});

afterAll(async () => {
  await source?.close();
  await closeFetchAgents();
  await tdb?.drop();
});

describe('approving an issue archives its sources at once', { timeout: 60_000 }, () => {
  it('the approval queues a job for that issue and the archive worker keeps the snapshot', async () => {
    const issueId = await draftCiting('2025-07', '/notice');
    // A scheduler interval of an hour: only the approval's job can take the snapshot in this test.
    const workerLog = captureLog();
    const worker = createArchiveWorker({
      ...deps(),
      log: workerLog.log,
      connection: { url: env.REDIS_URL, prefix: env.QUEUE_PREFIX },
      everyMs: 3_600_000,
    });
    const queue = new Queue(QUEUES.archive, {
      connection: createRedis(env.REDIS_URL),
      prefix: env.QUEUE_PREFIX,
    });
    let app: FastifyInstance | undefined;
    try {
      await worker.scheduled;
      // The scheduler's first run happens at once; wait until it has swept (nothing approved yet).
      await waitFor(
        'the first scheduled sweep to finish',
        async () => (await worker.queue.getCompletedCount()) >= 1,
      );
      app = await editorApi(queueArchiveRequests(queue));
      const res = await app.inject({ method: 'POST', url: `/api/issues/${issueId}/approve` });
      expect(res.statusCode).toBe(200);
      const { revision } = res.json() as { revision: number };
      const job = await queue.getJob(archiveJobId(issueId, revision));
      expect(job?.data).toEqual({ issueId });

      // The approval's job sweeps that issue, not everything.
      const swept = await waitFor('the archive job for the approved issue', () =>
        workerLog.events('archive.swept').find((e) => e.issueId === issueId),
      );
      expect(swept).toMatchObject({ taken: 1, failed: 0 });
      const rows = await listSnapshots(tdb.db, issueId);
      expect(rows).toHaveLength(1);
      expect(rows[0]).toMatchObject({
        url: `${source.baseUrl}/notice`,
        http_status: 200,
        title: '数据安全管理通知',
        error: null,
      });
      expect(source.hits.get('/notice')).toBe(1);
      // Asking again for the same revision adds no second job.
      await queueArchiveRequests(queue).request(issueId, revision);
      const jobs = await queue.getJobs(['waiting', 'active', 'completed', 'delayed']);
      expect(jobs.filter((j) => j.id === archiveJobId(issueId, revision))).toHaveLength(1);
    } finally {
      await app?.close();
      await queue.close();
      await worker.close();
    }
  });

  it('still approves when Redis is down, warning archive.request.failed', async () => {
    const issueId = await draftCiting('2025-08', '/notice');
    const dead = createServer();
    await new Promise<void>((resolve) => dead.listen(0, '127.0.0.1', resolve));
    const { port } = dead.address() as { port: number };
    await new Promise<void>((resolve) => dead.close(() => resolve()));
    const redis = createRedis(`redis://127.0.0.1:${port}`);
    redis.on('error', () => {}); // refused connections are the point here
    const queue = new Queue(QUEUES.archive, { connection: redis, prefix: env.QUEUE_PREFIX });
    queue.on('error', () => {});
    const captured = captureLog();
    const app = await editorApi(queueArchiveRequests(queue, 300), captured.log);
    try {
      const res = await app.inject({ method: 'POST', url: `/api/issues/${issueId}/approve` });
      expect(res.statusCode).toBe(200);
      expect(res.json()).toMatchObject({ id: issueId, state: 'approved' });
      expect(captured.events('archive.request.failed')).toEqual([
        expect.objectContaining({ level: 40, issueId, err: expect.stringMatching(/archive job/) }),
      ]);
    } finally {
      await app.close();
      redis.disconnect();
    }
  });
});
