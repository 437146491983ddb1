import type { Transaction } from 'kysely';
import type { Database, Issue, IssueItem, IssueState, ItemSourceLink, Masthead } from '../db/schema.js';
import { httpLink } from '../feeds/canonical-url.js';
import { type EditorialDeps, EditorialInputError, lockIssue, recordEdit } from './store.js';

/**
 * Editing an issue. Each function runs in one transaction with the issue row locked, writes an
 * audit entry and bumps the revision (recordEdit); editing an approved or scheduled issue returns
 * it to draft. Used by the CLI now and an HTTP editor later.
 */

export type SourceInput = ItemSourceLink;

/**
 * What the caller last saw, for optimistic concurrency. The web editor sends it so that two
 * editors working at once are told of each other instead of one silently overwriting the other;
 * the CLI sends none and edits whatever is there.
 */
export interface EditExpectation {
  /** Refuse unless the issue is in one of these states (the web editor edits drafts only). */
  states?: readonly IssueState[];
  /** updateIssueItem: the item's version the editor started from. */
  itemVersion?: number;
  /** updateIssueFields: the value each changed field had when the editor started. */
  fields?: Partial<Record<keyof IssueFieldsPatch, unknown>>;
}

/** Someone else changed what the caller meant to change (HTTP 409); `current` is what is there now. */
export class EditConflictError extends Error {
  override name = 'EditConflictError';
  readonly userFacing = true;
  constructor(
    message: string,
    readonly reason: 'state' | 'item' | 'fields',
    readonly current?: unknown,
  ) {
    super(message);
  }
}

/** JSON with sorted keys: jsonb does not keep key order, so compare values, not spellings. */
export function stableJson(value: unknown): string {
  return JSON.stringify(value ?? null, (_k, v: unknown) =>
    v && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(
          Object.entries(v as Record<string, unknown>).sort(([a], [b]) => a.localeCompare(b)),
        )
      : v,
  );
}

export function validateSources(sources: SourceInput[]): ItemSourceLink[] {
  return sources.map((s, i) => {
    if (!URL.canParse(s.url.trim())) {
      throw new EditorialInputError(`Source ${i + 1} is not a URL: "${s.url}"`, 'source-not-url', {
        n: i + 1,
        url: s.url,
      });
    }
    const url = httpLink(s.url);
    if (!url) {
      throw new EditorialInputError(`Source ${i + 1} must be an http(s) URL: "${s.url}"`, 'source-not-http', {
        n: i + 1,
        url: s.url,
      });
    }
    const label = s.label?.trim();
    return label ? { url, label } : { url };
  });
}

async function sectionIdOf(trx: Transaction<Database>, key: string): Promise<number> {
  const row = await trx.selectFrom('sections').select('id').where('key', '=', key).executeTakeFirst();
  if (!row) throw new EditorialInputError(`No section with key "${key}"`, 'no-section', { key });
  return row.id;
}

async function ensureIssueSection(
  trx: Transaction<Database>,
  issueId: number,
  sectionId: number,
): Promise<void> {
  const exists = await trx
    .selectFrom('issue_sections')
    .select('section_id')
    .where('issue_id', '=', issueId)
    .where('section_id', '=', sectionId)
    .executeTakeFirst();
  if (exists) return;
  const max = await trx
    .selectFrom('issue_sections')
    .select((eb) => eb.fn.max('position').as('max'))
    .where('issue_id', '=', issueId)
    .executeTakeFirst();
  await trx
    .insertInto('issue_sections')
    .values({ issue_id: issueId, section_id: sectionId, position: Number(max?.max ?? 0) + 1 })
    .execute();
}

async function getIssueItem(
  trx: Transaction<Database>,
  issueId: number,
  issueItemId: number,
): Promise<IssueItem> {
  const row = await trx
    .selectFrom('issue_items')
    .selectAll()
    .where('id', '=', issueItemId)
    .where('issue_id', '=', issueId)
    .executeTakeFirst();
  if (!row)
    throw new EditorialInputError(`Issue ${issueId} has no item ${issueItemId}`, 'no-item', {
      item: issueItemId,
    });
  return row;
}

/** Rewrites positions 0..n-1 for one section of an issue, with `moved` placed at `index`. */
async function placeInSection(
  trx: Transaction<Database>,
  issueId: number,
  sectionId: number,
  moved?: { id: number; index: number },
): Promise<void> {
  const rows = await trx
    .selectFrom('issue_items')
    .select('id')
    .where('issue_id', '=', issueId)
    .where('section_id', '=', sectionId)
    .orderBy('position')
    .orderBy('id')
    .execute();
  const ids = rows.map((r) => r.id).filter((id) => id !== moved?.id);
  if (moved) ids.splice(Math.max(0, Math.min(moved.index, ids.length)), 0, moved.id);
  for (const [position, id] of ids.entries()) {
    await trx.updateTable('issue_items').set({ position }).where('id', '=', id).execute();
  }
}

function edit<T>(
  deps: EditorialDeps,
  issueId: number,
  work: (
    trx: Transaction<Database>,
    issue: Issue,
    at: Date,
  ) => Promise<{ result: T; action: string; detail: object }>,
  actor: string,
  expect?: EditExpectation,
): Promise<T> {
  return deps.db.transaction().execute(async (trx) => {
    const issue = await lockIssue(trx, issueId);
    if (expect?.states && !expect.states.includes(issue.state)) {
      throw new EditConflictError(`Issue ${issueId} is ${issue.state}; it cannot be edited now`, 'state', {
        state: issue.state,
      });
    }
    const at = deps.now();
    const { result, action, detail } = await work(trx, issue, at);
    await recordEdit(trx, issue, { actor, action, detail: detail as Record<string, unknown>, at });
    deps.log.info({ event: `issue.edit.${action}`, issueId, actor }, 'issue edited');
    return result;
  });
}

export interface NewIssueItem {
  sectionKey: string;
  title: string;
  summary?: string;
  sources?: SourceInput[];
  /** 0-based position in the section; default: last. */
  position?: number;
  /** The fetched item this entry comes from, if any. */
  itemId?: number;
}

export function addIssueItem(
  deps: EditorialDeps,
  issueId: number,
  input: NewIssueItem,
  actor: string,
  expect?: EditExpectation,
) {
  return edit(
    deps,
    issueId,
    async (trx, _issue, at) => {
      if (!input.title.trim()) throw new EditorialInputError('An item needs a title', 'item-title');
      const sectionId = await sectionIdOf(trx, input.sectionKey);
      await ensureIssueSection(trx, issueId, sectionId);
      const row = await trx
        .insertInto('issue_items')
        .values({
          issue_id: issueId,
          section_id: sectionId,
          item_id: input.itemId ?? null,
          position: 1_000_000,
          title: input.title.trim(),
          summary: input.summary?.trim() ?? '',
          sources: JSON.stringify(validateSources(input.sources ?? [])),
          edited_at: at,
          created_at: at,
          updated_at: at,
        })
        .returning('id')
        .executeTakeFirstOrThrow();
      await placeInSection(trx, issueId, sectionId, {
        id: row.id,
        index: input.position ?? Number.MAX_SAFE_INTEGER,
      });
      return {
        result: row.id,
        action: 'add-item',
        detail: { issueItemId: row.id, section: input.sectionKey, title: input.title },
      };
    },
    actor,
    expect,
  );
}

export function removeIssueItem(
  deps: EditorialDeps,
  issueId: number,
  issueItemId: number,
  actor: string,
  expect?: EditExpectation,
) {
  return edit(
    deps,
    issueId,
    async (trx) => {
      const row = await getIssueItem(trx, issueId, issueItemId);
      await trx.deleteFrom('issue_items').where('id', '=', issueItemId).execute();
      if (row.item_id !== null) {
        // Remember the removal so assembling again does not bring the item back.
        await trx
          .insertInto('issue_item_exclusions')
          .values({ issue_id: issueId, item_id: row.item_id, excluded_by: actor })
          .onConflict((oc) => oc.columns(['issue_id', 'item_id']).doNothing())
          .execute();
      }
      await placeInSection(trx, issueId, row.section_id);
      return {
        result: undefined,
        action: 'remove-item',
        detail: { issueItemId, itemId: row.item_id, title: row.title },
      };
    },
    actor,
    expect,
  );
}

/** Reorders within a section or moves to another one; position is 0-based in the target section. */
export function moveIssueItem(
  deps: EditorialDeps,
  issueId: number,
  issueItemId: number,
  to: { sectionKey?: string; position: number },
  actor: string,
  expect?: EditExpectation,
) {
  return edit(
    deps,
    issueId,
    async (trx) => {
      const row = await getIssueItem(trx, issueId, issueItemId);
      const target = to.sectionKey ? await sectionIdOf(trx, to.sectionKey) : row.section_id;
      if (target !== row.section_id) {
        await ensureIssueSection(trx, issueId, target);
        await trx
          .updateTable('issue_items')
          .set({ section_id: target })
          .where('id', '=', issueItemId)
          .execute();
        await placeInSection(trx, issueId, row.section_id);
      }
      await placeInSection(trx, issueId, target, { id: issueItemId, index: to.position });
      return {
        result: undefined,
        action: 'move-item',
        detail: { issueItemId, fromSection: row.section_id, toSection: target, position: to.position },
      };
    },
    actor,
    expect,
  );
}

export interface IssueItemPatch {
  title?: string;
  summary?: string;
  sources?: SourceInput[];
}

export function updateIssueItem(
  deps: EditorialDeps,
  issueId: number,
  issueItemId: number,
  patch: IssueItemPatch,
  actor: string,
  expect?: EditExpectation,
): Promise<{ version: number }> {
  return edit(
    deps,
    issueId,
    async (trx, _issue, at) => {
      const row = await getIssueItem(trx, issueId, issueItemId);
      if (expect?.itemVersion !== undefined && expect.itemVersion !== row.version) {
        throw new EditConflictError(
          `Item ${issueItemId} was changed by someone else (version ${row.version}, not ${expect.itemVersion})`,
          'item',
          { id: row.id, version: row.version, title: row.title, summary: row.summary, sources: row.sources },
        );
      }
      if (patch.title !== undefined && !patch.title.trim())
        throw new EditorialInputError('An item needs a title', 'item-title');
      const set = {
        ...(patch.title !== undefined ? { title: patch.title.trim() } : {}),
        ...(patch.summary !== undefined ? { summary: patch.summary.trim() } : {}),
        ...(patch.sources !== undefined ? { sources: JSON.stringify(validateSources(patch.sources)) } : {}),
      };
      await trx
        .updateTable('issue_items')
        .set({ ...set, version: row.version + 1, edited_at: at, updated_at: at })
        .where('id', '=', issueItemId)
        .execute();
      const before = Object.fromEntries(
        Object.keys(set).map((k) => [k, row[k as 'title' | 'summary' | 'sources']]),
      );
      return {
        result: { version: row.version + 1 },
        action: 'update-item',
        detail: { issueItemId, before, after: patch },
      };
    },
    actor,
    expect,
  );
}

export interface IssueFieldsPatch {
  title?: string;
  subject?: string | null;
  preheader?: string | null;
  intro?: string | null;
  masthead?: Masthead;
}

export function updateIssueFields(
  deps: EditorialDeps,
  issueId: number,
  patch: IssueFieldsPatch,
  actor: string,
  expect?: EditExpectation,
) {
  return edit(
    deps,
    issueId,
    async (trx, issue) => {
      const changed = Object.entries(expect?.fields ?? {}).filter(
        ([k, v]) => k in patch && stableJson(issue[k as keyof IssueFieldsPatch]) !== stableJson(v),
      );
      if (changed.length) {
        throw new EditConflictError(
          `Changed by someone else meanwhile: ${changed.map(([k]) => k).join(', ')}`,
          'fields',
          Object.fromEntries(changed.map(([k]) => [k, issue[k as keyof IssueFieldsPatch]])),
        );
      }
      if (patch.title !== undefined && !patch.title.trim())
        throw new EditorialInputError('An issue needs a title', 'issue-title');
      const set = {
        ...(patch.title !== undefined ? { title: patch.title.trim() } : {}),
        ...(patch.subject !== undefined ? { subject: patch.subject } : {}),
        ...(patch.preheader !== undefined ? { preheader: patch.preheader } : {}),
        ...(patch.intro !== undefined ? { intro: patch.intro } : {}),
        ...(patch.masthead !== undefined ? { masthead: JSON.stringify(patch.masthead) } : {}),
      };
      if (!Object.keys(set).length) throw new EditorialInputError('Nothing to change', 'nothing-to-change');
      await trx.updateTable('issues').set(set).where('id', '=', issueId).execute();
      const before = Object.fromEntries(Object.keys(set).map((k) => [k, issue[k as keyof typeof issue]]));
      return { result: undefined, action: 'update-issue', detail: { before, after: patch } };
    },
    actor,
    expect,
  );
}

/** Sets the order of the issue's sections; sections not named keep their relative order after these. */
export function reorderIssueSections(
  deps: EditorialDeps,
  issueId: number,
  sectionKeys: string[],
  actor: string,
  expect?: EditExpectation,
) {
  return edit(
    deps,
    issueId,
    async (trx) => {
      const ids: number[] = [];
      for (const key of sectionKeys) {
        const id = await sectionIdOf(trx, key);
        await ensureIssueSection(trx, issueId, id);
        ids.push(id);
      }
      const rest = await trx
        .selectFrom('issue_sections')
        .select('section_id')
        .where('issue_id', '=', issueId)
        .where('section_id', 'not in', ids.length ? ids : [-1])
        .orderBy('position')
        .execute();
      const order = [...ids, ...rest.map((r) => r.section_id)];
      for (const [i, sectionId] of order.entries()) {
        await trx
          .updateTable('issue_sections')
          .set({ position: i + 1 })
          .where('issue_id', '=', issueId)
          .where('section_id', '=', sectionId)
          .execute();
      }
      return { result: undefined, action: 'reorder-sections', detail: { sections: sectionKeys } };
    },
    actor,
    expect,
  );
}
