import { decodeHTMLAttribute } from 'entities';
import { type Kysely, sql } from 'kysely';

/**
 * Links registered before the tracking rewriter decoded every HTML entity were stored as written
 * in the HTML (`?scene&#61;25`), so their redirect led to a broken address. Mail already delivered
 * points at those rows' ids: decode the URLs in place. A row whose decoded URL is already
 * registered for the issue (recompiled since) is left alone rather than breaking uniqueness.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  const rows = await sql<{ id: number; issue_id: number; url: string }>`
    SELECT id, issue_id, url FROM issue_links WHERE url LIKE '%&%'`.execute(db);
  for (const row of rows.rows) {
    const decoded = decodeHTMLAttribute(row.url).trim();
    if (decoded === row.url) continue;
    await sql`
      UPDATE issue_links SET url = ${decoded}
      WHERE id = ${row.id}
        AND NOT EXISTS (SELECT 1 FROM issue_links o WHERE o.issue_id = ${row.issue_id} AND o.url = ${decoded})`.execute(
      db,
    );
  }
}

/** Nothing to undo: the encoded form was never a valid target. */
export async function down(): Promise<void> {}
