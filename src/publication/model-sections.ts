import type { Db, LocalizedText } from '../db/schema.js';

/** The model newsletter's four sections (reference/sample-issue-2025-07.md), in its order. */
export const MODEL_SECTIONS: readonly { key: string; position: number; names: LocalizedText }[] = [
  { key: 'domestic-regulation', position: 1, names: { 'zh-CN': '新规概览', en: 'Domestic regulation' } },
  { key: 'foreign-regulation', position: 2, names: { 'zh-CN': '域外规范', en: 'Foreign regulation' } },
  { key: 'case-studies', position: 3, names: { 'zh-CN': '案例研讨', en: 'Case studies' } },
  { key: 'industry-news', position: 4, names: { 'zh-CN': '行业动态', en: 'Industry news' } },
];

/**
 * Gives a publication without sections the model's four (a fresh install); one with any section
 * keeps its own. Returns whether it seeded.
 */
export async function seedModelSections(db: Db): Promise<boolean> {
  const any = await db.selectFrom('sections').select('id').limit(1).executeTakeFirst();
  if (any) return false;
  await db
    .insertInto('sections')
    .values(MODEL_SECTIONS.map((s) => ({ key: s.key, position: s.position, names: JSON.stringify(s.names) })))
    .onConflict((oc) => oc.column('key').doNothing())
    .execute();
  return true;
}
