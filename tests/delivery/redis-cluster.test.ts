import { SMTPServer } from 'smtp-server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitForIssue } from '../../src/cli/wait-for-issue.js';
import { ConfigError, parseEnv } from '../../src/config/env.js';
import { startIssueSend } from '../../src/delivery/control.js';
import { RelayRests } from '../../src/delivery/relay-rest.js';
import { createSendWorker, type SendWorker } from '../../src/delivery/send-worker.js';
import { createRedis, scanKeys } from '../../src/queue/redis.js';
import {
  type RedisClusterHandle,
  redisClusterToolsPresent,
  startRedisCluster,
} from '../support/redis-cluster.js';
import { createTestDatabase, type TestDatabase } from '../support/test-db.js';
import { testEnv } from '../support/test-env.js';
import {
  addSubscribers,
  createIssue,
  deps as makeDeps,
  renderable,
  seedSections,
  standInContent,
} from './support.js';

/**
 * Gazette on a Redis Cluster: three primaries started here, a hash-tagged QUEUE_PREFIX, and a send
 * through two workers end to end (BullMQ jobs, relay rests, the shared send budget, locks).
 */
const present = redisClusterToolsPresent();

describe.skipIf(!present)('a send on a Redis Cluster with a hash-tagged queue prefix', () => {
  let cluster: RedisClusterHandle;
  let tdb: TestDatabase;
  let server: SMTPServer;
  const received: string[] = [];

  beforeAll(async () => {
    cluster = await startRedisCluster(3);
    tdb = await createTestDatabase();
    server = new SMTPServer({
      authOptional: true,
      disabledCommands: ['STARTTLS'],
      logger: false,
      onData(stream, session, callback) {
        stream.on('data', () => {});
        stream.on('end', () => {
          received.push(session.envelope.rcptTo[0]?.address ?? '');
          callback(null, 'ok');
        });
      },
    });
    await new Promise<void>((ok) => server.listen(0, '127.0.0.1', () => ok()));
  }, 90_000);

  afterAll(async () => {
    await new Promise<void>((ok) => server?.close(() => ok()));
    await tdb?.drop();
    await cluster?.stop();
  });

  it('refuses a cluster URL whose prefix has no hash tag, naming QUEUE_PREFIX', () => {
    expect(() =>
      parseEnv({ REDIS_URL: cluster.url, QUEUE_PREFIX: 'gazette', SECRET_KEY: 'k'.repeat(40) }),
    ).toThrow(ConfigError);
    expect(() =>
      parseEnv({ REDIS_URL: cluster.url, QUEUE_PREFIX: 'gazette', SECRET_KEY: 'k'.repeat(40) }),
    ).toThrow(/QUEUE_PREFIX: must carry a hash tag such as \{gazette\}/);
  });

  it('sends every row once through two workers, with a per-second budget and relay rests kept in one slot', {
    timeout: 120_000,
  }, async () => {
    const port = (server.server.address() as { port: number }).port;
    const prefix = `{gtest${Date.now().toString(36)}}`;
    const env = testEnv({
      REDIS_URL: cluster.url,
      QUEUE_PREFIX: prefix,
      SMTP_URL: `smtp://127.0.0.1:${port}#perSecond=200&perHour=100000`,
      SEND_CONCURRENCY: '10',
      SEND_BATCH_SIZE: '25',
    });
    const sections = await seedSections(tdb.db);
    const n = 150;
    await addSubscribers(
      tdb.db,
      sections,
      Array.from({ length: n }, (_, i) => ({ email: `reader${i}.cluster@example.test` })),
    );
    const issueId = await createIssue(tdb.db);
    const base = makeDeps(
      tdb.db,
      env,
      standInContent((id) => renderable(id)),
    );
    const workers: SendWorker[] = [];
    for (let i = 0; i < 2; i++)
      workers.push(
        await createSendWorker({
          ...base,
          connection: { url: env.REDIS_URL, prefix: env.QUEUE_PREFIX },
          scanIntervalMs: 0,
          concurrency: 2,
        }),
      );
    try {
      await startIssueSend({ ...base, queue: (workers[0] as SendWorker).queue }, issueId);
      const { state, stats } = await waitForIssue(base, issueId, { timeoutMs: 90_000, intervalMs: 100 });
      expect(state).toBe('sent');
      expect(stats.byState).toMatchObject({ accepted: n, unknown: 0, failed: 0 });
      expect(received).toHaveLength(n);
      expect(new Set(received).size).toBe(n);

      const redis = createRedis(env.REDIS_URL);
      try {
        // Every key the send left lives under the prefix, so in the one slot its hash tag names.
        const keys = await scanKeys(redis, `${prefix}:*`);
        expect(keys.some((k) => k.includes(':ratelimit:'))).toBe(true);
        const slots = new Set(
          await Promise.all(
            keys.map((k) => (redis as { cluster(...a: string[]): Promise<number> }).cluster('KEYSLOT', k)),
          ),
        );
        expect(slots.size).toBe(1);
        // A rest raised through one client is seen by another, and listed from every primary.
        const rests = new RelayRests(redis, prefix);
        await rests.rest('relay.example:25', { reason: 'throttled', reply: '421 4.7.0 slow down' });
        const second = createRedis(env.REDIS_URL);
        const other = new RelayRests(second, prefix);
        expect((await other.gate('relay.example:25')).kind).toBe('wait');
        expect((await other.all()).map((r) => r.relay)).toEqual(['relay.example:25']);
        second.disconnect();
      } finally {
        redis.disconnect();
      }
    } finally {
      for (const w of workers) await w.close();
    }
  });
});
