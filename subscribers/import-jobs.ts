import { randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import { sql, type Transaction } from 'kysely';
import type { Database, Db, ImportState, Locale } from '../src/db/schema.js';
import type { Logger } from '../src/log.js';
import type { StageProblem } from '../src/problem.js';
import { CsvImportError, type ImportBatch, type ImportProblem, importSubscribersCsv } from './csv-import.js';

/**
 * A subscriber CSV import as a job (issue 16 point 6: an import must never hold the web server).
 * The upload is stored in PostgreSQL (`storeImport`), a worker runs it (`runImport`) and records
 * its progress in the same transaction as each batch of rows, and the pages read it back
 * (`getImport`, `importRefusals`). A run that stops (crash, restart, lost lock) is resumed by the
 * next one from the last committed batch: records before it are read again only to find
 * duplicates, never written or counted twice.
 */

/** Pieces the upload is stored in (the worker reads one at a time). */
export const IMPORT_CHUNK_BYTES = 1024 * 1024;
/** Refused rows kept per import for the report; the count stays exact beyond it. */
export const REFUSALS_KEPT = 10_000;
/** Starts after which an import that never got through is failed instead of tried again. */
export const MAX_RUNS = 3;
/** What the parser is fed at a time: small enough that parsing one never holds the event loop long. */
const PARSE_SLICE_BYTES = 4 * 1024;

export type ImportFailureCode = 'import-stopped-repeatedly' | 'import-job-failed' | 'import-file-missing';

export interface ImportRecord {
  id: number;
  fileName: string;
  sizeBytes: number;
  state: ImportState;
  actor: string | null;
  maxRows: number;
  recordsDone: number;
  bytesDone: number;
  added: number;
  updated: number;
  skipped: number;
  invalid: number;
  skippedReasons: Record<string, number>;
  runs: number;
  /** Why it failed, as a code and values (pages) and in English (CLI, logs). */
  failure: { problem: StageProblem | null; message: string } | null;
  createdAt: Date;
  startedAt: Date | null;
  progressAt: Date | null;
  finishedAt: Date | null;
  /** Share of the file read, 0–100 (by bytes: the row count is unknown until the end). */
  percent: number;
  /** Imports ahead of this one (running or queued before it); 0 when it is next or not queued. */
  ahead: number;
}

export interface StoreImportInput {
  fileName: string;
  /** The file as received, in any number of pieces. */
  chunks: Buffer[];
  actor: string | null;
  maxRows: number;
  status?: 'active' | 'pending';
  defaultLocale?: Locale;
}

/** Stores an upload and its import (queued) in one transaction; returns the import's id. */
export async function storeImport(db: Db, input: StoreImportInput, now: Date): Promise<number> {
  const size = input.chunks.reduce((n, c) => n + c.length, 0);
  if (size === 0) throw new CsvImportError('the file is empty', 'import-no-file');
  return db.transaction().execute(async (trx) => {
    const { id } = await trx
      .insertInto('subscriber_imports')
      .values({
        file_name: input.fileName.slice(0, 255) || 'upload.csv',
        size_bytes: size,
        actor: input.actor,
        max_rows: input.maxRows,
        new_status: input.status ?? 'active',
        default_locale: input.defaultLocale ?? null,
        created_at: now,
      })
      .returning('id')
      .executeTakeFirstOrThrow();
    let seq = 0;
    for (const piece of regroup(input.chunks, IMPORT_CHUNK_BYTES)) {
      await trx.insertInto('subscriber_import_chunks').values({ import_id: id, seq, data: piece }).execute();
      seq++;
    }
    return Number(id);
  });
}

/** The pieces joined or split into pieces of `size` bytes (the last may be shorter). */
function* regroup(chunks: Buffer[], size: number): Generator<Buffer> {
  let held: Buffer[] = [];
  let heldBytes = 0;
  for (let chunk of chunks) {
    while (heldBytes + chunk.length >= size) {
      const take = size - heldBytes;
      held.push(chunk.subarray(0, take));
      yield Buffer.concat(held);
      held = [];
      heldBytes = 0;
      chunk = chunk.subarray(take);
    }
    if (chunk.length) {
      held.push(chunk);
      heldBytes += chunk.length;
    }
  }
  if (heldBytes) yield Buffer.concat(held);
}

/** The stored file, piece by piece, cut into slices the parser takes one at a time. */
async function* storedFile(db: Db, importId: number): AsyncGenerator<Buffer> {
  for (let seq = 0; ; seq++) {
    const row = await db
      .selectFrom('subscriber_import_chunks')
      .select('data')
      .where('import_id', '=', importId)
      .where('seq', '=', seq)
      .executeTakeFirst();
    if (!row) return;
    for (let i = 0; i < row.data.length; i += PARSE_SLICE_BYTES)
      yield row.data.subarray(i, i + PARSE_SLICE_BYTES);
  }
}

/** Another run took this import over (its lock expired and the job was given out again). */
class ImportSupersededError extends Error {
  override name = 'ImportSupersededError';
}

export type RunOutcome = 'done' | 'failed' | 'superseded' | 'finished-before';

export interface RunImportDeps {
  db: Db;
  log: Logger;
  now: () => Date;
}

/**
 * Runs (or resumes) one import. Each batch's rows and the import's counters commit together,
 * fenced by this run's token, so a run that lost the job (another took over) commits nothing
 * more. Refusals of the whole file (no email column, over the row limit) fail it with their reason;
 * other errors are thrown for the queue to retry, and the next run resumes.
 */
export async function runImport(
  deps: RunImportDeps,
  importId: number,
  opts: { batchSize?: number } = {},
): Promise<RunOutcome> {
  const { db, log } = deps;
  const token = randomUUID();
  const claimed = await db
    .updateTable('subscriber_imports')
    .set({
      state: 'running',
      run_token: token,
      runs: sql`runs + 1`,
      started_at: sql`coalesce(started_at, ${deps.now()})`,
      progress_at: deps.now(),
    })
    .where('id', '=', importId)
    .where('state', 'in', ['queued', 'running'])
    .returningAll()
    .executeTakeFirst();
  if (!claimed) return 'finished-before';
  if (claimed.runs > MAX_RUNS) {
    const stopped = claimed.runs - 1;
    await failImport(db, importId, deps.now(), {
      code: 'import-stopped-repeatedly',
      params: { runs: stopped },
      message: `the import was started ${stopped} times and stopped each time (a worker crashed or was restarted); the ${claimed.records_done} rows read before were stored`,
    });
    return 'failed';
  }
  const first = await db
    .selectFrom('subscriber_import_chunks')
    .select('seq')
    .where('import_id', '=', importId)
    .where('seq', '=', 0)
    .executeTakeFirst();
  if (!first) {
    await failImport(db, importId, deps.now(), {
      code: 'import-file-missing',
      params: {},
      message: 'the uploaded file is no longer stored; upload it again',
    });
    return 'failed';
  }
  log.info(
    {
      event: claimed.runs > 1 ? 'subscribers.import.resumed' : 'subscribers.import.started',
      importId,
      run: claimed.runs,
      fromRecord: claimed.records_done,
    },
    claimed.runs > 1 ? 'subscriber import resumed' : 'subscriber import started',
  );

  // Totals as stored: this run adds to them batch by batch.
  const totals = {
    added: claimed.added,
    updated: claimed.updated,
    skipped: claimed.skipped,
    invalid: claimed.invalid,
    skippedReasons: { ...claimed.skipped_reasons },
  };
  const onBatch = async (trx: Transaction<Database>, b: ImportBatch) => {
    const reasons = { ...totals.skippedReasons };
    for (const [why, n] of Object.entries(b.skippedReasons)) reasons[why] = (reasons[why] ?? 0) + n;
    const stored = await trx
      .updateTable('subscriber_imports')
      .set({
        records_done: b.records,
        bytes_done: b.bytes,
        added: totals.added + b.added,
        updated: totals.updated + b.updated,
        skipped: totals.skipped + b.skipped,
        invalid: totals.invalid + b.invalid,
        skipped_reasons: JSON.stringify(reasons),
        progress_at: deps.now(),
      })
      .where('id', '=', importId)
      .where('run_token', '=', token)
      .where('state', '=', 'running')
      .executeTakeFirst();
    if (!stored.numUpdatedRows) throw new ImportSupersededError();
    const kept = keptRefusals(totals.invalid, b.problems);
    if (kept.length) {
      await sql`
        INSERT INTO subscriber_import_refusals (import_id, n, line, value, code, params, reason)
        SELECT ${importId}, * FROM unnest(
          ${kept.map((k) => k.n)}::int[], ${kept.map((k) => k.p.line)}::int[],
          ${kept.map((k) => k.p.value ?? null)}::text[], ${kept.map((k) => k.p.problem.code)}::text[],
          ${kept.map((k) => JSON.stringify(k.p.problem.params))}::jsonb[], ${kept.map((k) => k.p.reason.slice(0, 1000))}::text[])
        ON CONFLICT DO NOTHING`.execute(trx);
    }
    totals.added += b.added;
    totals.updated += b.updated;
    totals.skipped += b.skipped;
    totals.invalid += b.invalid;
    totals.skippedReasons = reasons;
  };

  try {
    await importSubscribersCsv(db, Readable.from(storedFile(db, importId)), {
      status: claimed.new_status,
      ...(claimed.default_locale ? { defaultLocale: claimed.default_locale } : {}),
      ...(opts.batchSize ? { batchSize: opts.batchSize } : {}),
      maxRows: claimed.max_rows,
      skipRecords: claimed.records_done,
      // Refusals go to the table batch by batch; none are held in memory.
      maxProblemsKept: 0,
      now: deps.now(),
      onBatch,
    });
  } catch (err) {
    if (err instanceof ImportSupersededError) {
      log.warn({ event: 'subscribers.import.superseded', importId }, 'another run took this import over');
      return 'superseded';
    }
    if (err instanceof CsvImportError) {
      await failImport(db, importId, deps.now(), {
        code: err.code ?? 'import-job-failed',
        params: err.params,
        message: err.message,
        token,
      });
      log.info(
        { event: 'subscribers.import.refused', importId, code: err.code },
        'subscriber import refused',
      );
      return 'failed';
    }
    throw err;
  }
  const finished = await db.transaction().execute(async (trx) => {
    const res = await trx
      .updateTable('subscriber_imports')
      .set({ state: 'done', run_token: null, finished_at: deps.now(), progress_at: deps.now() })
      .where('id', '=', importId)
      .where('run_token', '=', token)
      .where('state', '=', 'running')
      .executeTakeFirst();
    if (!res.numUpdatedRows) return false;
    // The file has served its purpose; the counts and refused rows stay for the report.
    await trx.deleteFrom('subscriber_import_chunks').where('import_id', '=', importId).execute();
    return true;
  });
  if (!finished) return 'superseded';
  log.info(
    {
      event: 'subscribers.import.done',
      importId,
      added: totals.added,
      updated: totals.updated,
      skipped: totals.skipped,
      invalid: totals.invalid,
    },
    'subscriber import finished',
  );
  return 'done';
}

/** The refused rows of a batch that are still within REFUSALS_KEPT, numbered in file order. */
function keptRefusals(before: number, problems: ImportProblem[]): { n: number; p: ImportProblem }[] {
  const out: { n: number; p: ImportProblem }[] = [];
  for (let i = 0; i < problems.length && before + i < REFUSALS_KEPT; i++)
    out.push({ n: before + i + 1, p: problems[i] as ImportProblem });
  return out;
}

/**
 * Marks an unfinished import failed with its reason and drops its file; the rows already stored
 * stay. With a token, only while that run still holds it. Returns whether it changed anything.
 */
export async function failImport(
  db: Db,
  importId: number,
  now: Date,
  why: { code: string; params: StageProblem['params']; message: string; token?: string },
): Promise<boolean> {
  return db.transaction().execute(async (trx) => {
    let q = trx
      .updateTable('subscriber_imports')
      .set({
        state: 'failed',
        run_token: null,
        error_code: why.code,
        error_params: JSON.stringify(why.params),
        error: why.message.slice(0, 2000),
        finished_at: now,
      })
      .where('id', '=', importId)
      .where('state', 'in', ['queued', 'running']);
    if (why.token) q = q.where('run_token', '=', why.token);
    const res = await q.executeTakeFirst();
    if (!res.numUpdatedRows) return false;
    await trx.deleteFrom('subscriber_import_chunks').where('import_id', '=', importId).execute();
    return true;
  });
}

function importQuery(db: Db) {
  return db
    .selectFrom('subscriber_imports as i')
    .select([
      'i.id',
      'i.file_name',
      'i.size_bytes',
      'i.state',
      'i.actor',
      'i.max_rows',
      'i.records_done',
      'i.bytes_done',
      'i.added',
      'i.updated',
      'i.skipped',
      'i.invalid',
      'i.skipped_reasons',
      'i.runs',
      'i.error_code',
      'i.error_params',
      'i.error',
      'i.created_at',
      'i.started_at',
      'i.progress_at',
      'i.finished_at',
    ])
    .select(
      sql<number>`CASE WHEN i.state IN ('queued', 'running') THEN (SELECT count(*) FROM subscriber_imports o
        WHERE o.state IN ('queued', 'running') AND o.id < i.id)::int ELSE 0 END`.as('ahead'),
    );
}

type ImportRow = Awaited<ReturnType<ReturnType<typeof importQuery>['executeTakeFirstOrThrow']>>;

function toRecord(r: ImportRow): ImportRecord {
  const percent =
    r.state === 'done' ? 100 : Math.min(99.9, Math.floor((r.bytes_done / r.size_bytes) * 1000) / 10);
  return {
    id: Number(r.id),
    fileName: r.file_name,
    sizeBytes: r.size_bytes,
    state: r.state,
    actor: r.actor,
    maxRows: r.max_rows,
    recordsDone: r.records_done,
    bytesDone: r.bytes_done,
    added: r.added,
    updated: r.updated,
    skipped: r.skipped,
    invalid: r.invalid,
    skippedReasons: r.skipped_reasons,
    runs: r.runs,
    failure:
      r.state === 'failed'
        ? {
            problem: r.error_code ? { code: r.error_code, params: r.error_params ?? {} } : null,
            message: r.error ?? '',
          }
        : null,
    createdAt: r.created_at,
    startedAt: r.started_at,
    progressAt: r.progress_at,
    finishedAt: r.finished_at,
    percent,
    ahead: Number(r.ahead),
  };
}

export async function getImport(db: Db, importId: number): Promise<ImportRecord | undefined> {
  const row = await importQuery(db).where('i.id', '=', importId).executeTakeFirst();
  return row ? toRecord(row) : undefined;
}

/** The latest imports, newest first. */
export async function listImports(db: Db, opts: { limit?: number } = {}): Promise<ImportRecord[]> {
  const rows = await importQuery(db)
    .orderBy('i.id', 'desc')
    .limit(opts.limit ?? 10)
    .execute();
  return rows.map(toRecord);
}

/** Imports a worker still has to run or finish, oldest first (the worker's scan re-queues them). */
export async function unfinishedImports(db: Db): Promise<number[]> {
  const rows = await db
    .selectFrom('subscriber_imports')
    .select('id')
    .where('state', 'in', ['queued', 'running'])
    .orderBy('id')
    .execute();
  return rows.map((r) => Number(r.id));
}

export interface ImportRefusal {
  n: number;
  line: number;
  value: string | null;
  problem: StageProblem;
  reason: string;
}

/** An import's refused rows in file order, a page at a time (`afterN` is the last `n` seen). */
export async function importRefusals(
  db: Db,
  importId: number,
  opts: { limit?: number; afterN?: number } = {},
): Promise<ImportRefusal[]> {
  const rows = await db
    .selectFrom('subscriber_import_refusals')
    .select(['n', 'line', 'value', 'code', 'params', 'reason'])
    .where('import_id', '=', importId)
    .where('n', '>', opts.afterN ?? 0)
    .orderBy('n')
    .limit(opts.limit ?? 1000)
    .execute();
  return rows.map((r) => ({
    n: r.n,
    line: r.line,
    value: r.value,
    problem: { code: r.code, params: r.params },
    reason: r.reason,
  }));
}
