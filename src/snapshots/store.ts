import { gunzipSync } from 'node:zlib';
import type { Kysely } from 'kysely';
import type { Database } from '../db/schema.js';

type Executor = Kysely<Database>;

const LISTED = [
  'id',
  'issue_id',
  'url',
  'final_url',
  'http_status',
  'title',
  'content_type',
  'content_hash',
  'stored_bytes',
  'truncated',
  'error',
  'origin',
  'fetched_at',
  'link_state',
  'dead_reason',
  'dead_since',
  'last_checked_at',
  'last_check_status',
] as const;

/** An issue's snapshots without their content, in URL order. */
export function listSnapshots(db: Executor, issueId: number) {
  return db
    .selectFrom('source_snapshots')
    .select(LISTED)
    .where('issue_id', '=', issueId)
    .orderBy('id')
    .execute();
}
export type SnapshotRow = Awaited<ReturnType<typeof listSnapshots>>[number];

/** One snapshot with its content unpacked. */
export async function readSnapshot(db: Executor, id: number) {
  const row = await db.selectFrom('source_snapshots').selectAll().where('id', '=', id).executeTakeFirst();
  if (!row) return null;
  const unpack = (b: Buffer | null) => (b ? gunzipSync(b) : null);
  return {
    ...row,
    text: unpack(row.text_gz)?.toString('utf8') ?? '',
    html: unpack(row.html_gz)?.toString('utf8') ?? '',
    pdf: unpack(row.pdf_gz),
  };
}

/** Every URL an issue's items cite, in order, each once. */
export async function citedUrls(db: Executor, issueId: number): Promise<string[]> {
  const items = await db
    .selectFrom('issue_items')
    .select('sources')
    .where('issue_id', '=', issueId)
    .orderBy('section_id')
    .orderBy('position')
    .execute();
  return [...new Set(items.flatMap((i) => i.sources.map((s) => s.url)))];
}
