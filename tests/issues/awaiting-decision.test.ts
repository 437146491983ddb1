import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Env } from '../../src/config/env.js';
import type { IssueState } from '../../src/db/schema.js';
import { cancelIssue } from '../../src/delivery/control.js';
import { listInboxCandidates } from '../../src/feeds/inbox.js';
import { acceptItem } from '../../src/issues/accept-items.js';
import { assembleDraft } from '../../src/issues/assemble.js';
import { addIssueItem, removeIssueItem } from '../../src/issues/edit.js';
import type { EditorialDeps } from '../../src/issues/store.js';
import { silentLogger } from '../../src/log.js';
import { MODEL_SECTIONS } from '../../src/publication/model-sections.js';
import { ensurePublication } from '../../src/publication/publication.js';
import { upsertSection } from '../../src/publication/sections.js';
import { createTestDatabase, type TestDatabase } from '../support/test-db.js';
import { testEnv } from '../support/test-env.js';

/**
 * "An editor has already decided on this item" is one rule (awaitingDecision in
 * src/feeds/inbox.ts): the inbox offers exactly the items that assembling a draft would add.
 */

let tdb: TestDatabase;
let env: Env;
let deps: EditorialDeps;
let sourceId: number;
const clock = new Date('2026-06-01T00:00:00Z');

beforeAll(async () => {
  tdb = await createTestDatabase();
  env = testEnv();
  deps = { db: tdb.db, log: silentLogger, env, now: () => clock };
  await ensurePublication(tdb.db, env);
  for (const s of MODEL_SECTIONS) await upsertSection(tdb.db, s);
  sourceId = (
    await tdb.db
      .insertInto('sources')
      .values({ name: 'feed', url: 'https://example.org/feed.xml' })
      .returning('id')
      .executeTakeFirstOrThrow()
  ).id;
});
afterAll(async () => {
  await tdb.drop();
});

/** An item of May 2026 (Asia/Shanghai) in the industry-news section. */
async function item(title: string): Promise<number> {
  const section = await tdb.db
    .selectFrom('sections')
    .select('id')
    .where('key', '=', 'industry-news')
    .executeTakeFirstOrThrow();
  return (
    await tdb.db
      .insertInto('items')
      .values({
        source_id: sourceId,
        title,
        summary_text: `${title}。`,
        link: `https://example.org/${encodeURIComponent(title)}`,
        published_at: '2026-05-12T02:00:00Z',
        section_id: section.id,
      })
      .returning('id')
      .executeTakeFirstOrThrow()
  ).id;
}

/** Another series' issue (weekly), so assembling May does not reuse it. */
async function otherIssue(state: IssueState, week: string): Promise<number> {
  return (
    await tdb.db
      .insertInto('issues')
      .values({ period: week, period_kind: 'week', title: '周报', state })
      .returning('id')
      .executeTakeFirstOrThrow()
  ).id;
}

const place = (issueId: number, itemId: number, title: string) =>
  addIssueItem(deps, issueId, { sectionKey: 'industry-news', title, itemId }, 'editor');

describe('the one rule for an item awaiting an editor’s decision', () => {
  it('is the same for the inbox and for assembling a draft', async () => {
    const fresh = await item('未处理');
    const dismissed = await item('已忽略');
    await tdb.db.updateTable('items').set({ status: 'dismissed' }).where('id', '=', dismissed).execute();

    const inSent = await item('已发送的一期里');
    await place(await otherIssue('draft', '2026-W17'), inSent, '已发送的一期里');
    await tdb.db.updateTable('issues').set({ state: 'sent' }).where('period', '=', '2026-W17').execute();

    const inCancelled = await item('已取消的一期里');
    const cancelled = await otherIssue('draft', '2026-W18');
    await place(cancelled, inCancelled, '已取消的一期里');

    // Removed from a live draft of another series: a decision about the item.
    const removed = await item('编辑移除');
    const weekly = await otherIssue('draft', '2026-W19');
    const entry = await place(weekly, removed, '编辑移除');
    await removeIssueItem(deps, weekly, entry, 'editor');

    // Accepted by hand into a live draft: decided. Accepted into one later cancelled: not any more.
    const acceptedLive = await item('已采用');
    expect(
      await acceptItem(deps, weekly, { itemId: acceptedLive, sectionKey: 'industry-news' }, 'e'),
    ).toMatchObject({
      accepted: true,
    });
    const acceptedThenCancelled = await item('采用后该期取消');
    await acceptItem(deps, cancelled, { itemId: acceptedThenCancelled, sectionKey: 'industry-news' }, 'e');
    const { issue } = await cancelIssue(deps, cancelled, 'chief');
    expect(issue.state).toBe('cancelled');

    const fixtures = [fresh, dismissed, inSent, inCancelled, removed, acceptedLive, acceptedThenCancelled];
    const inbox = (await listInboxCandidates(tdb.db, { view: 'new' })).rows
      .map((r) => r.id)
      .filter((id) => fixtures.includes(id));
    const { issueId } = await assembleDraft(deps, { period: '2026-05' });
    const assembled = (
      await tdb.db.selectFrom('issue_items').select('item_id').where('issue_id', '=', issueId).execute()
    )
      .map((r) => r.item_id as number)
      .filter((id) => fixtures.includes(id));

    const awaiting = [fresh, inCancelled, acceptedThenCancelled].sort((a, b) => a - b);
    expect([...inbox].sort((a, b) => a - b)).toEqual(awaiting);
    expect([...assembled].sort((a, b) => a - b)).toEqual(awaiting);
  });
});
