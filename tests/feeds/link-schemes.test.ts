import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Db } from '../../src/db/schema.js';
import type { NormalizedItem } from '../../src/feeds/parse.js';
import { addSource, SourceInputError } from '../../src/feeds/sources.js';
import { storeItems } from '../../src/feeds/store-items.js';
import { assembleDraft } from '../../src/issues/assemble.js';
import { validateSources } from '../../src/issues/edit.js';
import { loadRenderableIssue } from '../../src/issues/load.js';
import { type ParseProblem, parseSources } from '../../src/issues/markdown-parse.js';
import { EditorialInputError } from '../../src/issues/store.js';
import { silentLogger } from '../../src/log.js';
import { seedModelSections } from '../http/support.js';
import { createTestDatabase, type TestDatabase } from '../support/test-db.js';
import { testEnv } from '../support/test-env.js';

// Links that run script or smuggle content when an editor, a reader or an export shows them.
const HOSTILE = [
  'javascript:alert(document.cookie)',
  'data:text/html,<script>alert(1)</script>',
  'vbscript:msgbox(1)',
];

let t: TestDatabase;
let db: Db;
beforeAll(async () => {
  t = await createTestDatabase();
  db = t.db;
  await seedModelSections(db);
});
afterAll(async () => t?.drop());

const entry = (n: number, link: string | null): NormalizedItem => ({
  guid: `entry-${n}`,
  title: `条目 ${n}`,
  link,
  publishedAt: '2026-05-10T00:00:00.000Z',
  publishedOffset: '+08:00',
  author: null,
  summaryText: `摘要 ${n}`,
  contentHtml: '',
  categories: [],
});

describe('non-web links from feeds', () => {
  it('are dropped when a poll stores its items; the entries themselves are kept', async () => {
    const source = await addSource(db, {
      name: 'hostile',
      url: 'https://feeds.example/x.xml',
      sectionKey: 'industry-news',
    });
    const items = [...HOSTILE.map((link, i) => entry(i, link)), entry(9, 'https://ok.example/a')];
    const result = await storeItems(db, source, items, new Date('2026-05-10T01:00:00Z'));
    expect(result.newItems).toBe(4);
    const rows = await db
      .selectFrom('items')
      .select(['guid', 'link'])
      .where('source_id', '=', source.id)
      .orderBy('guid')
      .execute();
    expect(rows).toEqual([
      { guid: 'entry-0', link: null },
      { guid: 'entry-1', link: null },
      { guid: 'entry-2', link: null },
      { guid: 'entry-9', link: 'https://ok.example/a' },
    ]);
    const sightings = await db
      .selectFrom('item_sightings')
      .select('url')
      .where('source_id', '=', source.id)
      .execute();
    expect(sightings.map((s) => s.url).filter((u) => u && !u.startsWith('https:'))).toEqual([]);
  });

  it('already stored never become an issue source when a draft is assembled', async () => {
    const section = await db
      .selectFrom('sections')
      .select('id')
      .where('key', '=', 'industry-news')
      .executeTakeFirstOrThrow();
    await db
      .insertInto('items')
      .values({
        title: '旧条目',
        summary_text: '',
        link: HOSTILE[0],
        published_at: '2026-06-10T00:00:00Z',
        section_id: section.id,
      })
      .execute();
    const deps = { db, log: silentLogger, env: testEnv(), now: () => new Date('2026-07-01T00:00:00Z') };
    const { issueId } = await assembleDraft(deps, { period: '2026-06' });
    const issue = await loadRenderableIssue(db, issueId);
    const item = issue.sections.flatMap((s) => s.items).find((i) => i.title === '旧条目');
    expect(item?.sources).toEqual([]);
  });
});

describe('every other way a link enters', () => {
  it.each(HOSTILE)('an editor cannot give %j as an item source', (url) => {
    expect(() => validateSources([{ url }])).toThrow(EditorialInputError);
    expect(() => validateSources([{ url }])).toThrow('must be an http(s) URL');
  });

  it.each(HOSTILE)('a source feed cannot be %j', async (url) => {
    await expect(addSource(db, { name: 'x', url })).rejects.toThrow(SourceInputError);
  });

  it('the Markdown import reports non-web sources and keeps only the http(s) ones', () => {
    const problems: ParseProblem[] = [];
    const sources = parseSources(
      '[点此](javascript:alert(1)) // https://ok.example/rule // [或](data:text/html,hi) // [文件](ftp://files.example/x)',
      7,
      problems,
    );
    expect(sources.map((s) => s.url)).toEqual(['https://ok.example/rule']);
    expect(problems.map((p) => p.message)).toEqual([
      'source is not a web address: "javascript:alert(1)"',
      'source is not a web address: "data:text/html,hi"',
      'source is not a web address: "ftp://files.example/x"',
    ]);
  });
});
