import { MODEL_SECTIONS } from '../publication/model-sections.js';
import { ensurePublication } from '../publication/publication.js';
import { listSections, upsertSection } from '../publication/sections.js';
import { plainToMarkdown } from '../rendering/summary.js';
import { loadIssueDocument } from './load.js';
import { exportIssueMarkdown, type IssueDocument } from './markdown-export.js';
import { type ParseProblem, parseIssueMarkdown } from './markdown-parse.js';
import { type EditorialDeps, EditorialInputError, writeAudit } from './store.js';

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
}

/**
 * Creates a draft from the committee's Markdown document. Items under a heading that matches no
 * section cannot be placed, so the import stops and names those lines; other problems (text it
 * could not place) are returned and kept in the audit log, never dropped silently.
 */
export async function importIssueMarkdown(
  deps: EditorialDeps,
  text: string,
  opts: { period?: string; actor?: string } = {},
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
  const issueId = await db.transaction().execute(async (trx) => {
    const issue = await trx
      .insertInto('issues')
      .values({
        period: parsed.period as string,
        period_kind: parsed.periodKind,
        title: parsed.title || publication.name,
        masthead: JSON.stringify(parsed.masthead),
        locale: publication.locale,
        created_at: at,
        updated_at: at,
      })
      .returning('id')
      .executeTakeFirstOrThrow();
    // A document may repeat a section heading; its items join the first occurrence.
    const seen = new Map<number, number>();
    for (const section of parsed.sections) {
      const sectionId = sectionIds.get(section.key as string) as number;
      if (!seen.has(sectionId)) {
        seen.set(sectionId, 0);
        await trx
          .insertInto('issue_sections')
          .values({ issue_id: issue.id, section_id: sectionId, position: seen.size })
          .execute();
      }
      for (const item of section.items) {
        const position = seen.get(sectionId) ?? 0;
        seen.set(sectionId, position + 1);
        await trx
          .insertInto('issue_items')
          .values({
            issue_id: issue.id,
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
      issueId: issue.id,
      actor,
      action: 'import',
      detail: {
        items: parsed.sections.reduce((n, s) => n + s.items.length, 0),
        sections: parsed.sections.length,
        problems: parsed.problems,
      },
      at,
    });
    return issue.id;
  });
  log.info(
    { event: 'issue.imported', issueId, period: parsed.period, problems: parsed.problems.length },
    'issue imported from Markdown',
  );
  const doc = await loadIssueDocument(db, issueId);
  return { ...doc, problems: parsed.problems };
}

/** The issue written back in the committee's Markdown style. */
export async function exportIssue(deps: Pick<EditorialDeps, 'db'>, issueId: number): Promise<string> {
  const { id: _id, ...doc } = await loadIssueDocument(deps.db, issueId);
  return exportIssueMarkdown(doc);
}
