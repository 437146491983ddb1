import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ISSUE_STATES } from '../../src/db/schema.js';
import { cancelIssue, pauseIssue } from '../../src/delivery/control.js';
import { transitionIssue } from '../../src/issues/lifecycle.js';
import { IllegalIssueTransitionError } from '../../src/issues/state-machine.js';
import { getIssue, listAudit } from '../../src/issues/store.js';
import { silentLogger } from '../../src/log.js';
import { addSubscribers, createIssue, seedSections } from '../delivery/support.js';
import { createTestDatabase, type TestDatabase } from '../support/test-db.js';

/**
 * The one way an issue's state changes (transitionIssue): the state, the move's other writes and
 * the audit entry commit together or not at all, and the database refuses a state the lifecycle
 * does not know.
 */

let tdb: TestDatabase;
let sectionIds: Map<string, number>;
const at = new Date('2026-01-05T09:00:00Z');
const deps = () => ({ db: tdb.db, log: silentLogger, now: () => at });

beforeAll(async () => {
  tdb = await createTestDatabase();
  sectionIds = await seedSections(tdb.db);
  // A fault to inject: the audit insert fails for the issues listed in refuse_audit.
  await sql`CREATE TABLE refuse_audit (issue_id integer PRIMARY KEY)`.execute(tdb.db);
  await sql`
    CREATE FUNCTION refuse_audit_insert() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF EXISTS (SELECT 1 FROM refuse_audit r WHERE r.issue_id = NEW.issue_id) THEN
        RAISE EXCEPTION 'audit refused for issue %', NEW.issue_id;
      END IF;
      RETURN NEW;
    END $$
  `.execute(tdb.db);
  await sql`
    CREATE TRIGGER refuse_audit BEFORE INSERT ON issue_audit
    FOR EACH ROW EXECUTE FUNCTION refuse_audit_insert()
  `.execute(tdb.db);
});
afterAll(async () => {
  await tdb.drop();
});

const refuseAudit = (issueId: number) =>
  tdb.db
    .insertInto('refuse_audit' as never)
    .values({ issue_id: issueId } as never)
    .execute();

/** An issue that is sending, with `n` rows still queued (none on the wire). */
async function sendingIssue(n: number, tag: string): Promise<number> {
  const issueId = await createIssue(tdb.db);
  const subscribers = await addSubscribers(
    tdb.db,
    sectionIds,
    Array.from({ length: n }, (_, i) => ({ email: `r${i}.${tag}@example.test` })),
  );
  await tdb.db
    .insertInto('deliveries')
    .values(subscribers.map((subscriber_id) => ({ issue_id: issueId, subscriber_id })))
    .execute();
  await transitionIssue(deps(), issueId, 'start-sending', 'test', { fields: { prepared_at: at } });
  return issueId;
}

const rowStates = async (issueId: number) =>
  (
    await tdb.db
      .selectFrom('deliveries')
      .select('state')
      .where('issue_id', '=', issueId)
      .orderBy('id')
      .execute()
  ).map((r) => r.state);

describe('an issue state change and its audit entry', () => {
  it('are written together: the entry names who, from, to and the revision', async () => {
    const issueId = await createIssue(tdb.db, 'draft');
    const approved = await transitionIssue(deps(), issueId, 'approve', 'chief', { detail: { forced: true } });
    expect(approved.state).toBe('approved');
    const audit = await listAudit(tdb.db, issueId);
    expect(audit.map((a) => [a.action, a.actor, a.detail])).toEqual([
      ['approve', 'chief', { from: 'draft', to: 'approved', revision: 1, forced: true }],
    ]);
  });

  it('leaves the state as it was when the audit insert fails (editorial move)', async () => {
    const issueId = await createIssue(tdb.db, 'draft');
    await refuseAudit(issueId);
    await expect(transitionIssue(deps(), issueId, 'approve', 'chief')).rejects.toThrow(
      `audit refused for issue ${issueId}`,
    );
    expect((await getIssue(tdb.db, issueId)).state).toBe('draft');
    expect((await getIssue(tdb.db, issueId)).approved_by).toBeNull();
  });

  it('leaves the state and the rows as they were when the audit insert fails (delivery moves)', async () => {
    const issueId = await sendingIssue(3, 'fault');
    await refuseAudit(issueId);
    await expect(pauseIssue(deps(), issueId, 'operator', 'ops')).rejects.toThrow('audit refused');
    expect((await getIssue(tdb.db, issueId)).state).toBe('sending');
    expect((await getIssue(tdb.db, issueId)).pause_reason).toBeNull();
    // Cancelling skips the waiting rows in the same transaction: they stay queued too.
    await expect(cancelIssue(deps(), issueId, 'ops')).rejects.toThrow('audit refused');
    expect((await getIssue(tdb.db, issueId)).state).toBe('sending');
    expect(await rowStates(issueId)).toEqual(['queued', 'queued', 'queued']);
    expect((await listAudit(tdb.db, issueId)).map((a) => a.action)).toEqual(['start-sending']);
  });

  it('cancels a sending issue in one move, skipping every row not yet on the wire', async () => {
    const issueId = await sendingIssue(4, 'cancel');
    const { issue, skipped } = await cancelIssue(deps(), issueId, 'ops');
    expect([issue.state, skipped]).toEqual(['cancelled', 4]);
    expect(await rowStates(issueId)).toEqual(['skipped', 'skipped', 'skipped', 'skipped']);
    expect((await listAudit(tdb.db, issueId)).map((a) => [a.action, a.detail])).toEqual([
      ['start-sending', { from: 'approved', to: 'sending', revision: 1 }],
      ['cancel', { from: 'sending', to: 'cancelled', revision: 1, skipped: 4 }],
    ]);
  });

  it('lets exactly one of two racing moves win; the other is refused by the table', async () => {
    const issueId = await sendingIssue(1, 'race');
    const results = await Promise.all([
      pauseIssue(deps(), issueId, 'operator', 'a'),
      pauseIssue(deps(), issueId, 'operator', 'b'),
    ]);
    expect(results.sort()).toEqual([false, true]);
    expect((await listAudit(tdb.db, issueId)).filter((a) => a.action === 'pause')).toHaveLength(1);
    await expect(transitionIssue(deps(), issueId, 'pause', 'c')).rejects.toThrow(IllegalIssueTransitionError);
  });
});

describe('the issue states in the database', () => {
  it('has a CHECK listing exactly the lifecycle states', async () => {
    const { rows } = await sql<{ def: string }>`
      SELECT pg_get_constraintdef(c.oid) AS def FROM pg_constraint c
      JOIN pg_class t ON t.oid = c.conrelid
      WHERE t.relname = 'issues' AND t.relnamespace = to_regnamespace(${tdb.schema}) AND c.contype = 'c'
    `.execute(tdb.db);
    const stateCheck = rows.map((r) => r.def).find((d) => d.includes('state'));
    const listed = [...(stateCheck ?? '').matchAll(/'([a-z]+)'::text/g)].map((m) => m[1]);
    expect(listed.sort()).toEqual([...ISSUE_STATES].sort());
  });

  it('refuses a state the lifecycle does not know, naming the constraint', async () => {
    const issueId = await createIssue(tdb.db, 'draft');
    await expect(
      sql`UPDATE issues SET state = 'published' WHERE id = ${issueId}`.execute(tdb.db),
    ).rejects.toThrow(/issues_state_check/);
  });
});
