import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applyLinkTracking } from '../../src/tracking/compile.js';
import { registerIssueLinks } from '../../src/tracking/issue-links.js';
import { createTestDatabase, type TestDatabase } from '../support/test-db.js';
import { type SeededIssue, seedSentIssue } from './seed.js';

let tdb: TestDatabase;
let issue: SeededIssue;
const PUBLIC = 'https://news.example.org';

beforeAll(async () => {
  tdb = await createTestDatabase();
  issue = await seedSentIssue(tdb.db, { recipients: 1 });
  await tdb.db
    .insertInto('issue_items')
    .values([
      {
        issue_id: issue.issueId,
        section_id: issue.sectionIds.domestic as number,
        position: 1,
        title: '工信领域人工智能安全治理标准体系',
        sources: JSON.stringify([{ url: 'https://www.miit.gov.cn/a.html' }]) as never,
      },
      {
        issue_id: issue.issueId,
        section_id: issue.sectionIds.foreign as number,
        position: 1,
        title: 'EU GPAI Code of Practice',
        sources: JSON.stringify([{ url: 'https://digital-strategy.ec.europa.eu/b?x=1&y=2' }]) as never,
      },
    ])
    .execute();
});

afterAll(async () => {
  await tdb?.drop();
});

describe('applying link tracking to a compiled variant', () => {
  const html = `<a href="https://www.miit.gov.cn/a.html">工信部</a>
<a href="https://digital-strategy.ec.europa.eu/b?x=1&amp;y=2">EU</a>
<a href="https://news.example.org/archive">archive</a>
<a href="{{unsubscribeUrl}}">退订</a>`;

  it('registers the links with the section of the item that cites them and rewrites the hrefs', async () => {
    const { html: out, links } = await applyLinkTracking(tdb.db, {
      issueId: issue.issueId,
      publicUrl: PUBLIC,
      html,
    });
    const rows = await tdb.db
      .selectFrom('issue_links')
      .select(['id', 'url', 'section_id'])
      .where('issue_id', '=', issue.issueId)
      .orderBy('id')
      .execute();
    expect(rows.map((r) => [r.url, r.section_id])).toEqual([
      ['https://www.miit.gov.cn/a.html', issue.sectionIds.domestic],
      ['https://digital-strategy.ec.europa.eu/b?x=1&y=2', issue.sectionIds.foreign],
      ['https://news.example.org/archive', null],
    ]);
    for (const r of rows) expect(out).toContain(`href="${PUBLIC}/t/c/{{trackingToken}}/${r.id}"`);
    expect(out).toContain('href="{{unsubscribeUrl}}"');
    expect(links.size).toBe(3);
  });

  it('reuses the same link ids when the variant is compiled again', async () => {
    const first = await registerIssueLinks(tdb.db, issue.issueId, ['https://www.miit.gov.cn/a.html']);
    const { links } = await applyLinkTracking(tdb.db, { issueId: issue.issueId, publicUrl: PUBLIC, html });
    expect(links.get('https://www.miit.gov.cn/a.html')).toBe(first.get('https://www.miit.gov.cn/a.html'));
    const count = await tdb.db
      .selectFrom('issue_links')
      .select((eb) => eb.fn.countAll<number>().as('c'))
      .where('issue_id', '=', issue.issueId)
      .executeTakeFirstOrThrow();
    expect(Number(count.c)).toBe(3);
  });

  it('refuses to register a link that is not an http(s) URL', async () => {
    await expect(registerIssueLinks(tdb.db, issue.issueId, ['javascript:alert(1)'])).rejects.toThrow(
      /not an http\(s\) URL/,
    );
  });
});
