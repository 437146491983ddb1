import { httpLink } from '../feeds/canonical-url.js';
import { awaitingDecision } from '../feeds/inbox.js';
import { ensurePublication } from '../publication/publication.js';
import { listSections } from '../publication/sections.js';
import { plainToMarkdown } from '../rendering/summary.js';
import { type PeriodKind, parsePeriod, periodWindow } from './period.js';
import { type EditorialDeps, recordEdit, writeAudit } from './store.js';

export interface AssembleResult {
  issueId: number;
  added: number;
  created: boolean;
  /** Items in the window that have no section, so could not be placed (add them by hand). */
  unsectioned: number;
  window: { start: string; end: string };
}

/**
 * Builds (or tops up) the draft for a period: items published in the period's window, in the
 * publication's time zone, not already used by another issue, grouped by section, newest first.
 * The window is the period itself, extended back to the end of the previous issue's window so
 * nothing published between issues is missed; the first issue looks back one period only.
 * Assembling again appends new items after the existing ones and never touches edited entries
 * or brings back items an editor removed.
 */
export async function assembleDraft(
  deps: EditorialDeps,
  input: { period: string; kind?: PeriodKind },
  actor = 'assembler',
): Promise<AssembleResult> {
  const { db, log, env } = deps;
  const { period, kind } = parsePeriod(input.period, input.kind);
  const publication = await ensurePublication(db, env);
  const window = periodWindow(period, kind, publication.time_zone);

  const previous = await db
    .selectFrom('issues')
    .select(['period', 'period_kind'])
    .where('period_kind', '=', kind)
    .where('period', '<', period)
    .where('state', '!=', 'cancelled')
    .orderBy('period', 'desc')
    .executeTakeFirst();
  let start = window.start;
  if (previous) {
    const prevEnd = periodWindow(previous.period, previous.period_kind, publication.time_zone).end;
    if (prevEnd < start) start = prevEnd;
  }

  const sections = await listSections(db);
  const at = deps.now();

  const result = await db.transaction().execute(async (trx) => {
    let issue = await trx
      .selectFrom('issues')
      .selectAll()
      .where('period', '=', period)
      .where('period_kind', '=', kind)
      .where('state', 'in', ['draft', 'approved', 'scheduled'])
      .orderBy('id')
      .forUpdate()
      .executeTakeFirst();
    const created = !issue;
    if (!issue) {
      issue = await trx
        .insertInto('issues')
        .values({
          period,
          period_kind: kind,
          title: publication.name,
          masthead: JSON.stringify(publication.masthead),
          locale: publication.locale,
          created_at: at,
          updated_at: at,
        })
        .returningAll()
        .executeTakeFirstOrThrow();
      for (const [i, s] of sections.entries()) {
        await trx
          .insertInto('issue_sections')
          .values({ issue_id: issue.id, section_id: s.id, position: i + 1 })
          .execute();
      }
    }
    const issueId = issue.id;

    // Only items awaiting an editor's decision, by the inbox's own rule: nothing dismissed, held by
    // a live issue (this one included) or removed from one comes back.
    const candidates = await awaitingDecision(
      trx
        .selectFrom('items')
        .select(['id', 'title', 'summary_text', 'link', 'canonical_url', 'section_id', 'published_at']),
    )
      .where('published_at', '>=', start)
      .where('published_at', '<', window.end)
      .orderBy('published_at', 'desc')
      .orderBy('id', 'desc')
      .execute();

    const placeable = candidates.filter((c) => c.section_id !== null);
    const next = new Map<number, number>();
    for (const item of placeable) {
      const sectionId = item.section_id as number;
      if (!next.has(sectionId)) {
        const max = await trx
          .selectFrom('issue_items')
          .select((eb) => eb.fn.max('position').as('max'))
          .where('issue_id', '=', issueId)
          .where('section_id', '=', sectionId)
          .executeTakeFirst();
        next.set(sectionId, max?.max === null || max?.max === undefined ? 0 : Number(max.max) + 1);
        await trx
          .insertInto('issue_sections')
          .values({ issue_id: issueId, section_id: sectionId, position: sections.length + 1 })
          .onConflict((oc) => oc.columns(['issue_id', 'section_id']).doNothing())
          .execute();
      }
      const position = next.get(sectionId) as number;
      next.set(sectionId, position + 1);
      const url = item.canonical_url ?? httpLink(item.link);
      await trx
        .insertInto('issue_items')
        .values({
          issue_id: issueId,
          section_id: sectionId,
          item_id: item.id,
          position,
          title: item.title,
          // Feed text is plain; the summary is Markdown (rendering/summary.ts).
          summary: plainToMarkdown(item.summary_text),
          sources: JSON.stringify(url ? [{ url }] : []),
          created_at: at,
          updated_at: at,
        })
        .execute();
    }

    const detail = {
      period,
      kind,
      added: placeable.length,
      unsectioned: candidates.length - placeable.length,
      window: { start: start.toISOString(), end: window.end.toISOString() },
    };
    if (created) {
      await writeAudit(trx, { issueId, actor, action: 'assemble', detail, at });
    } else if (placeable.length) {
      await recordEdit(trx, issue, { actor, action: 'assemble', detail, at });
    }
    return {
      issueId,
      added: placeable.length,
      created,
      unsectioned: detail.unsectioned,
      window: detail.window,
    };
  });
  log.info({ event: 'issue.assembled', ...result }, 'draft assembled');
  return result;
}
