import type { LocalizedText } from '../db/schema.js';

/** The model newsletter's four sections (reference/sample-issue-2025-07.md), in its order. */
export const MODEL_SECTIONS: readonly { key: string; position: number; names: LocalizedText }[] = [
  { key: 'domestic-regulation', position: 1, names: { 'zh-CN': '新规概览', en: 'Domestic regulation' } },
  { key: 'foreign-regulation', position: 2, names: { 'zh-CN': '域外规范', en: 'Foreign regulation' } },
  { key: 'case-studies', position: 3, names: { 'zh-CN': '案例研讨', en: 'Case studies' } },
  { key: 'industry-news', position: 4, names: { 'zh-CN': '行业动态', en: 'Industry news' } },
];
