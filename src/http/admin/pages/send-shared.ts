import type { Locale, LocalizedText } from '../../../db/schema.js';

/**
 * Bits the preview, send and statistics pages share: the issue's tab bar (edit, preview, send,
 * statistics) and reading an issue id from the path.
 */
export const TAB_STRINGS = {
  'zh-CN': {
    tabsLabel: '本期页面',
    tabEdit: '编辑',
    tabPreview: '预览',
    tabSend: '审核与发送',
    tabStats: '统计',
  },
  en: {
    tabsLabel: 'Pages of this issue',
    tabEdit: 'Edit',
    tabPreview: 'Preview',
    tabSend: 'Approve & send',
    tabStats: 'Statistics',
  },
} as const;

export type IssueTab = 'edit' | 'preview' | 'send' | 'stats';

export function issueTabs(issueId: number, current: IssueTab, t: Record<string, string>) {
  const base = `/admin/issues/${issueId}`;
  return {
    label: t.tabsLabel,
    items: [
      { href: base, label: t.tabEdit, current: current === 'edit' },
      { href: `${base}/preview`, label: t.tabPreview, current: current === 'preview' },
      { href: `${base}/send`, label: t.tabSend, current: current === 'send' },
      { href: `${base}/stats`, label: t.tabStats, current: current === 'stats' },
    ],
  };
}

/** A positive integer id from the path, or null (the page answers 404). */
export function parseIssueId(value: string | undefined): number | null {
  if (!value || !/^\d{1,12}$/.test(value)) return null;
  const n = Number(value);
  return Number.isSafeInteger(n) && n > 0 ? n : null;
}

/** A section's name in the page's language, then the other one, then its key. */
export function sectionName(names: LocalizedText | null | undefined, locale: Locale, key: string): string {
  return names?.[locale] ?? names?.['zh-CN'] ?? names?.en ?? key;
}
