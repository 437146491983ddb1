import type { IssueState, Locale } from '../../db/schema.js';

/** What each issue state is called on every page that shows one (list, editor, send, statistics). */
const LABELS: Record<Locale, Record<IssueState, string>> = {
  'zh-CN': {
    draft: '草稿',
    approved: '已审核',
    scheduled: '已排期',
    sending: '发送中',
    paused: '已暂停',
    sent: '已发送',
    cancelled: '已取消',
    failed: '失败',
  },
  en: {
    draft: 'Draft',
    approved: 'Approved',
    scheduled: 'Scheduled',
    sending: 'Sending',
    paused: 'Paused',
    sent: 'Sent',
    cancelled: 'Cancelled',
    failed: 'Failed',
  },
};

export function issueStateLabel(locale: Locale, state: string): string {
  return LABELS[locale][state as IssueState] ?? state;
}
