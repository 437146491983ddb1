import Fastify from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Db } from '../../src/db/schema.js';
import { silentLogger } from '../../src/log.js';
import { recipientLinks } from '../../src/security/recipient-links.js';
import { EventWriter, type TrackEvent } from '../../src/tracking/event-writer.js';
import { registerIssueLinks } from '../../src/tracking/issue-links.js';
import { trackingRoutes } from '../../src/http/tracking/routes.js';
import { createTestDatabase, type TestDatabase } from '../support/test-db.js';
import { type SeededIssue, seedSentIssue } from './seed.js';

let tdb: TestDatabase;
let issue: SeededIssue;

beforeAll(async () => {
  tdb = await createTestDatabase();
  issue = await seedSentIssue(tdb.db, { recipients: 4 });
});

afterAll(async () => {
  await tdb?.drop();
});

function openOf(i: number, occurredAt = new Date()): TrackEvent {
  const d = issue.deliveries[i] as SeededIssue['deliveries'][number];
  return {
    type: 'open',
    deliveryId: d.id,
    issueId: issue.issueId,
    subscriberId: d.subscriberId,
    dedupeKey: `open:${d.id}`,
    occurredAt,
  };
}

async function countEvents(type: string) {
  const r = await tdb.db
    .selectFrom('events')
    .select((eb) => eb.fn.countAll<string>().as('c'))
    .where('type', '=', type as never)
    .where('issue_id', '=', issue.issueId)
    .executeTakeFirstOrThrow();
  return Number(r.c);
}

/** A Db whose transactions fail (or wait) while the test says so; everything else is the real database. */
function controllableDb(real: Db) {
  const control = { fail: false, gate: undefined as Promise<void> | undefined };
  const db = new Proxy(real, {
    get(target, prop) {
      if (prop === 'transaction') {
        return () => {
          const trx = target.transaction();
          return {
            execute: async (fn: Parameters<typeof trx.execute>[0]) => {
              if (control.gate) await control.gate;
              if (control.fail) throw Object.assign(new Error('connection terminated'), { code: '57P01' });
              return trx.execute(fn);
            },
          };
        };
      }
      // Kysely uses private fields: call its methods on the real instance.
      const value = Reflect.get(target, prop, target);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  }) as Db;
  return { db, control };
}

describe('EventWriter', () => {
  it('writes in batches and treats a replayed event, in or across batches, as nothing new', async () => {
    const writer = new EventWriter({ db: tdb.db, log: silentLogger, maxBatch: 3, flushIntervalMs: 60_000 });
    for (let k = 0; k < 3; k++) for (const i of [0, 1]) writer.add(openOf(i));
    await writer.flush();
    writer.add(openOf(0));
    await writer.close();
    expect(await countEvents('open')).toBe(2);
    expect(writer.stats.flushes).toBe(3);
    expect(writer.stats.written).toBe(2);
    expect(writer.stats.duplicates).toBe(5);
  });

  it('drops an event the database refuses for good without losing the rest of its batch', async () => {
    const writer = new EventWriter({ db: tdb.db, log: silentLogger, flushIntervalMs: 60_000 });
    const d = issue.deliveries[2] as SeededIssue['deliveries'][number];
    writer.add({ ...openOf(2), deliveryId: 99_999_999, dedupeKey: 'open:99999999' }); // no such delivery
    writer.add({ ...openOf(2), dedupeKey: `open:${d.id}` });
    await writer.close();
    expect(writer.stats.dropped).toBe(1);
    const rows = await tdb.db
      .selectFrom('events')
      .select('dedupe_key')
      .where('delivery_id', '=', d.id)
      .execute();
    expect(rows.map((r) => r.dedupe_key)).toEqual([`open:${d.id}`]);
  });

  it('keeps events while the database is down and writes them when it is back', async () => {
    const { db, control } = controllableDb(tdb.db);
    const writer = new EventWriter({ db, log: silentLogger, flushIntervalMs: 60_000 });
    control.fail = true;
    writer.add(openOf(3));
    await writer.flush();
    expect(writer.pending).toBe(1);
    expect(await countEvents('open')).toBe(3);
    control.fail = false;
    await writer.close();
    expect(writer.pending).toBe(0);
    expect(await countEvents('open')).toBe(4);
  });
});

describe('click redirect with a slow database', () => {
  it('redirects at once while the event write is still waiting, and writes it afterwards', async () => {
    const secrets = { current: 's'.repeat(40) };
    const linkId = (await registerIssueLinks(tdb.db, issue.issueId, ['https://example.com/slow'])).get(
      'https://example.com/slow',
    ) as number;
    const { db, control } = controllableDb(tdb.db);
    let release!: () => void;
    control.gate = new Promise<void>((ok) => {
      release = ok;
    });
    const writer = new EventWriter({ db, log: silentLogger, maxBatch: 1 });
    const app = Fastify();
    await app.register(trackingRoutes, { db, log: silentLogger, secrets, writer });
    const d = issue.deliveries[1] as SeededIssue['deliveries'][number];
    const token = recipientLinks(secrets, 'https://n.example.org', {
      subscriberId: d.subscriberId,
      issueId: issue.issueId,
      deliveryId: d.id,
    }).trackingToken;
    const before = await countEvents('click');
    for (let k = 0; k < 5; k++) {
      const res = await app.inject({ method: 'GET', url: `/t/c/${token}/${linkId}` });
      expect(res.statusCode).toBe(302);
      expect(res.headers.location).toBe('https://example.com/slow');
    }
    expect(await countEvents('click')).toBe(before); // nothing written yet: the writes wait
    release();
    control.gate = undefined;
    await writer.close();
    await app.close();
    expect(await countEvents('click')).toBe(before + 5);
  });
});
