import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getOrCompileVariant, variantKey } from '../../src/rendering/index.js';
import type { RenderableIssue } from '../../src/rendering/types.js';
import { loadModelIssue } from '../support/model-issue.js';
import { MODEL_DOCUMENT, sharedFixture } from '../support/shared.js';
import { createTestDatabase, type TestDatabase } from '../support/test-db.js';
import { PUBLIC_URL } from './fixtures.js';

const modelDocument = sharedFixture(MODEL_DOCUMENT);
let t: TestDatabase;
let issue: RenderableIssue;

beforeAll(async () => {
  t = await createTestDatabase();
  const row = await t.db
    .insertInto('issues')
    .values({ period: '2025-07', title: 'model' })
    .returning(['id', 'revision'])
    .executeTakeFirstOrThrow();
  issue = { ...loadModelIssue(), id: row.id, revision: row.revision };
});

afterAll(async () => {
  await t?.drop();
});

describe.skipIf(!modelDocument.present)('variant cache in issue_variants', () => {
  it('compiles a variant once per (issue, revision, section set, locale) and reads it back after', async () => {
    const opts = { sectionKeys: ['industry', 'cases'], locale: 'zh-CN' as const, publicUrl: PUBLIC_URL };
    const first = await getOrCompileVariant(t.db, issue, opts);
    const again = await getOrCompileVariant(t.db, issue, { ...opts, sectionKeys: ['cases', 'industry'] });
    expect(again).toEqual(first);
    const rows = await t.db
      .selectFrom('issue_variants')
      .selectAll()
      .where('issue_id', '=', issue.id)
      .execute();
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({
      revision: issue.revision,
      variant_key: variantKey(['cases', 'industry'], 'zh-CN'),
      section_keys: ['cases', 'industry'],
      html_bytes: first.htmlBytes,
    });
  });

  it('stores one row when many callers ask for the same variant at once', async () => {
    const opts = { sectionKeys: ['domestic'], locale: 'en' as const, publicUrl: PUBLIC_URL };
    const results = await Promise.all([1, 2, 3, 4].map(() => getOrCompileVariant(t.db, issue, opts)));
    for (const r of results) expect(r.html).toBe(results[0]?.html);
    const rows = await t.db
      .selectFrom('issue_variants')
      .select('id')
      .where('variant_key', '=', variantKey(['domestic'], 'en'))
      .execute();
    expect(rows).toHaveLength(1);
  });

  it('compiles afresh for a new revision', async () => {
    const opts = { sectionKeys: ['domestic'], locale: 'zh-CN' as const, publicUrl: PUBLIC_URL };
    const r1 = await getOrCompileVariant(t.db, issue, opts);
    const edited = { ...issue, revision: issue.revision + 1, title: '修订后的标题' };
    const r2 = await getOrCompileVariant(t.db, edited, opts);
    expect(r1.html).not.toContain('修订后的标题');
    expect(r2.html).toContain('修订后的标题');
    expect(r2.variantKey).toBe(r1.variantKey);
  });
});
