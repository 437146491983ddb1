import type { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { stringify } from 'csv-stringify';
import { sql } from 'kysely';
import type { Db, SubscriberStatus } from '../src/db/schema.js';
import { allSections } from './sections.js';
import { filtered, type SubscriberFilter } from './store.js';

export const CSV_COLUMNS = ['email', 'name', 'locale', 'topics', 'status'] as const;

// OWASP's rule for CSV injection: a spreadsheet runs a cell starting with one of these as a
// formula, so such a cell is written with a leading single quote (shown, never evaluated).
const FORMULA_START = /^[=+\-@\t\r]/;

/** A cell a spreadsheet will show as text, never evaluate. */
export function neutraliseCell(value: string): string {
  return FORMULA_START.test(value) ? `'${value}` : value;
}

export interface ExportOptions {
  status?: SubscriberStatus;
  /** The list's filter (search, state, section, suppressed): export what the editor sees. */
  filter?: SubscriberFilter;
  /** Only these subscribers (a ticked selection); combined with the filter when both are given. */
  ids?: readonly number[];
  pageSize?: number;
}

/**
 * Writes subscribers as CSV in the import format (email, name, locale, topics as `a;b`; an
 * empty topics cell means every section), plus status for reference (the importer ignores it).
 * Reads by keyset pages, so memory stays flat. Every cell goes through neutraliseCell.
 */
export async function exportSubscribersCsv(db: Db, out: Writable, opts: ExportOptions = {}): Promise<number> {
  const filter: SubscriberFilter = {
    ...(opts.filter ?? {}),
    ...(opts.status ? { status: opts.status } : {}),
  };
  const ids = opts.ids ? [...opts.ids] : undefined;
  const pageSize = opts.pageSize ?? 2000;
  const keyById = new Map((await allSections(db)).map((s) => [s.id, s.key]));
  const csv = stringify({ header: true, columns: [...CSV_COLUMNS], cast: { string: neutraliseCell } });
  let count = 0;
  const producer = (async () => {
    let after = 0;
    for (;;) {
      let q = filtered(
        db
          .selectFrom('subscribers')
          .select(['id', 'email', 'name', 'locale', 'status', 'all_sections'])
          .where('id', '>', after)
          .orderBy('id')
          .limit(pageSize),
        filter,
      );
      if (ids) q = q.where('id', '=', sql<number>`any(${ids}::bigint[])`);
      const rows = await q.execute();
      if (!rows.length) break;
      const partial = rows.filter((r) => !r.all_sections).map((r) => r.id);
      const chosen = partial.length
        ? await db
            .selectFrom('subscriber_sections')
            .select(['subscriber_id', 'section_id'])
            .where('subscriber_id', 'in', partial)
            .execute()
        : [];
      const topicsBy = new Map<number, string[]>();
      for (const c of chosen) {
        const list = topicsBy.get(Number(c.subscriber_id)) ?? [];
        list.push(keyById.get(c.section_id) ?? '');
        topicsBy.set(Number(c.subscriber_id), list);
      }
      for (const r of rows) {
        const ok = csv.write({
          email: r.email,
          name: r.name ?? '',
          locale: r.locale,
          topics: r.all_sections ? '' : (topicsBy.get(Number(r.id)) ?? []).sort().join(';'),
          status: r.status,
        });
        count++;
        if (!ok) await new Promise((resolve) => csv.once('drain', resolve));
      }
      after = Number(rows.at(-1)?.id);
    }
    csv.end();
  })();
  await Promise.all([producer, pipeline(csv, out)]);
  return count;
}
