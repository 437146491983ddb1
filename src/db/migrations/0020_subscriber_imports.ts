import type { Kysely } from 'kysely';
import { runStatements } from '../run-statements.js';

/**
 * Subscriber CSV imports run as jobs (issue 16 point 6): the upload is stored here, in PostgreSQL
 * because the worker that reads it may run on another host, and the job records its progress
 * in the same transaction as each batch of rows, so a resumed run starts exactly where the last
 * committed batch ended. The file's chunks are deleted once the import is done or failed; the
 * refused rows stay for the report.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await runStatements(
    db,
    `
    CREATE TABLE subscriber_imports (
      id bigserial PRIMARY KEY,
      file_name text NOT NULL CHECK (length(file_name) BETWEEN 1 AND 255),
      size_bytes bigint NOT NULL CHECK (size_bytes > 0),
      state text NOT NULL DEFAULT 'queued' CHECK (state IN ('queued', 'running', 'done', 'failed')),
      -- Who uploaded it, as the audit log names actors (user:<email>).
      actor text,
      new_status text NOT NULL DEFAULT 'active' CHECK (new_status IN ('active', 'pending')),
      default_locale text CHECK (default_locale IN ('zh-CN', 'en')),
      -- IMPORT_MAX_ROWS when it was uploaded: the page states it, the job holds to it.
      max_rows integer NOT NULL CHECK (max_rows >= 1),
      -- The resume point: records read and bytes of the file up to the last committed batch.
      records_done integer NOT NULL DEFAULT 0 CHECK (records_done >= 0),
      bytes_done bigint NOT NULL DEFAULT 0 CHECK (bytes_done >= 0),
      added integer NOT NULL DEFAULT 0 CHECK (added >= 0),
      updated integer NOT NULL DEFAULT 0 CHECK (updated >= 0),
      skipped integer NOT NULL DEFAULT 0 CHECK (skipped >= 0),
      invalid integer NOT NULL DEFAULT 0 CHECK (invalid >= 0),
      skipped_reasons jsonb NOT NULL DEFAULT '{}'::jsonb CHECK (jsonb_typeof(skipped_reasons) = 'object'),
      -- How many times a worker started it, and the current run's fencing token: a batch commits
      -- only while its run still holds the token, so a run that lost the job stores nothing more.
      runs integer NOT NULL DEFAULT 0 CHECK (runs >= 0),
      run_token text,
      error_code text,
      error_params jsonb,
      error text CHECK (length(error) <= 2000),
      created_at timestamptz NOT NULL DEFAULT now(),
      started_at timestamptz,
      progress_at timestamptz,
      finished_at timestamptz,
      CHECK ((state = 'failed') = (error IS NOT NULL))
    );
    CREATE INDEX subscriber_imports_unfinished_idx ON subscriber_imports (id) WHERE state IN ('queued', 'running');
    CREATE TABLE subscriber_import_chunks (
      import_id bigint NOT NULL REFERENCES subscriber_imports (id) ON DELETE CASCADE,
      seq integer NOT NULL CHECK (seq >= 0),
      data bytea NOT NULL CHECK (octet_length(data) BETWEEN 1 AND 4194304),
      PRIMARY KEY (import_id, seq)
    );
    -- Refused rows for the report, numbered in file order (n = 1 is the first refused row).
    CREATE TABLE subscriber_import_refusals (
      import_id bigint NOT NULL REFERENCES subscriber_imports (id) ON DELETE CASCADE,
      n integer NOT NULL CHECK (n >= 1),
      line integer NOT NULL,
      value text CHECK (length(value) <= 320),
      code text NOT NULL,
      params jsonb NOT NULL DEFAULT '{}'::jsonb,
      reason text NOT NULL,
      PRIMARY KEY (import_id, n)
    );
  `,
  );
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await runStatements(
    db,
    `DROP TABLE subscriber_import_refusals;
     DROP TABLE subscriber_import_chunks;
     DROP TABLE subscriber_imports;`,
  );
}
