import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { up } from '../../src/db/migrations/0018_decode_issue_link_urls.js';
import { loadIssueLinks, registerIssueLinks } from '../../src/tracking/issue-links.js';
import { createTestDatabase, type TestDatabase } from '../support/test-db.js';
import { seedSentIssue } from './seed.js';

let tdb: TestDatabase;
beforeAll(async () => {
  tdb = await createTestDatabase();
});
afterAll(async () => tdb?.drop());

describe('links registered with entities in them (before the rewriter decoded every entity)', () => {
  it('are decoded in place by migration 0018, keeping their ids; a duplicate is left alone', async () => {
    const { issueId } = await seedSentIssue(tdb.db, { recipients: 1 });
    const good = 'https://baijiahao.baidu.com/s?id=1838&wfr=spider&for=pc';
    const ids = await registerIssueLinks(tdb.db, issueId, [
      'https://mp.weixin.qq.com/s?__biz=MzA5&scene&#61;25',
      'https://baijiahao.baidu.com/s?id&#61;1838&wfr&#61;spider&for&#61;pc',
      good,
      'https://example.org/?a=1&b=2',
    ]);
    await up(tdb.db as never);
    const after = new Map((await loadIssueLinks(tdb.db, issueId)).map((l) => [l.id, l.url]));
    expect(after.get(ids.get('https://mp.weixin.qq.com/s?__biz=MzA5&scene&#61;25') as number)).toBe(
      'https://mp.weixin.qq.com/s?__biz=MzA5&scene=25',
    );
    // Its decoded form was registered already (a recompile): both rows stay as they were.
    expect(
      after.get(ids.get('https://baijiahao.baidu.com/s?id&#61;1838&wfr&#61;spider&for&#61;pc') as number),
    ).toBe('https://baijiahao.baidu.com/s?id&#61;1838&wfr&#61;spider&for&#61;pc');
    expect(after.get(ids.get(good) as number)).toBe(good);
    expect(after.get(ids.get('https://example.org/?a=1&b=2') as number)).toBe('https://example.org/?a=1&b=2');
  });
});
