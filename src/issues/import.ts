import { MODEL_SECTIONS } from '../publication/model-sections.js';
import { ensurePublication } from '../publication/publication.js';
import { listSections, upsertSection } from '../publication/sections.js';
import { plainToMarkdown } from '../rendering/summary.js';
import { loadIssueDocument } from './load.js';
import { exportIssueMarkdown, type IssueDocument } from './markdown-export.js';
import { type ParseProblem, parseIssueMarkdown } from './markdown-parse.js';
import type { IssueState } from '../db/schema.js';
import { type EditorialDeps, EditorialInputError, lockIssue, writeAudit } from './store.js';

export class MarkdownImportError extends EditorialInputError {
  override name = 'MarkdownImportError';
  constructor(readonly problems: ParseProblem[]) {
    super(
      `The document cannot be imported:\n${problems.map((p) => `  line ${p.line}: ${p.message}`).join('\n')}`,
    );
  }
}

export interface ImportResult extends IssueDocument {
  id: number;
  problems: ParseProblem[];
  /** True when the document replaced an existing draft's content (same id, next revision). */
  replaced: boolean;
}

/** An issue that already exists for the document's period. */
export interface PeriodIssue {
  id: number;
  state: IssueState;
  title: string;
}

/**
 * The document's period already has an issue, and the caller did not say what to do: replace the
 * draft, open the existing issue, or create another one for the period. Nothing was written.
 */
export class ImportPeriodTakenError extends EditorialInputError {
  override name = 'ImportPeriodTakenError';
  constructor(
    readonly period: string,
    readonly existing: PeriodIssue[],
  ) {
    super(
      `the period ${period} already has ${existing.length === 1 ? 'an issue' : `${existing.length} issues`} (${existing
        .map((e) => `${e.id}: ${e.state}`)
        .join(', ')}); say whether to replace the draft or create a new issue`,
      'import-period-taken',
      { period, n: existing.length },
    );
  }
}

/**
 * What to do when the period already has an issue: `replace` the content of its draft (same id,
 * next revision, in the audit log), or create a `new` issue beside it. Without one, the import
 * refuses with ImportPeriodTakenError so that a second 2025-07 never appears unasked.
 */
export type ExistingPeriod = 'replace' | 'new';

/** The issues of a period, newest first; cancelled ones are history, not a conflict. */
export async function issuesForPeriod(db: EditorialDeps['db'], period: string): Promise<PeriodIssue[]> {
  return db
    .selectFrom('issues')
    .select(['id', 'state', 'title'])
    .where('period', '=', period)
    .where('state', '!=', 'cancelled')
    .orderBy('id', 'desc')
    .execute();
}

/**
 * Creates a draft from the committee's Markdown document. Items under a heading that matches no
 * section cannot be placed, so the import stops and names those lines; other problems (text it
 * could not place) are returned and kept in the audit log, never dropped silently. A period that
 * already has an issue needs `existing` (see ExistingPeriod).
 */
export async function importIssueMarkdown(
  deps: EditorialDeps,
  text: string,
  opts: { period?: string; actor?: string; existing?: ExistingPeriod } = {},
): Promise<ImportResult> {
  const { db, log, env } = deps;
  const actor = opts.actor ?? 'import';
  const publication = await ensurePublication(db, env);
  const known = await listSections(db);
  const parsed = parseIssueMarkdown(text, {
    sections: known.map((s) => ({ key: s.key, names: s.names })),
    ...(opts.period ? { period: opts.period } : {}),
  });
  const unplaced = parsed.problems.filter(
    (p) => /not a known section|before any section/.test(p.message) || /no period found/.test(p.message),
  );
  if (unplaced.length) throw new MarkdownImportError(unplaced);
  if (!parsed.period) throw new MarkdownImportError(parsed.problems);
  const period = parsed.period;

  const existing = await issuesForPeriod(db, period);
  if (existing.length && !opts.existing) throw new ImportPeriodTakenError(period, existing);
  const draft = existing.find((e) => e.state === 'draft');
  if (opts.existing === 'replace' && !draft)
    throw new EditorialInputError(
      `the period ${period} has no draft to replace (${existing.map((e) => `${e.id}: ${e.state}`).join(', ') || 'no issue'})`,
      'import-replace-not-draft',
      { period },
    );

  const sectionIds = new Map(known.map((s) => [s.key, s.id]));
  for (const section of parsed.sections) {
    const key = section.key as string;
    if (sectionIds.has(key)) continue;
    const model = MODEL_SECTIONS.find((m) => m.key === key);
    if (!model) continue;
    const created = await upsertSection(db, model);
    sectionIds.set(key, created.id);
  }

  const at = deps.now();
  const replace = opts.existing === 'replace' ? draft : undefined;
  const issueId = await db.transaction().execute(async (trx) => {
    const fields = {
      period,
      period_kind: parsed.periodKind,
      title: parsed.title || publication.name,
      masthead: JSON.stringify(parsed.masthead),
      updated_at: at,
    };
    let id: number;
    if (replace) {
      // Still a draft now (an approval in between wins): the content goes, the issue stays.
      const locked = await lockIssue(trx, replace.id);
      if (locked.state !== 'draft')
        throw new EditorialInputError(
          `issue ${replace.id} is ${locked.state} now, not a draft; nothing was replaced`,
          'import-replace-not-draft',
          { period },
        );
      await trx.deleteFrom('issue_items').where('issue_id', '=', replace.id).execute();
      await trx.deleteFrom('issue_sections').where('issue_id', '=', replace.id).execute();
      await trx
        .updateTable('issues')
        .set((eb) => ({ ...fields, revision: eb('revision', '+', 1) }))
        .where('id', '=', replace.id)
        .execute();
      id = replace.id;
    } else {
      id = (
        await trx
          .insertInto('issues')
          .values({ ...fields, locale: publication.locale, created_at: at })
          .returning('id')
          .executeTakeFirstOrThrow()
      ).id;
    }
    // A document may repeat a section heading; its items join the first occurrence.
    const seen = new Map<number, number>();
    for (const section of parsed.sections) {
      const sectionId = sectionIds.get(section.key as string) as number;
      if (!seen.has(sectionId)) {
        seen.set(sectionId, 0);
        await trx
          .insertInto('issue_sections')
          .values({ issue_id: id, section_id: sectionId, position: seen.size })
          .execute();
      }
      for (const item of section.items) {
        const position = seen.get(sectionId) ?? 0;
        seen.set(sectionId, position + 1);
        await trx
          .insertInto('issue_items')
          .values({
            issue_id: id,
            section_id: sectionId,
            position,
            title: item.title,
            // The parser gives plain text (links keep their label); stored as Markdown that reads the same.
            summary: plainToMarkdown(item.summary),
            sources: JSON.stringify(item.sources),
            created_at: at,
            updated_at: at,
          })
          .execute();
      }
    }
    await writeAudit(trx, {
      issueId: id,
      actor,
      action: 'import',
      detail: {
        items: parsed.sections.reduce((n, s) => n + s.items.length, 0),
        sections: parsed.sections.length,
        problems: parsed.problems,
        ...(replace ? { replaced: true } : {}),
        ...(existing.length && !replace ? { alongside: existing.map((e) => e.id) } : {}),
      },
      at,
    });
    return id;
  });
  log.info(
    {
      event: replace ? 'issue.import.replaced' : 'issue.imported',
      issueId,
      period,
      problems: parsed.problems.length,
    },
    replace ? 'draft replaced from Markdown' : 'issue imported from Markdown',
  );
  const doc = await loadIssueDocument(db, issueId);
  return { ...doc, problems: parsed.problems, replaced: !!replace };
}

/** The issue written back in the committee's Markdown style. */
export async function exportIssue(deps: Pick<EditorialDeps, 'db'>, issueId: number): Promise<string> {
  const { id: _id, ...doc } = await loadIssueDocument(deps.db, issueId);
  return exportIssueMarkdown(doc);
}
