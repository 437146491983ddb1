import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/log.js';
import { EventWriter, type TrackEvent } from '../../src/tracking/event-writer.js';
import { recordFeedback } from '../../src/tracking/feedback.js';
import { registerIssueLinks } from '../../src/tracking/issue-links.js';
import { formatIssueStatistics, issueStatistics } from '../../src/tracking/stats.js';
import { createTestDatabase, type TestDatabase } from '../support/test-db.js';
import { type SeededIssue, seedSentIssue } from './seed.js';

let tdb: TestDatabase;
let issue: SeededIssue;
let links: Map<string, number>;

const A = 'https://www.cac.gov.cn/a';
const B = 'https://eur-lex.europa.eu/b';
const C = 'https://court.gov.cn/c';

beforeAll(async () => {
  tdb = await createTestDatabase();
  // Variants alternate: all, domestic+cases, all, domestic+cases, ...
  issue = await seedSentIssue(tdb.db, {
    recipients: 8,
    states: ['accepted', 'accepted', 'accepted', 'accepted', 'deferred', 'failed', 'unknown', 'queued'],
  });
  links = await registerIssueLinks(tdb.db, issue.issueId, [
    { url: A, sectionId: issue.sectionIds.domestic as number },
    { url: B, sectionId: issue.sectionIds.foreign as number },
    { url: C, sectionId: issue.sectionIds.cases as number },
  ]);
  const dl = (i: number) => issue.deliveries[i] as SeededIssue['deliveries'][number];
  const base = (i: number) => ({
    deliveryId: dl(i).id,
    issueId: issue.issueId,
    subscriberId: dl(i).subscriberId,
  });
  const at = (h: number, m = 0) => new Date(Date.UTC(2025, 6, 15, h, m));
  const open = (i: number, when: Date, proxied = false): TrackEvent => ({
    ...base(i),
    type: 'open',
    dedupeKey: proxied ? `open:${dl(i).id}:proxy` : `open:${dl(i).id}`,
    proxied,
    occurredAt: when,
  });
  const click = (i: number, url: string, when: Date): TrackEvent => {
    const linkId = links.get(url) as number;
    return { ...base(i), type: 'click', linkId, dedupeKey: `click:${dl(i).id}:${linkId}`, occurredAt: when };
  };
  const writer = new EventWriter({ db: tdb.db, log: silentLogger, maxBatch: 4 });
  for (const e of [
    open(0, at(9, 5)),
    open(0, at(9, 30)), // repeat open: not counted again
    open(1, at(9, 40), true), // Apple MPP only
    open(2, at(10, 1)),
    open(2, at(10, 2), true), // also proxied: still one unique open
    click(0, A, at(9, 6)),
    click(0, A, at(9, 7)),
    click(0, B, at(9, 8)),
    click(2, A, at(10, 3)),
    click(2, C, at(10, 4)),
    click(2, C, at(11, 0)),
  ])
    writer.add(e);
  await writer.close();
  await recordFeedback(tdb.db, silentLogger, {
    kind: 'bounce',
    severity: 'hard',
    channel: 'dsn',
    reportId: 'r1',
    deliveryId: dl(3).id,
    occurredAt: at(9, 10),
  });
  await recordFeedback(tdb.db, silentLogger, {
    kind: 'bounce',
    severity: 'soft',
    channel: 'dsn',
    reportId: 'r2',
    deliveryId: dl(1).id,
    occurredAt: at(9, 11),
  });
  await recordFeedback(tdb.db, silentLogger, {
    kind: 'complaint',
    channel: 'arf',
    reportId: 'r3',
    deliveryId: dl(2).id,
    occurredAt: at(12),
  });
  await tdb.db
    .insertInto('events')
    .values({
      type: 'unsubscribe',
      subtype: 'all',
      issue_id: issue.issueId,
      delivery_id: dl(1).id,
      subscriber_id: dl(1).subscriberId,
    })
    .execute();
});

afterAll(async () => {
  await tdb?.drop();
});

describe('issue statistics for a sent issue', () => {
  it('counts ledger states and unique events over the whole issue', async () => {
    const s = await issueStatistics(tdb.db, issue.issueId);
    expect(s.totals).toMatchObject({
      prepared: 8,
      accepted: 4,
      deferred: 1,
      failed: 1,
      unknown: 1,
      pending: 1,
      bounced: 1,
      softBounced: 1,
      complained: 1,
      opened: 3,
      openedDirect: 2,
      clickedUnique: 2,
      clicksTotal: 6,
      unsubscribed: 1,
    });
    expect(s.totals.rates.open).toBe(0.75);
    expect(s.totals.rates.click).toBe(0.5);
  });

  it('splits the figures per variant with the variant’s sections', async () => {
    const s = await issueStatistics(tdb.db, issue.issueId);
    const all = s.variants.find((v) => v.variantKey === 'all');
    const dc = s.variants.find((v) => v.variantKey === 'domestic+cases');
    // deliveries 0,2,4,6 got "all"; 1,3,5,7 "domestic+cases"
    expect(all).toMatchObject({
      prepared: 4,
      accepted: 2,
      deferred: 1,
      unknown: 1,
      opened: 2,
      clickedUnique: 2,
      clicksTotal: 6,
      complained: 1,
    });
    expect(all?.sectionKeys).toEqual(['domestic', 'foreign', 'cases', 'industry']);
    expect(dc).toMatchObject({
      prepared: 4,
      accepted: 2,
      failed: 1,
      pending: 1,
      opened: 1,
      openedDirect: 0,
      bounced: 1,
      softBounced: 1,
      unsubscribed: 1,
    });
  });

  it('attributes clicks to sections through the links', async () => {
    const s = await issueStatistics(tdb.db, issue.issueId);
    const by = Object.fromEntries(s.sections.map((x) => [x.key, x]));
    expect(by.domestic).toMatchObject({ links: 1, clicksTotal: 3, clickedUnique: 2, recipients: 8 });
    expect(by.foreign).toMatchObject({ links: 1, clicksTotal: 1, clickedUnique: 1, recipients: 4 });
    expect(by.cases).toMatchObject({ links: 1, clicksTotal: 2, clickedUnique: 1, recipients: 8 });
  });

  it('ranks the top links by clicks, with unique clickers', async () => {
    const s = await issueStatistics(tdb.db, issue.issueId);
    expect(s.topLinks.map((l) => [l.url, l.clicksTotal, l.clickedUnique])).toEqual([
      [A, 3, 2],
      [C, 2, 1],
      [B, 1, 1],
    ]);
  });

  it('buckets opens and clicks by hour (UTC)', async () => {
    const s = await issueStatistics(tdb.db, issue.issueId);
    expect(s.timeline).toEqual([
      { hour: '2025-07-15T09:00:00Z', opens: 2, opensDirect: 1, clicks: 3 },
      { hour: '2025-07-15T10:00:00Z', opens: 2, opensDirect: 1, clicks: 2 },
      { hour: '2025-07-15T11:00:00Z', opens: 0, opensDirect: 0, clicks: 1 },
    ]);
  });

  it('prints a readable summary', async () => {
    const text = formatIssueStatistics(await issueStatistics(tdb.db, issue.issueId));
    expect(text).toContain('prepared 8  accepted 4');
    expect(text).toContain(`3 (2)  ${A}`);
  });

  it('gives zeros, not errors, for an issue with no deliveries', async () => {
    const empty = await tdb.db
      .insertInto('issues')
      .values({ period: '2025-09', title: 'Empty' } as never)
      .returning('id')
      .executeTakeFirstOrThrow();
    const s = await issueStatistics(tdb.db, empty.id);
    expect(s.totals.prepared).toBe(0);
    expect(s.totals.rates.open).toBeNull();
    expect(s.variants).toEqual([]);
  });
});
