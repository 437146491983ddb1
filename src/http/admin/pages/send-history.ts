import { DateTime } from 'luxon';
import type { Locale } from '../../../db/schema.js';
import { defineStrings, interpolate } from '../strings.js';

/**
 * The send page's history: who approved, scheduled, started, paused, resumed or cancelled the
 * issue and when — the lifecycle and delivery entries of its audit log, newest first. Item edits
 * stay on the editor page; they would drown these.
 */

export const HISTORY_ACTIONS = [
  'import',
  'assemble',
  'approve',
  'schedule',
  'reschedule',
  'unschedule',
  'test-send',
  'start-sending',
  'pause',
  'resume',
  'cancel',
  'fail',
  'resend-unknown',
] as const;
type Shown = (typeof HISTORY_ACTIONS)[number];

export const HISTORY_STRINGS = defineStrings({
  'zh-CN': {
    historyTitle: '记录',
    historyEmpty: '还没有审核或发送记录。',
    historyWhen: '时间',
    historyWho: '操作者',
    historyWhat: '操作',
    historySystem: '系统',
    'hist-import': '导入文档',
    'hist-assemble': '汇编草稿',
    'hist-approve': '审核通过',
    'hist-schedule': '排期：{at}',
    'hist-reschedule': '更改发送时间：{at}',
    'hist-unschedule': '取消排期',
    'hist-test-send': '发送测试邮件',
    'hist-start-sending': '开始发送',
    'hist-send-now': '立即发送',
    'hist-finish': '发送完成',
    'hist-pause': '暂停（{reason}）',
    'hist-resume': '继续发送',
    'hist-cancel': '取消（{n} 封未发送）',
    'hist-fail': '发送失败：{reason}',
    'hist-resend-unknown': '重新发送 {n} 封状态不明的邮件',
    reasonOperator: '手动',
    reasonFailureRate: '失败率超过阈值',
    reasonAuth: 'SMTP 服务器拒绝登录',
    reasonTls: 'TLS 连接出错',
  },
  en: {
    historyTitle: 'History',
    historyEmpty: 'Nothing approved or sent yet.',
    historyWhen: 'When',
    historyWho: 'Who',
    historyWhat: 'What',
    historySystem: 'System',
    'hist-import': 'Imported the document',
    'hist-assemble': 'Assembled the draft',
    'hist-approve': 'Approved',
    'hist-schedule': 'Scheduled for {at}',
    'hist-reschedule': 'Rescheduled for {at}',
    'hist-unschedule': 'Unscheduled',
    'hist-test-send': 'Sent a test',
    'hist-start-sending': 'Started sending',
    'hist-send-now': 'Sent now',
    'hist-finish': 'Finished sending',
    'hist-pause': 'Paused ({reason})',
    'hist-resume': 'Resumed',
    'hist-cancel': 'Cancelled ({n} not sent)',
    'hist-fail': 'Failed: {reason}',
    'hist-resend-unknown': 'Queued {n} unknown messages again',
    reasonOperator: 'by hand',
    reasonFailureRate: 'failure rate over the threshold',
    reasonAuth: 'the SMTP server refused the login',
    reasonTls: 'TLS error',
  },
});

const REASONS: Record<string, keyof (typeof HISTORY_STRINGS)['en']> = {
  operator: 'reasonOperator',
  failure_rate: 'reasonFailureRate',
  smtp_auth: 'reasonAuth',
  smtp_tls: 'reasonTls',
};

export interface AuditEntry {
  action: string;
  actor: string;
  at: Date;
  detail: unknown;
}

export interface HistoryRow {
  when: string;
  who: string;
  what: string;
}

/**
 * The history rows for the send page (pure), from entries oldest first: newest first, at most
 * `limit`. A sent issue's finish (the ledger's last row answered: `sentAt`) ends the history.
 */
export function historyRows(
  entries: AuditEntry[],
  locale: Locale,
  tz: string,
  limit = 30,
  sentAt: Date | null = null,
): HistoryRow[] {
  const t = HISTORY_STRINGS[locale];
  const time = (d: Date | string) =>
    DateTime.fromJSDate(new Date(d), { zone: tz }).toFormat('yyyy-MM-dd HH:mm');
  const finish: AuditEntry[] =
    sentAt && !entries.some((e) => e.action === 'finish')
      ? [{ action: 'finish', actor: 'system', at: sentAt, detail: {} }]
      : [];
  return [...entries, ...finish]
    .filter(
      (e): e is AuditEntry & { action: Shown | 'finish' } =>
        e.action === 'finish' || (HISTORY_ACTIONS as readonly string[]).includes(e.action),
    )
    .slice(-limit)
    .reverse()
    .map((e) => {
      const d = (typeof e.detail === 'string' ? JSON.parse(e.detail) : (e.detail ?? {})) as Record<
        string,
        unknown
      >;
      const reason = typeof d.reason === 'string' ? d.reason : '';
      const key = REASONS[reason];
      return {
        when: time(e.at),
        who: e.actor === 'system' ? t.historySystem : e.actor.replace(/^user:/, ''),
        // "Send now" is the editor's own start (detail.now), not a schedule for this minute.
        what: interpolate(
          t[e.action === 'start-sending' && d.now === true ? 'hist-send-now' : (`hist-${e.action}` as const)],
          {
            at: typeof d.at === 'string' ? time(d.at) : '',
            reason: key ? t[key] : reason,
            n: d.skipped ?? d.rows ?? 0,
          },
        ),
      };
    });
}
