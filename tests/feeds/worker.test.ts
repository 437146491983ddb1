import { Queue, QueueEvents } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Env } from '../../src/config/env.js';
import type { Db } from '../../src/db/schema.js';
import { closeFetchAgents } from '../../src/feeds/fetch.js';
import { addSource, getSource, updateSource } from '../../src/feeds/sources.js';
import { silentLogger } from '../../src/log.js';
import { QUEUES } from '../../src/queue/names.js';
import { createRedis } from '../../src/queue/redis.js';
import { createFeedWorker, schedulerIdFor, syncFeedSchedulers } from '../../workers/feeds.js';
import { createTestDatabase, type TestDatabase } from '../support/test-db.js';
import { testEnv } from '../support/test-env.js';
import { waitFor } from '../support/wait.js';
import { body, type FixtureServer, fixture, startFixtureServer } from './fixture-server.js';

let tdb: TestDatabase;
let db: Db;
let env: Env;
let server: FixtureServer;
const redis = createRedis(process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379');
let queue: Queue;
const connection = () => ({ url: env.REDIS_URL, prefix: env.QUEUE_PREFIX });

beforeAll(async () => {
  tdb = await createTestDatabase();
  db = tdb.db;
  env = testEnv({ FETCH_ALLOW_PRIVATE: '127.0.0.1' });
  server = await startFixtureServer();
  server.route('/a.xml', body(fixture('rss2.xml'), 'text/xml'));
  server.route('/b.xml', body(fixture('atom.xml'), 'text/xml'));
  queue = new Queue(QUEUES.feeds, { connection: redis, prefix: env.QUEUE_PREFIX });
});

afterAll(async () => {
  await queue.obliterate({ force: true }).catch(() => {});
  await queue.close();
  redis.disconnect();
  await server.close();
  await closeFetchAgents();
  await tdb.drop();
});

describe('feed job schedulers', () => {
  it('keeps one scheduler per enabled source, at its interval, and removes stale ones', async () => {
    const a = await addSource(db, { name: 'A', url: `${server.baseUrl}/a.xml`, pollIntervalMinutes: 15 });
    const b = await addSource(db, { name: 'B', url: `${server.baseUrl}/b.xml`, pollIntervalMinutes: 60 });
    await addSource(db, { name: 'off', url: `${server.baseUrl}/off.xml`, enabled: false });
    expect(await syncFeedSchedulers({ db, log: silentLogger, connection: connection() })).toEqual({
      upserted: 2,
      removed: 0,
    });
    const schedulers = await queue.getJobSchedulers(0, -1);
    const byId = Object.fromEntries(schedulers.map((s) => [s.id ?? s.key, s]));
    expect(Object.keys(byId).sort()).toEqual([schedulerIdFor(a.id), schedulerIdFor(b.id)].sort());
    expect(byId[schedulerIdFor(a.id)]?.every).toBe(15 * 60_000);
    expect(byId[schedulerIdFor(a.id)]?.template?.data).toEqual({ sourceId: a.id });

    await updateSource(db, b.id, { enabled: false });
    expect(await syncFeedSchedulers({ db, log: silentLogger, connection: connection() })).toEqual({
      upserted: 1,
      removed: 1,
    });
    expect((await queue.getJobSchedulers(0, -1)).map((s) => s.id ?? s.key)).toEqual([schedulerIdFor(a.id)]);
  });

  it('the worker syncs at start and polls a source when its job runs', async () => {
    const events = new QueueEvents(QUEUES.feeds, {
      connection: createRedis(env.REDIS_URL),
      prefix: env.QUEUE_PREFIX,
    });
    await events.waitUntilReady();
    const a = (await db.selectFrom('sources').select('id').where('name', '=', 'A').executeTakeFirstOrThrow())
      .id;
    const feeds = createFeedWorker({ db, log: silentLogger, env, connection: connection(), resyncMs: 0 });
    try {
      expect(await feeds.synced).toEqual({ upserted: 1, removed: 0 });
      // The scheduler's first job runs at once; wait until the source shows the poll.
      await waitFor('the first poll of source A', async () => (await getSource(db, a))?.last_success_at);
      const items = await db.selectFrom('items').select('id').where('source_id', '=', a).execute();
      expect(items.length).toBe(2);
      // A job for a removed source does nothing and does not fail.
      const job = await queue.add('poll', { sourceId: 987654 });
      expect(await job.waitUntilFinished(events, 10_000)).toEqual({ skipped: 'source removed' });
    } finally {
      await feeds.close();
      await events.close();
    }
  });
});
