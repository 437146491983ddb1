import { type Kysely, sql } from 'kysely';

/**
 * Item summaries become Markdown (links, emphasis, lists: src/rendering/summary.ts). The ones
 * stored before were plain text, where `*`, `_`, `[`, a leading `- ` or `1. ` meant nothing: each
 * is rewritten as the Markdown that renders to exactly the text it showed (escaped characters,
 * line-end spaces dropped), so every existing issue, sent ones included, reads as before. Batched
 * by id so a large history does not sit in memory.
 */

/**
 * A frozen copy of src/rendering/summary.ts plainToMarkdown as of this migration (a shipped
 * migration must not change when that function does); tests/rendering/summary.test.ts checks both agree.
 */
export function plainToMarkdown(plain: string): string {
  return (plain ?? '')
    .replace(/\r\n/g, '\n')
    .replace(/\r/g, ' ')
    .split('\n')
    .map((line) =>
      line
        .trim()
        .replace(/[\\*_[\]<`]/g, (ch) => `\\${ch}`)
        .replace(/^([-+])(?=\s|$)/, '\\$1')
        .replace(/^(\d{1,9})([.)])(?=\s|$)/, '$1\\$2'),
    )
    .join('\n');
}

export async function up(db: Kysely<unknown>): Promise<void> {
  let after = 0;
  for (;;) {
    const rows = await sql<{ id: number; summary: string }>`
      SELECT id, summary FROM issue_items WHERE id > ${after} ORDER BY id LIMIT 1000`.execute(db);
    if (!rows.rows.length) break;
    const changed = rows.rows
      .map((r) => ({ id: Number(r.id), summary: plainToMarkdown(r.summary) }))
      .filter((r, i) => r.summary !== rows.rows[i]?.summary);
    if (changed.length) {
      await sql`
        UPDATE issue_items ii SET summary = v.summary
        FROM unnest(${changed.map((c) => c.id)}::bigint[], ${changed.map((c) => c.summary)}::text[]) AS v(id, summary)
        WHERE ii.id = v.id`.execute(db);
    }
    after = Number(rows.rows.at(-1)?.id);
  }
}

/** Markdown is a superset of what was stored; going back leaves the escaped text in place. */
export async function down(): Promise<void> {}
