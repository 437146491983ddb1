import { createHash } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { sql } from 'kysely';
import type { Env } from '../config/env.js';
import type { Db } from '../db/schema.js';
import { privatePolicy } from '../feeds/address-guard.js';
import { decodeBody } from '../feeds/charset.js';
import { FetchError, fetchWithLimits, limitsFromEnv, PAGE_ACCEPT } from '../feeds/fetch.js';
import { extractPageMetadata } from '../feeds/page-metadata.js';
import { sanitizeFeedHtml } from '../feeds/sanitize.js';
import { EditorialInputError } from '../issues/store.js';
import type { Logger } from '../log.js';
import { fitSnapshot } from './judge.js';

/**
 * Taking an archived copy of a cited source page: fetched through the feeds stage's guarded fetch
 * (same time, size and redirect limits, address guard and charset rules), kept as readable text
 * and sanitised HTML, gzip-compressed in PostgreSQL under a cap per source and per issue. A failed
 * fetch is recorded beside the copy already there, never in place of it.
 */

export interface SnapshotDeps {
  db: Db;
  log: Logger;
  env: Pick<
    Env,
    | 'FETCH_TIMEOUT_MS'
    | 'FETCH_MAX_BYTES'
    | 'FETCH_MAX_REDIRECTS'
    | 'PUBLIC_URL'
    | 'FETCH_ALLOW_PRIVATE'
    | 'SNAPSHOT_MAX_BYTES'
    | 'SNAPSHOT_ISSUE_MAX_BYTES'
    | 'DEFAULT_TIME_ZONE'
  >;
  now: () => Date;
}

/** The text's start kept uncompressed for the legal rules (document numbers, dates). */
const EXCERPT_CHARS = 8000;
const gzip = (s: string) => gzipSync(Buffer.from(s, 'utf8'));

async function storedForIssue(db: Db, issueId: number, exceptUrl: string): Promise<number> {
  const row = await db
    .selectFrom('source_snapshots')
    .select((eb) => eb.fn.coalesce(eb.fn.sum<number>('stored_bytes'), sql<number>`0`).as('total'))
    .where('issue_id', '=', issueId)
    .where('url', '!=', exceptUrl)
    .executeTakeFirstOrThrow();
  return Number(row.total);
}

export type SnapshotResult = { id: number; ok: boolean; error?: string };

export async function takeSnapshot(
  deps: SnapshotDeps,
  issueId: number,
  url: string,
): Promise<SnapshotResult> {
  const { db, env, log } = deps;
  const at = deps.now();
  const limits = limitsFromEnv(env, privatePolicy(env.FETCH_ALLOW_PRIVATE), PAGE_ACCEPT);
  let content: {
    final_url: string;
    http_status: number;
    title: string | null;
    content_type: string;
    content_hash: string;
    text_gz: Buffer | null;
    html_gz: Buffer | null;
    pdf_gz: Buffer | null;
    stored_bytes: number;
    truncated: boolean;
    excerpt: string;
  };
  try {
    const res = await fetchWithLimits(url, limits);
    const type = (res.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase() || 'text/html';
    const hash = createHash('sha256').update(res.body).digest('hex');
    const room = Math.min(
      env.SNAPSHOT_MAX_BYTES,
      env.SNAPSHOT_ISSUE_MAX_BYTES - (await storedForIssue(db, issueId, url)),
    );
    if (type === 'application/pdf') {
      const pdfGz = gzipSync(res.body);
      if (pdfGz.length > room)
        throw new FetchError(`the PDF is over the archive's cap (${room} bytes left)`, 'too-large');
      content = {
        final_url: res.url,
        http_status: res.status,
        title: null,
        content_type: type,
        content_hash: hash,
        text_gz: null,
        html_gz: null,
        pdf_gz: pdfGz,
        stored_bytes: pdfGz.length,
        truncated: false,
        excerpt: '',
      };
    } else {
      const page = decodeBody(res.body, res.headers['content-type']);
      const title = extractPageMetadata(page.text, res.url, env.DEFAULT_TIME_ZONE).title;
      const clean = sanitizeFeedHtml(page.text, res.url);
      const fitted = fitSnapshot(clean.text, clean.html, Math.max(0, room), gzip);
      if (!fitted.textGz)
        throw new FetchError(`the page is over the archive's cap (${room} bytes left)`, 'too-large');
      content = {
        final_url: res.url,
        http_status: res.status,
        title,
        content_type: type,
        content_hash: hash,
        text_gz: fitted.textGz,
        html_gz: fitted.htmlGz,
        pdf_gz: null,
        stored_bytes: fitted.bytes,
        truncated: fitted.truncated,
        excerpt: clean.text.slice(0, EXCERPT_CHARS),
      };
    }
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    const status = err instanceof FetchError ? (err.status ?? null) : null;
    const row = await db
      .insertInto('source_snapshots')
      .values({ issue_id: issueId, url, error: message, http_status: status, fetched_at: at, updated_at: at })
      // Keep the copy already there; only say that taking a new one failed.
      .onConflict((oc) => oc.columns(['issue_id', 'url']).doUpdateSet({ error: message, updated_at: at }))
      .returning('id')
      .executeTakeFirstOrThrow();
    log.warn({ event: 'snapshot.failed', issueId, snapshotId: row.id, err: message }, 'source not archived');
    return { id: row.id, ok: false, error: message };
  }
  const values = { ...content, origin: 'fetch' as const, error: null, fetched_at: at, updated_at: at };
  const row = await db
    .insertInto('source_snapshots')
    .values({ issue_id: issueId, url, ...values })
    .onConflict((oc) => oc.columns(['issue_id', 'url']).doUpdateSet(values))
    .returning('id')
    .executeTakeFirstOrThrow();
  log.info(
    {
      event: 'snapshot.taken',
      issueId,
      snapshotId: row.id,
      bytes: content.stored_bytes,
      truncated: content.truncated,
    },
    'source archived',
  );
  return { id: row.id, ok: true };
}

/** An editor's PDF of the document, kept as the source's archived copy. */
export async function uploadSnapshotPdf(
  deps: SnapshotDeps,
  snapshotId: number,
  pdf: Buffer,
  filename: string,
): Promise<void> {
  const { db, env } = deps;
  if (pdf.subarray(0, 5).toString('latin1') !== '%PDF-')
    throw new EditorialInputError(`"${filename}" is not a PDF`, 'snapshot-not-pdf', { name: filename });
  const row = await db
    .selectFrom('source_snapshots')
    .select(['issue_id', 'url'])
    .where('id', '=', snapshotId)
    .executeTakeFirst();
  if (!row)
    throw new EditorialInputError(`No archived source ${snapshotId}`, 'snapshot-missing', { id: snapshotId });
  const pdfGz = gzipSync(pdf);
  const room = Math.min(
    env.SNAPSHOT_MAX_BYTES,
    env.SNAPSHOT_ISSUE_MAX_BYTES - (await storedForIssue(db, row.issue_id, row.url)),
  );
  if (pdfGz.length > room)
    throw new EditorialInputError(
      `The file is ${pdfGz.length} bytes, over the ${room}-byte limit`,
      'snapshot-too-large',
      {
        bytes: pdfGz.length,
        max: room,
      },
    );
  const at = deps.now();
  await db
    .updateTable('source_snapshots')
    .set({
      pdf_gz: pdfGz,
      content_type: 'application/pdf',
      content_hash: createHash('sha256').update(pdf).digest('hex'),
      origin: 'upload',
      stored_bytes: pdfGz.length,
      error: null,
      fetched_at: at,
      updated_at: at,
    })
    .where('id', '=', snapshotId)
    .execute();
  deps.log.info({ event: 'snapshot.uploaded', snapshotId, bytes: pdfGz.length }, 'PDF archived for a source');
}

/** States in which an issue's content is settled, so its sources are worth archiving. */
export const ARCHIVED_STATES = ['approved', 'scheduled', 'sending', 'paused', 'sent'] as const;

/**
 * Archives every cited source of settled issues that has no snapshot row yet (a failed one has a
 * row with its error; an editor takes it again). Returns how many were taken.
 */
export async function snapshotMissingSources(
  deps: SnapshotDeps,
  opts: { issueId?: number; limit?: number } = {},
): Promise<{ taken: number; failed: number; issues: number[] }> {
  const rows = await sql<{ issue_id: number; url: string }>`
    SELECT DISTINCT ii.issue_id, src->>'url' AS url
    FROM issue_items ii
    JOIN issues i ON i.id = ii.issue_id
    CROSS JOIN LATERAL jsonb_array_elements(ii.sources) AS src
    WHERE i.state IN (${sql.join(ARCHIVED_STATES.map((s) => sql`${s}`))})
      ${opts.issueId !== undefined ? sql`AND ii.issue_id = ${opts.issueId}` : sql``}
      AND NOT EXISTS (
        SELECT 1 FROM source_snapshots ss WHERE ss.issue_id = ii.issue_id AND ss.url = src->>'url'
      )
    ORDER BY ii.issue_id
    LIMIT ${opts.limit ?? 500}
  `.execute(deps.db);
  let taken = 0;
  let failed = 0;
  for (const { issue_id, url } of rows.rows) {
    const r = await takeSnapshot(deps, issue_id, url);
    if (r.ok) taken++;
    else failed++;
  }
  return { taken, failed, issues: [...new Set(rows.rows.map((r) => r.issue_id))] };
}
