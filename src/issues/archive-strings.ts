import type { Locale } from '../db/schema.js';
import { interpolate } from '../http/admin/strings.js';

/** Every fixed word of the public archive pages, in both locales. */
export const ARCHIVE_STRINGS: Record<Locale, Record<string, string>> = {
  'zh-CN': {
    search: '搜索',
    searchLabel: '在历期资讯中搜索（标题、摘要、法律信息、原文存档）',
    jurisdiction: '法域',
    kind: '类型',
    body: '发布机关',
    any: '全部',
    results: '找到 {count} 条',
    noResults: '没有找到匹配的条目。',
    issues: '历期资讯',
    sourceDead: '原文已失效，查看存档',
    archivedBanner: '这是 Gazette 于 {date} 保存的存档副本，不是原网页；原文可能已经修改或失效。',
    originalTitle: '原标题',
    originalUrl: '原网址',
    fetchedAt: '存档时间',
    pdfCopy: '存档的 PDF 文件',
    noContent: '这个来源没有可显示的存档内容。',
    deadSince: '{date} 起失效',
  },
  en: {
    search: 'Search',
    searchLabel: 'Search every past issue (titles, summaries, legal metadata, archived sources)',
    jurisdiction: 'Jurisdiction',
    kind: 'Kind',
    body: 'Issuing body',
    any: 'Any',
    results: '{count} found',
    noResults: 'No matching items.',
    issues: 'Past issues',
    sourceDead: 'The original is gone; view the archived copy',
    archivedBanner:
      'This is an archived copy Gazette kept on {date}, not the original page, which may have changed or gone.',
    originalTitle: 'Original title',
    originalUrl: 'Original URL',
    fetchedAt: 'Archived',
    pdfCopy: 'The archived PDF',
    noContent: 'There is no archived content to show for this source.',
    deadSince: 'gone since {date}',
  },
};

export function archiveText(
  locale: Locale,
  key: string,
  params: Record<string, string | number> = {},
): string {
  return interpolate(ARCHIVE_STRINGS[locale][key] ?? ARCHIVE_STRINGS.en[key] ?? key, params);
}
