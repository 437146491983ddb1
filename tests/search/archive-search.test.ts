import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import Fastify from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase } from '../../src/db/connect.js';
import { migrateToLatest } from '../../src/db/migrate.js';
import type { Db } from '../../src/db/schema.js';
import { archiveRoutes } from '../../src/http/public/archive.js';
import { addIssueItem } from '../../src/issues/edit.js';
import { silentLogger } from '../../src/log.js';
import { MODEL_SECTIONS } from '../../src/publication/model-sections.js';
import { ensurePublication } from '../../src/publication/publication.js';
import { upsertSection } from '../../src/publication/sections.js';
import { indexIssue, issuesToIndex, searchArchive } from '../../src/search/archive-index.js';
import { documentTokens, queryText } from '../../src/search/tokens.js';
import { createTestDatabase } from '../support/test-db.js';
import { testEnv } from '../support/test-env.js';

describe('search tokens', () => {
  it('cuts Chinese into bigrams and keeps Latin words, lower-cased', () => {
    expect(documentTokens('个人信息保护 GDPR Act')).toEqual([
      '个人',
      '人信',
      '信息',
      '息保',
      '保护',
      'gdpr',
      'act',
    ]);
    expect(queryText('个人信息保护')).toBe("'个人' & '人信' & '信息' & '息保' & '保护'");
    expect(queryText('data protection')).toBe("'data':* & 'protection':*");
    expect(queryText("'); DROP --")).toBe("'drop':*");
    expect(queryText('  ，。 ')).toBeNull();
  });
});

const env = testEnv({ PUBLIC_URL: 'https://news.example.org' });

/** Three issues: two sent, one draft; words in titles, summaries, metadata and snapshot text. */
async function seed(db: Db) {
  await ensurePublication(db, env);
  for (const s of MODEL_SECTIONS) await upsertSection(db, s);
  const deps = { db, log: silentLogger, env, now: () => new Date('2025-08-01T00:00:00Z') };
  const issue = async (period: string) =>
    (
      await db
        .insertInto('issues')
        .values({ period, title: '每月资讯' })
        .returning('id')
        .executeTakeFirstOrThrow()
    ).id;
  const july = await issue('2025-07');
  const june = await issue('2025-06');
  const draft = await issue('2025-08');
  const add = (id: number, sectionKey: string, title: string, summary: string, url: string) =>
    addIssueItem(deps, id, { sectionKey, title, summary, sources: [{ url }] }, 'editor');
  const law = await add(
    july,
    'domestic-regulation',
    '全国人大常委会通过《个人信息保护法》修正案',
    '2025 年 7 月 1 日通过。',
    'https://www.npc.gov.cn/a',
  );
  const edpb = await add(
    july,
    'foreign-regulation',
    '欧洲数据保护委员会发布指南',
    '7月3日，欧洲数据保护委员会发布指南。',
    'https://edpb.europa.eu/g',
  );
  const onlyInSnapshot = await add(
    june,
    'foreign-regulation',
    '英国发布新规',
    '内容见原文。',
    'https://ico.org.uk/x',
  );
  await add(june, 'industry-news', '个人电脑出货量上升', '信息产业保持增长。', 'https://example.com/pc');
  await add(draft, 'domestic-regulation', '草稿：个人信息保护新规', '', 'https://www.cac.gov.cn/d');
  // The snapshot of the June source holds the words the item itself does not.
  const text = 'Guidance on personal data protection. 本指南涉及个人信息保护影响评估。';
  await db
    .insertInto('source_snapshots')
    .values({
      issue_id: june,
      url: 'https://ico.org.uk/x',
      text_gz: gzipSync(text),
      stored_bytes: 10,
      excerpt: text,
      fetched_at: new Date(),
    })
    .execute();
  for (const [id, at] of [
    [july, '2025-08-01T01:00:00Z'],
    [june, '2025-07-01T01:00:00Z'],
  ] as const)
    await db
      .updateTable('issues')
      .set({ state: 'sent', sent_at: new Date(at) })
      .where('id', '=', id)
      .execute();
  await db.updateTable('issues').set({ state: 'approved' }).where('id', '=', draft).execute();
  for (const id of await issuesToIndex(db)) await indexIssue(db, id);
  return { law, edpb, onlyInSnapshot, july, june, draft };
}

const backends = [
  {
    name: 'PostgreSQL',
    open: async () => {
      const t = await createTestDatabase();
      return { db: t.db, close: t.drop };
    },
  },
  {
    name: 'PGlite',
    open: async () => {
      const h = await openDatabase({ dataDir: mkdtempSync(join(tmpdir(), 'gazette-search-')) });
      await migrateToLatest(h.db);
      return { db: h.db, close: h.close };
    },
  },
];

describe.each(backends)('archive search on $name', { timeout: 180_000 }, ({ open }) => {
  let db: Db;
  let close: () => Promise<void>;
  let ids: Awaited<ReturnType<typeof seed>>;
  beforeAll(async () => {
    ({ db, close } = await open());
    ids = await seed(db);
  }, 180_000);
  afterAll(async () => close?.());

  const found = async (q: Parameters<typeof searchArchive>[1]) =>
    (await searchArchive(db, q)).map((h) => h.issueItemId);

  it('finds 个人信息保护 in titles and in snapshot text across issues, not in drafts or near misses', async () => {
    expect(await found({ q: '个人信息保护' })).toEqual([ids.law, ids.onlyInSnapshot]);
  });

  it('finds English words, as prefixes, in snapshot text and in the metadata’s English names', async () => {
    expect(await found({ q: 'personal data protect' })).toEqual([ids.onlyInSnapshot]);
    expect(await found({ q: 'European Data Protection Board' })).toEqual([ids.edpb]);
  });

  it('filters by jurisdiction, kind and body, alone or with words', async () => {
    expect(await found({ jurisdiction: 'EU' })).toEqual([ids.edpb]);
    expect(await found({ body: '欧洲数据保护委员会' })).toEqual([ids.edpb]);
    expect(await found({ kind: 'industry-news' })).toHaveLength(1);
    expect(await found({ q: '个人信息保护', jurisdiction: 'GB' })).toEqual([ids.onlyInSnapshot]);
    expect(await found({ q: '不存在的词语' })).toEqual([]);
  });

  it('serves the search on the archive page, escaped, with the legal line', async () => {
    const app = Fastify();
    await app.register(archiveRoutes, { ctx: { db, env, log: silentLogger } });
    const res = await app.inject({ url: '/archive', query: { q: '个人信息保护' } });
    expect(res.body).toContain('找到 2 条');
    expect(res.body).toContain(`/archive/${ids.july}#item-${ids.law}`);
    expect(res.body).toContain('中国 · 全国人民代表大会常务委员会 · 2025-07-01 发布');
    const hostile = await app.inject({ url: '/archive', query: { q: '"><script>' } });
    expect(hostile.body).not.toContain('"><script>');
    await app.close();
  });
});
