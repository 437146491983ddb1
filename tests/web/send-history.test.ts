import { describe, expect, it } from 'vitest';
import { historyRows } from '../../src/http/admin/pages/send-history.js';

const at = (iso: string) => new Date(iso);

describe('the send page history (pure)', () => {
  const entries = [
    { action: 'import', actor: 'user:chief@committee.example', at: at('2025-07-28T02:00:00Z'), detail: {} },
    {
      action: 'update-item',
      actor: 'user:chief@committee.example',
      at: at('2025-07-28T02:05:00Z'),
      detail: {},
    },
    {
      action: 'approve',
      actor: 'user:chief@committee.example',
      at: at('2025-07-29T01:00:00Z'),
      detail: '{}',
    },
    {
      action: 'schedule',
      actor: 'user:chief@committee.example',
      at: at('2025-07-29T01:01:00Z'),
      detail: { at: '2025-08-01T01:00:00.000Z', tz: 'Asia/Shanghai' },
    },
    { action: 'start-sending', actor: 'system', at: at('2025-08-01T01:00:02Z'), detail: {} },
    { action: 'pause', actor: 'system', at: at('2025-08-01T01:03:00Z'), detail: { reason: 'failure_rate' } },
    { action: 'cancel', actor: 'ops', at: at('2025-08-01T01:10:00Z'), detail: { skipped: 812 } },
  ];

  it('lists the lifecycle and delivery moves newest first, in the publication zone, without item edits', () => {
    expect(historyRows(entries, 'zh-CN', 'Asia/Shanghai')).toEqual([
      { when: '2025-08-01 09:10', who: 'ops', what: '取消（812 封未发送）' },
      { when: '2025-08-01 09:03', who: '系统', what: '暂停（失败率超过阈值）' },
      { when: '2025-08-01 09:00', who: '系统', what: '开始发送' },
      { when: '2025-07-29 09:01', who: 'chief@committee.example', what: '排期：2025-08-01 09:00' },
      { when: '2025-07-29 09:00', who: 'chief@committee.example', what: '审核通过' },
      { when: '2025-07-28 10:00', who: 'chief@committee.example', what: '导入文档' },
    ]);
  });

  it('speaks English, keeps an unknown pause reason as it is, and keeps only the newest entries', () => {
    const rows = historyRows(
      [
        ...entries,
        {
          action: 'pause',
          actor: 'system',
          at: at('2025-08-01T02:00:00Z'),
          detail: { reason: 'smtp_quota' },
        },
      ],
      'en',
      'UTC',
      2,
    );
    expect(rows).toEqual([
      { when: '2025-08-01 02:00', who: 'System', what: 'Paused (smtp_quota)' },
      { when: '2025-08-01 01:10', who: 'ops', what: 'Cancelled (812 not sent)' },
    ]);
  });
});
