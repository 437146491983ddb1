import { loadIssueSections } from './load.js';
import { nextPeriod, parsePeriod } from './period.js';
import { type EditorialDeps, EditorialInputError, getIssue, writeAudit } from './store.js';

/** The issue states that hold a period open: a second such issue for it would be a surprise. */
const OPEN_STATES = ['draft', 'approved', 'scheduled'] as const;

export interface DuplicateResult {
  issueId: number;
  period: string;
  /** Section keys of the new draft, in the order copied. */
  sections: string[];
}

/**
 * A new draft shaped like an earlier issue (listmonk's and Ghost's "duplicate"): the same title,
 * masthead, intro, language, tracking choice and section order, for the next period unless one is
 * given. Items, subject and preheader (they name the month's content), approval, schedule and
 * state are not copied: the copy starts as an empty draft the assembler can fill.
 * Refused when the period already has an open issue, naming it, so no second draft appears beside it.
 */
export async function duplicateIssue(
  deps: EditorialDeps,
  sourceId: number,
  opts: { period?: string; actor?: string } = {},
): Promise<DuplicateResult> {
  const actor = opts.actor ?? 'editor';
  const source = await getIssue(deps.db, sourceId);
  let target: { period: string; kind: 'month' | 'week' };
  try {
    target = opts.period
      ? parsePeriod(opts.period.trim(), source.period_kind)
      : { period: nextPeriod(source.period, source.period_kind), kind: source.period_kind };
  } catch {
    throw new EditorialInputError(
      `Period "${opts.period}" is not a ${source.period_kind === 'week' ? 'week like 2025-W30' : 'month like 2025-07'}`,
      'period-invalid',
      { period: opts.period ?? '' },
    );
  }
  const at = deps.now();
  const result = await deps.db.transaction().execute(async (trx) => {
    // Serialises two editors duplicating at once: the second sees the first one's draft.
    await trx.selectFrom('issues').select('id').where('id', '=', sourceId).forUpdate().execute();
    const open = await trx
      .selectFrom('issues')
      .select(['id', 'state'])
      .where('period', '=', target.period)
      .where('period_kind', '=', target.kind)
      .where('state', 'in', OPEN_STATES)
      .orderBy('id')
      .executeTakeFirst();
    if (open) {
      throw new EditorialInputError(
        `Period ${target.period} already has issue ${open.id} (${open.state}); open it instead`,
        'period-has-issue',
        { period: target.period, id: open.id, state: open.state },
      );
    }
    const sections = await loadIssueSections(trx, sourceId);
    const created = await trx
      .insertInto('issues')
      .values({
        period: target.period,
        period_kind: target.kind,
        title: source.title,
        intro: source.intro,
        masthead: JSON.stringify(source.masthead),
        locale: source.locale,
        tracking_enabled: source.tracking_enabled,
        created_at: at,
        updated_at: at,
      })
      .returning('id')
      .executeTakeFirstOrThrow();
    for (const [i, { section }] of sections.entries()) {
      await trx
        .insertInto('issue_sections')
        .values({ issue_id: created.id, section_id: section.id, position: i + 1 })
        .execute();
    }
    const keys = sections.map((s) => s.section.key);
    await writeAudit(trx, {
      issueId: created.id,
      actor,
      action: 'duplicate',
      detail: { from: sourceId, fromPeriod: source.period, period: target.period, sections: keys },
      at,
    });
    return { issueId: created.id, period: target.period, sections: keys };
  });
  deps.log.info(
    { event: 'issue.duplicated', issueId: result.issueId, from: sourceId, period: result.period },
    'issue duplicated as a new draft',
  );
  return result;
}

/** The newest issue that is not cancelled: what "duplicate the last issue" starts from. */
export async function latestIssueId(deps: Pick<EditorialDeps, 'db'>): Promise<number | null> {
  const row = await deps.db
    .selectFrom('issues')
    .select('id')
    .where('state', '!=', 'cancelled')
    .orderBy('period', 'desc')
    .orderBy('id', 'desc')
    .executeTakeFirst();
  return row?.id ?? null;
}
