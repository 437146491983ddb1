import { createReadStream } from 'node:fs';
import type { Readable } from 'node:stream';
import { Parser } from 'csv-parse';
import { sql, type Transaction } from 'kysely';
import type { Database, Db, Locale } from '../src/db/schema.js';
import { ProblemError, type StageProblem } from '../src/problem.js';
import { checkEmail, emailDomain, emailHash } from './email.js';
import { allSections } from './sections.js';
import { INACTIVE_FOR_GOOD } from './store.js';
import { stripControl } from './text.js';

/** Why a whole file is refused or stopped: no email column, over IMPORT_MAX_ROWS, no such file. */
export type CsvImportErrorCode = 'import-no-email-column' | 'import-too-many-rows' | 'import-no-file';

export class CsvImportError extends ProblemError<CsvImportErrorCode> {
  override name = 'CsvImportError';
}

export interface ImportProblem {
  line: number;
  /** The row's email cell as given (cut at 320 characters), for the downloadable report; absent for an unreadable row. */
  value?: string;
  /** In English, for the CLI and logs. */
  reason: string;
  /** The same as a code and values, for pages in the reader's language. */
  problem: StageProblem;
}

export interface ImportSummary {
  added: number;
  updated: number;
  skipped: number;
  invalid: number;
  /** Bad rows, each with the line it starts on (line 1 is the header). */
  problems: ImportProblem[];
  /** Why rows were skipped, counted (never-re-activate, suppressed, erased). */
  skippedReasons: Record<string, number>;
}

/** What one batch of records stored, handed to `onBatch` inside the batch's own transaction. */
export interface ImportBatch {
  /** Records read from the start of the file up to the end of this batch (the resume point). */
  records: number;
  /** Bytes of the file read up to the end of this batch. */
  bytes: number;
  added: number;
  updated: number;
  skipped: number;
  invalid: number;
  skippedReasons: Record<string, number>;
  /** This batch's bad rows, every one (the caller decides how many to keep). */
  problems: ImportProblem[];
}

export interface ImportOptions {
  /** Status for new subscribers: imported lists are normally already confirmed. */
  status?: 'active' | 'pending';
  defaultLocale?: Locale;
  /** Records (good or bad) per batch: each batch is one transaction, and the point a resumed import restarts from. */
  batchSize?: number;
  now?: Date;
  /** Called with each bad row as it is found (the CLI prints them as they come). */
  onProblem?: (p: ImportProblem) => void;
  /** Stored problems are capped so a broken 1M-row file cannot exhaust memory; counts stay exact. */
  maxProblemsKept?: number;
  /** Records read beyond this end the import with a CsvImportError naming the limit. */
  maxRows?: number;
  /**
   * Records an earlier run of the same file already stored (a resumed import): they are read
   * again, so duplicates of them are still found, but neither written nor counted.
   */
  skipRecords?: number;
  /**
   * Called inside each batch's transaction with what the batch stored; the import job records
   * its progress there, so progress and rows commit together. Throwing rolls the batch back.
   */
  onBatch?: (trx: Transaction<Database>, batch: ImportBatch) => Promise<void>;
}

/**
 * Parsing and checking rows is CPU only (bad rows never reach the database): after this much work
 * the importer lets the event loop run, so a process that also serves HTTP keeps answering.
 */
const SLICE_MS = 5;
const yieldToEventLoop = () => new Promise<void>((resolve) => setImmediate(resolve));
/** Longest email cell kept for the report (an address is at most 254 characters). */
const VALUE_KEPT = 320;

/** Column names accepted for each field (header matching is case-insensitive). */
const COLUMN_ALIASES: Record<'email' | 'name' | 'locale' | 'topics', string[]> = {
  email: ['email', 'e-mail', 'email address', 'mail', '邮箱', '电子邮件'],
  name: ['name', 'full name', '姓名', '称呼'],
  locale: ['locale', 'language', 'lang', '语言'],
  topics: ['topics', 'sections', 'topic', 'section', '栏目'],
};

interface Row {
  line: number;
  email: string;
  normalized: string;
  name: string | null;
  locale: Locale | undefined;
  /** undefined: column absent or empty (keep / all); otherwise section ids. */
  sectionIds: number[] | undefined;
}

/** A parsed record with where it ends in the file. */
interface LocatedRecord {
  record: string[];
  lines: number;
  bytes: number;
}

/**
 * csv-parse's stream, each record paired with the parser's line and byte counters as it is
 * pushed (the documented `info` property, read at the moment the record is complete).
 */
class LocatedParser extends Parser {
  override push(record: unknown): boolean {
    if (record === null) return super.push(null);
    const info = this.info as { lines: number; bytes: number };
    const located: LocatedRecord = { record: record as string[], lines: info.lines, bytes: info.bytes };
    return super.push(located);
  }
}

/** Where each known column is in the header (-1: absent); refuses a header without an email column. */
function headerColumnsOf(header: string[]): Record<keyof typeof COLUMN_ALIASES, number> {
  const keys = header.map((h) => h.trim().toLowerCase());
  const at = (field: keyof typeof COLUMN_ALIASES) => keys.findIndex((k) => COLUMN_ALIASES[field].includes(k));
  const columns = { email: at('email'), name: at('name'), locale: at('locale'), topics: at('topics') };
  if (columns.email < 0) {
    const found = header.join(', ');
    throw new CsvImportError(`CSV header has no email column (got: ${found})`, 'import-no-email-column', {
      columns: found,
    });
  }
  return columns;
}

function splitTopics(value: string): string[] {
  return value
    .split(/[;|,，；]/)
    .map((t) => t.trim())
    .filter(Boolean);
}

function parseLocale(value: string | undefined): Locale | undefined | Error {
  const v = value?.trim();
  if (!v) return undefined;
  const lower = v.toLowerCase();
  if (lower === 'en' || lower.startsWith('en-') || lower.startsWith('en_')) return 'en';
  if (lower === 'zh' || lower === 'zh-cn' || lower === 'zh_cn' || lower === 'zh-hans') return 'zh-CN';
  return new Error(`locale "${v}" is not zh-CN or en`);
}

/**
 * Imports subscribers from CSV, streaming: rows are parsed one at a time and written in
 * batches, so memory stays flat for any file size. Good rows are imported even when others are
 * bad. Nobody who unsubscribed, bounced, complained, is suppressed or was erased is re-added or
 * re-activated.
 */
export async function importSubscribersCsv(
  db: Db,
  input: Readable | string,
  opts: ImportOptions = {},
): Promise<ImportSummary> {
  const batchSize = opts.batchSize ?? 1000;
  const maxKept = opts.maxProblemsKept ?? 10_000;
  const now = opts.now ?? new Date();
  const summary: ImportSummary = {
    added: 0,
    updated: 0,
    skipped: 0,
    invalid: 0,
    problems: [],
    skippedReasons: {},
  };
  const skipRecords = opts.skipRecords ?? 0;
  // What the current batch holds; it is added to the summary once its transaction commits.
  let pending = emptyBatch();
  const problem = (
    line: number,
    value: string | undefined,
    reason: string,
    code: string,
    params: StageProblem['params'] = {},
  ) => {
    // Rows an earlier run stored were reported by it.
    if (records <= skipRecords) return;
    const p: ImportProblem = {
      line,
      ...(value !== undefined ? { value: value.slice(0, VALUE_KEPT) } : {}),
      reason,
      problem: { code, params },
    };
    pending.invalid++;
    pending.problems.push(p);
  };

  const sections = await allSections(db);
  const sectionByKey = new Map(sections.map((s) => [s.key, s.id]));
  // Also accept a section's display name in either language, as spreadsheets often carry those.
  for (const s of sections) for (const name of Object.values(s.names)) if (name) sectionByKey.set(name, s.id);
  const seen = new Map<string, number>();

  // Opened only now, so its error handler is attached before any read can fail.
  const stream = typeof input === 'string' ? createReadStream(input) : input;
  // Records as arrays, not objects keyed by the header, and their position read from the parser's
  // live counters (LocatedParser) rather than its `info` option: together they made parsing
  // several times faster and left far less for the garbage collector.
  const parser = stream.pipe(
    new LocatedParser({
      bom: true,
      skip_empty_lines: true,
      relax_column_count: true,
      trim: true,
      skip_records_with_error: true,
    }),
  );
  // pipe() does not pass on a read error (missing file, broken upload); end the parse with it.
  stream.on('error', (err: Error) => parser.destroy(err));
  // A malformed record (e.g. an unclosed quote) is reported and skipped rather than ending the import.
  // A malformed record arrives as an event, possibly before records the loop has yet to take; it
  // waits here and is handled in file order, so every run numbers the records the same way.
  const unreadable: { lines: number; bytes: number; message: string }[] = [];
  parser.on('skip', (err: Error & { lines?: number; bytes?: number }) => {
    unreadable.push({ lines: err.lines ?? 0, bytes: err.bytes ?? 0, message: err.message });
  });

  let batch: Row[] = [];
  let records = 0;
  let flushedAt = 0;
  let bytes = 0;
  let sliceStart = performance.now();
  const flush = async () => {
    const rows = batch;
    const done = pending;
    batch = [];
    pending = emptyBatch();
    flushedAt = records;
    done.records = records;
    done.bytes = bytes;
    if (records <= skipRecords) return;
    await db.transaction().execute(async (trx) => {
      if (rows.length) await writeBatch(trx, rows, done, opts, now);
      await opts.onBatch?.(trx, done);
    });
    summary.added += done.added;
    summary.updated += done.updated;
    summary.skipped += done.skipped;
    summary.invalid += done.invalid;
    for (const [why, n] of Object.entries(done.skippedReasons))
      summary.skippedReasons[why] = (summary.skippedReasons[why] ?? 0) + n;
    for (const p of done.problems) {
      if (summary.problems.length < maxKept) summary.problems.push(p);
      opts.onProblem?.(p);
    }
  };
  /** Counts one more record (ending at `end` bytes, on `line`): the row limit, batch ends and yields. */
  const nextRecord = async (line: number, end: number) => {
    if (opts.maxRows !== undefined && records >= opts.maxRows) {
      // What was read before the limit is stored, so the message can say exactly what was imported.
      await flush();
      throw new CsvImportError(
        `the file has more than ${opts.maxRows} rows (IMPORT_MAX_ROWS); the rows before line ${line} were imported`,
        'import-too-many-rows',
        { max: opts.maxRows, line },
      );
    }
    if (records - flushedAt >= batchSize) await flush();
    records++;
    bytes = Math.max(bytes, end);
    if (performance.now() - sliceStart > SLICE_MS) {
      await yieldToEventLoop();
      sliceStart = performance.now();
    }
  };
  const takeUnreadable = async (before: number) => {
    while (unreadable.length && (unreadable[0]?.bytes ?? 0) <= before) {
      const u = unreadable.shift() as (typeof unreadable)[number];
      await nextRecord(u.lines, u.bytes);
      problem(u.lines, undefined, `unreadable CSV row: ${u.message}`, 'csv-unreadable', {
        message: u.message,
      });
    }
  };
  try {
    let columns: Record<keyof typeof COLUMN_ALIASES, number> | undefined;
    for await (const located of parser as AsyncIterable<LocatedRecord>) {
      // `lines` is the line the record ends on; multi-line quoted fields are rare, so report that.
      const line = located.lines;
      if (!columns) {
        columns = headerColumnsOf(located.record);
        continue;
      }
      await takeUnreadable(located.bytes);
      await nextRecord(line, located.bytes);
      const cells = located.record;
      const r = {
        email: cells[columns.email],
        name: cells[columns.name],
        locale: cells[columns.locale],
        topics: cells[columns.topics],
      };
      const value = r.email ?? '';
      const normalized = checkEmail(value);
      if (typeof normalized !== 'string') {
        problem(line, value, normalized.message, normalized.code);
        continue;
      }
      const locale = parseLocale(r.locale);
      if (locale instanceof Error) {
        problem(line, value, locale.message, 'csv-locale', { value: r.locale?.trim() ?? '' });
        continue;
      }
      let sectionIds: number[] | undefined;
      const topics = r.topics ? splitTopics(r.topics) : [];
      if (topics.length) {
        const unknown = topics.filter((t) => !sectionByKey.has(t));
        if (unknown.length) {
          problem(
            line,
            value,
            `unknown topic${unknown.length > 1 ? 's' : ''}: ${unknown.join(', ')}`,
            'csv-topics',
            {
              list: unknown.join(', '),
            },
          );
          continue;
        }
        sectionIds = [...new Set(topics.map((t) => sectionByKey.get(t) as number))];
      }
      const first = seen.get(normalized);
      if (first !== undefined) {
        problem(line, value, `duplicate of the address on line ${first}`, 'csv-duplicate', { first });
        continue;
      }
      seen.set(normalized, line);
      if (records <= skipRecords) continue;
      const name = r.name ? stripControl(r.name).trim().slice(0, 200) || null : null;
      batch.push({ line, email: value.trim(), normalized, name, locale, sectionIds });
    }
    await takeUnreadable(Number.POSITIVE_INFINITY);
  } catch (err) {
    if (err instanceof Error && 'code' in err && err.code === 'ENOENT') {
      throw new CsvImportError(`Cannot read ${String(input)}: no such file`, 'import-no-file');
    }
    throw err;
  }
  await flush();
  return summary;
}

function emptyBatch(): ImportBatch {
  return {
    records: 0,
    bytes: 0,
    added: 0,
    updated: 0,
    skipped: 0,
    invalid: 0,
    skippedReasons: {},
    problems: [],
  };
}

async function writeBatch(
  trx: Transaction<Database>,
  rows: Row[],
  summary: ImportBatch,
  opts: ImportOptions,
  now: Date,
): Promise<void> {
  const skip = (why: string) => {
    summary.skipped++;
    summary.skippedReasons[why] = (summary.skippedReasons[why] ?? 0) + 1;
  };
  {
    const emails = rows.map((r) => r.normalized);
    const domains = [...new Set(emails.map(emailDomain))];
    const [existing, suppressed, erased] = await Promise.all([
      trx
        .selectFrom('subscribers')
        .select(['id', 'email_normalized', 'status'])
        .where('email_normalized', 'in', emails)
        .execute(),
      trx
        .selectFrom('suppressions')
        .select(['kind', 'value'])
        .where((eb) =>
          eb.or([
            eb.and([eb('kind', '=', 'address'), eb('value', 'in', emails)]),
            eb.and([eb('kind', '=', 'domain'), eb('value', 'in', domains)]),
          ]),
        )
        .execute(),
      trx
        .selectFrom('erased_subscribers')
        .select('email_hash')
        .where('email_hash', 'in', emails.map(emailHash))
        .execute(),
    ]);
    const existingBy = new Map(existing.map((e) => [e.email_normalized, e]));
    const suppressedSet = new Set(suppressed.map((s) => `${s.kind}:${s.value}`));
    const erasedSet = new Set(erased.map((e) => e.email_hash));

    const toInsert: Row[] = [];
    const toUpdate: { row: Row; id: number }[] = [];
    for (const row of rows) {
      const ex = existingBy.get(row.normalized);
      if (ex && INACTIVE_FOR_GOOD.includes(ex.status)) skip(ex.status);
      else if (
        suppressedSet.has(`address:${row.normalized}`) ||
        suppressedSet.has(`domain:${emailDomain(row.normalized)}`)
      )
        skip('suppressed');
      else if (!ex && erasedSet.has(emailHash(row.normalized))) skip('erased');
      else if (ex) toUpdate.push({ row, id: Number(ex.id) });
      else toInsert.push(row);
    }

    if (toInsert.length) {
      const status = opts.status ?? 'active';
      const col = <T>(f: (r: Row) => T) => toInsert.map(f);
      // unnest() sends one array per column: a handful of parameters whatever the batch size.
      const inserted = await sql<{ id: string; email_normalized: string }>`
        INSERT INTO subscribers
          (email, email_normalized, name, locale, status, all_sections, consent_source, created_at, updated_at, confirmed_at)
        SELECT e, n, nm, l, ${status}, a, 'import', ${now}, ${now}, ${status === 'active' ? now : null}::timestamptz
        FROM unnest(${col((r) => r.email)}::text[], ${col((r) => r.normalized)}::text[], ${col((r) => r.name)}::text[],
                    ${col((r) => r.locale ?? opts.defaultLocale ?? 'zh-CN')}::text[],
                    ${col((r) => r.sectionIds === undefined)}::boolean[]) AS v(e, n, nm, l, a)
        ON CONFLICT (email_normalized) DO NOTHING
        RETURNING id, email_normalized`.execute(trx);
      summary.added += inserted.rows.length;
      const lost = toInsert.length - inserted.rows.length;
      for (let i = 0; i < lost; i++) skip('added-concurrently');
      const idBy = new Map(inserted.rows.map((i) => [i.email_normalized, Number(i.id)]));
      await insertSectionLinks(
        trx,
        toInsert.flatMap((r) =>
          r.sectionIds && idBy.has(r.normalized)
            ? r.sectionIds.map((sectionId) => [idBy.get(r.normalized) as number, sectionId] as const)
            : [],
        ),
      );
    }

    // Updates change only what the file gives (empty cells keep the stored value); status is
    // never touched by an import. One statement per batch.
    if (toUpdate.length) {
      const col = <T>(f: (u: { row: Row; id: number }) => T) => toUpdate.map(f);
      await sql`
        UPDATE subscribers s SET
          name = COALESCE(v.nm, s.name),
          locale = COALESCE(v.l, s.locale),
          all_sections = CASE WHEN v.has_topics THEN false ELSE s.all_sections END,
          updated_at = ${now}
        FROM unnest(${col((u) => u.id)}::bigint[], ${col((u) => u.row.name)}::text[],
                    ${col((u) => u.row.locale ?? null)}::text[], ${col((u) => !!u.row.sectionIds)}::boolean[])
          AS v(id, nm, l, has_topics)
        WHERE s.id = v.id`.execute(trx);
      const withTopics = toUpdate.filter((u) => u.row.sectionIds);
      if (withTopics.length) {
        await trx
          .deleteFrom('subscriber_sections')
          .where(
            'subscriber_id',
            'in',
            withTopics.map((u) => u.id),
          )
          .execute();
        await insertSectionLinks(
          trx,
          withTopics.flatMap((u) => (u.row.sectionIds ?? []).map((sectionId) => [u.id, sectionId] as const)),
        );
      }
      summary.updated += toUpdate.length;
    }
  }
}

async function insertSectionLinks(
  trx: Transaction<Database>,
  links: (readonly [number, number])[],
): Promise<void> {
  if (!links.length) return;
  await sql`
    INSERT INTO subscriber_sections (subscriber_id, section_id)
    SELECT * FROM unnest(${links.map((l) => l[0])}::bigint[], ${links.map((l) => l[1])}::int[])
    ON CONFLICT DO NOTHING`.execute(trx);
}
