import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Db } from '../../src/db/schema.js';
import { silentLogger } from '../../src/log.js';
import { getSubscriberByEmail } from '../../subscribers/api.js';
import {
  failImport,
  getImport,
  IMPORT_CHUNK_BYTES,
  importRefusals,
  MAX_RUNS,
  runImport,
  storeImport,
} from '../../subscribers/import-jobs.js';
import { seedModelSections } from '../http/support.js';
import { createTestDatabase, type TestDatabase } from '../support/test-db.js';
import { waitFor } from '../support/wait.js';

const FIXTURE = resolve(import.meta.dirname, '../fixtures/subscribers/with-bad-rows.csv');

let t: TestDatabase;
let db: Db;
const deps = () => ({ db, log: silentLogger, now: () => new Date() });
beforeAll(async () => {
  t = await createTestDatabase();
  db = t.db;
  await seedModelSections(db);
});
afterAll(async () => t?.drop());
beforeEach(async () => {
  await db.deleteFrom('subscriber_imports').execute();
  await db.deleteFrom('subscribers').execute();
});

const store = (content: string | Buffer, maxRows = 1_000_000) =>
  storeImport(
    db,
    { fileName: 'list.csv', chunks: [Buffer.from(content)], actor: 'user:editor@example.org', maxRows },
    new Date(),
  );

const countOf = async (table: 'subscribers' | 'subscriber_import_chunks') =>
  Number(
    (
      await db
        .selectFrom(table)
        .select((eb) => eb.fn.countAll<string>().as('n'))
        .executeTakeFirstOrThrow()
    ).n,
  );

/** A file of `n` rows: every fifth has no @, the rest are distinct good addresses. */
function generated(n: number): { text: string; good: number; bad: number } {
  const lines = ['email,name'];
  let good = 0;
  for (let i = 0; i < n; i++) {
    if (i % 5 === 4) lines.push(`broken${i}-at-example.com,x`);
    else {
      lines.push(`reader${i}@example.com,读者${i}`);
      good++;
    }
  }
  return { text: `${lines.join('\n')}\n`, good, bad: n - good };
}

describe('a stored subscriber import', () => {
  it('keeps the upload in pieces of at most 1 MiB until its run finishes, then only the report', async () => {
    const { text } = generated(120_000);
    expect(Buffer.byteLength(text)).toBeGreaterThan(2 * IMPORT_CHUNK_BYTES);
    // Received in pieces of any size (as a browser's upload arrives), stored regrouped.
    const bytes = Buffer.from(text);
    const pieces = [bytes.subarray(0, 1000), bytes.subarray(1000, 1_500_000), bytes.subarray(1_500_000)];
    const id = await storeImport(
      db,
      { fileName: 'big.csv', chunks: pieces, actor: null, maxRows: 1_000_000 },
      new Date(),
    );
    const stored = await db
      .selectFrom('subscriber_import_chunks')
      .select(['seq', 'data'])
      .where('import_id', '=', id)
      .orderBy('seq')
      .execute();
    expect(stored.map((c) => c.data.length <= IMPORT_CHUNK_BYTES)).not.toContain(false);
    expect(Buffer.concat(stored.map((c) => c.data)).equals(bytes)).toBe(true);
    expect((await getImport(db, id))?.state).toBe('queued');

    expect(await runImport(deps(), id)).toBe('done');
    expect(await getImport(db, id)).toMatchObject({
      state: 'done',
      recordsDone: 120_000,
      bytesDone: bytes.length,
      percent: 100,
      added: 96_000,
      invalid: 24_000,
      runs: 1,
    });
    expect(await countOf('subscriber_import_chunks')).toBe(0);
  }, 120_000);

  it('reports each refused row with its line, cell and reason, in file order', async () => {
    const id = await store(readFileSync(FIXTURE));
    expect(await runImport(deps(), id)).toBe('done');
    expect(await getImport(db, id)).toMatchObject({ added: 4, updated: 0, skipped: 0, invalid: 5 });
    const refused = await importRefusals(db, id);
    expect(refused.map((r) => [r.n, r.line, r.value, r.problem.code])).toEqual([
      [1, 4, 'not-an-address', 'email-no-at'],
      [2, 7, 'evil@example.com\nBcc: all@example.com', 'email-line-break'],
      [3, 8, 'zhao@example.com', 'csv-locale'],
      [4, 9, 'qian@example.com', 'csv-topics'],
      [5, 10, 'ZHANG@Example.com', 'csv-duplicate'],
    ]);
    expect(refused[4]?.problem.params).toEqual({ first: 2 });
    // Running the same import again changes nothing: it is finished.
    expect(await runImport(deps(), id)).toBe('finished-before');
  });

  it('stops at the row limit with its reason, keeping the rows before it', async () => {
    const { text } = generated(5000);
    const id = await store(text, 3000);
    expect(await runImport(deps(), id, { batchSize: 500 })).toBe('failed');
    const record = await getImport(db, id);
    expect(record).toMatchObject({ state: 'failed', recordsDone: 3000, added: 2400, invalid: 600 });
    expect(record?.failure?.problem).toEqual({
      code: 'import-too-many-rows',
      params: { max: 3000, line: 3002 },
    });
    expect(record?.failure?.message).toContain('more than 3000 rows (IMPORT_MAX_ROWS)');
    expect(await countOf('subscribers')).toBe(2400);
    expect(await countOf('subscriber_import_chunks')).toBe(0);
  });

  it('fails a file without an email column, naming the columns it has', async () => {
    const id = await store('name,locale\nA,en\n');
    expect(await runImport(deps(), id)).toBe('failed');
    expect((await getImport(db, id))?.failure).toEqual({
      problem: { code: 'import-no-email-column', params: { columns: 'name, locale' } },
      message: 'CSV header has no email column (got: name, locale)',
    });
  });

  it('resumes after another run took it over: no row added twice, every refusal counted once', async () => {
    const { text, good, bad } = generated(60_000);
    const id = await store(text);
    // The first run is overtaken in mid-file, as when its worker's lock expired and the job was
    // given out again: its next batch finds the token gone and commits nothing.
    const first = runImport(deps(), id, { batchSize: 200 });
    await waitFor(
      'the first batches to commit',
      async () => ((await getImport(db, id))?.recordsDone ?? 0) >= 2000,
      {
        intervalMs: 2,
      },
    );
    const second = await runImport(deps(), id, { batchSize: 200 });
    expect(await first).toBe('superseded');
    expect(second).toBe('done');
    const record = await getImport(db, id);
    // Every good address was added exactly once: a rerun from the start would count the first
    // run's rows as "updated", and a double-counted batch would push the totals past the file.
    expect(record).toMatchObject({
      state: 'done',
      runs: 2,
      recordsDone: 60_000,
      added: good,
      updated: 0,
      invalid: bad,
    });
    expect(await countOf('subscribers')).toBe(good);
    const refused = await importRefusals(db, id, { limit: 100_000 });
    expect(refused).toHaveLength(Math.min(bad, 10_000));
    expect(new Set(refused.map((r) => r.line)).size).toBe(refused.length);
    expect(refused.map((r) => r.n)).toEqual(refused.map((_, i) => i + 1));
    expect(await getSubscriberByEmail(db, 'reader59998@example.com')).toBeDefined();
  }, 120_000);

  it(`fails an import that was started ${MAX_RUNS} times without finishing, keeping what was stored`, async () => {
    const id = await store('email\na@example.com\n');
    await db
      .updateTable('subscriber_imports')
      .set({ state: 'running', runs: MAX_RUNS })
      .where('id', '=', id)
      .execute();
    expect(await runImport(deps(), id)).toBe('failed');
    expect((await getImport(db, id))?.failure?.problem).toEqual({
      code: 'import-stopped-repeatedly',
      params: { runs: MAX_RUNS },
    });
    expect(await countOf('subscriber_import_chunks')).toBe(0);
    // A failed import is not failed again, nor run.
    expect(await failImport(db, id, new Date(), { code: 'x', params: {}, message: 'x' })).toBe(false);
    expect(await runImport(deps(), id)).toBe('finished-before');
  });
});
