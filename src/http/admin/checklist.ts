import type { Locale } from '../../db/schema.js';
import type { Checklist } from '../../issues/check.js';
import { defineStrings, interpolate } from './strings.js';

/**
 * The pre-send checklist in the editor's language: one wording, used by the editor page (and its
 * live refresh) and the send page alike. The stage reports each finding as a code with figures
 * (src/issues/check.ts); every code has a sentence here in both languages.
 */
export const CHECKLIST_STRINGS = defineStrings({
  'zh-CN': {
    checkPass: '通过',
    checkWarn: '注意',
    checkFail: '未通过',
    checkSkipped: '未检查',
    'label.sender': '发件人已验证',
    'label.postal-address': '页脚有通信地址',
    'label.empty-issue': '本期有条目',
    'label.empty-sections': '每个栏目都有条目',
    'label.items-without-summary': '每条都有内容摘要',
    'label.items-without-source': '每条都有来源',
    'label.duplicate-items': '没有重复的标题或来源',
    'label.subject-length': '邮件主题长度',
    'label.preheader-length': '预览摘要长度',
    'label.variant-html-size': '邮件大小（Gmail 约 102 KB 会截断）',
    'label.template-errors': '各栏目组合都能生成邮件',
    'label.source-links': '来源链接可访问',
    'sender.local': '发件地址 {email} 是本机地址，任何读者都收不到：请在设置中填写真实的发件地址并验证。',
    'sender.unverified': '发件地址 {email} 尚未验证：请打开发到该邮箱的验证链接（设置 › 刊物）。',
    'sender.verified': '发件地址 {email} 已验证。',
    'postal-address.missing': '未填写通信地址：每封邮件的页脚都应写明（设置 › 刊物）。',
    'postal-address.present': '每封邮件的页脚都有通信地址。',
    'empty-issue.none': '本期没有任何条目。',
    'empty-issue.count': '共 {n} 条。',
    'empty-sections.some': '{n} 个栏目没有条目。',
    'empty-sections.none': '每个栏目都有条目。',
    'items-without-summary.some': '{n} 条没有内容摘要。',
    'items-without-summary.none': '每条都有内容摘要。',
    'items-without-source.some': '{n} 条没有来源。',
    'items-without-source.none': '每条都有来源。',
    'duplicate-items.some': '{n} 处标题或来源重复。',
    'duplicate-items.none': '没有重复。',
    'subject-length.empty': '本期没有邮件主题。',
    'subject-length.width': '显示宽度 {width}（上限 {limit}，一个汉字按两个计）。',
    'preheader-length.empty': '未填写预览摘要：收件箱会显示邮件正文开头的文字。',
    'preheader-length.width': '显示宽度 {width}（上限 {limit}）。',
    'variant-html-size.largest': '最大的一种组合 {kb} KB（上限 {limitKb} KB）。',
    'variant-html-size.over': '{total} 种栏目组合中有 {over} 种超过 Gmail 的截断上限（{limitKb} KB）。',
    'variant-html-size.no-renderer': '未检查（没有可用的渲染器）。',
    'template-errors.rendered': '{n} 种栏目组合都能生成。',
    'template-errors.failed': '{n} 种栏目组合生成失败。',
    'template-errors.no-renderer': '未检查（没有可用的渲染器）。',
    'source-links.not-requested': '本次未检查来源链接（可点“重新检查（含来源链接）”）。',
    'source-links.failed': '{checked} 个链接中有 {failed} 个打不开。',
  },
  en: {
    checkPass: 'Pass',
    checkWarn: 'Warning',
    checkFail: 'Failed',
    checkSkipped: 'Not checked',
    'label.sender': 'The sender is verified',
    'label.postal-address': 'The footer has a postal address',
    'label.empty-issue': 'The issue has items',
    'label.empty-sections': 'Every section has items',
    'label.items-without-summary': 'Every item has a summary',
    'label.items-without-source': 'Every item has a source',
    'label.duplicate-items': 'No duplicate titles or sources',
    'label.subject-length': 'Subject length',
    'label.preheader-length': 'Preheader length',
    'label.variant-html-size': 'Email size (Gmail clips at about 102 KB)',
    'label.template-errors': 'Every choice of sections renders',
    'label.source-links': 'Source links open',
    'sender.local':
      'The sender {email} is a local address that reaches no reader: set a real sender in the settings and verify it.',
    'sender.unverified':
      'The sender {email} is not verified yet: open the link mailed to it (Settings › Publication).',
    'sender.verified': 'The sender {email} is verified.',
    'postal-address.missing':
      'No postal address: every message’s footer should carry one (Settings › Publication).',
    'postal-address.present': 'Every message’s footer carries the postal address.',
    'empty-issue.none': 'The issue has no items.',
    'empty-issue.count': '{n} items.',
    'empty-sections.some': '{n} section(s) without items.',
    'empty-sections.none': 'Every section has items.',
    'items-without-summary.some': '{n} item(s) without a summary.',
    'items-without-summary.none': 'Every item has a summary.',
    'items-without-source.some': '{n} item(s) without a source.',
    'items-without-source.none': 'Every item has a source.',
    'duplicate-items.some': '{n} duplicate title(s) or source(s).',
    'duplicate-items.none': 'No duplicates.',
    'subject-length.empty': 'The issue has no subject.',
    'subject-length.width': 'Display width {width} (limit {limit}; a CJK character counts as two).',
    'preheader-length.empty': 'No preheader: inboxes will show the first text of the email instead.',
    'preheader-length.width': 'Display width {width} (limit {limit}).',
    'variant-html-size.largest': 'The largest choice of sections is {kb} KB (limit {limitKb} KB).',
    'variant-html-size.over':
      '{over} of {total} choices of sections exceed Gmail’s clipping limit ({limitKb} KB).',
    'variant-html-size.no-renderer': 'Not checked (no renderer available).',
    'template-errors.rendered': 'All {n} choices of sections render.',
    'template-errors.failed': '{n} choice(s) of sections failed to render.',
    'template-errors.no-renderer': 'Not checked (no renderer available).',
    'source-links.not-requested': 'Source links not checked this time (use “Check again, source links too”).',
    'source-links.failed': '{failed} of {checked} link(s) failed to load.',
  },
});

export interface ChecklistView {
  ok: boolean;
  revision: number;
  checks: {
    id: string;
    label: string;
    status: string;
    statusLabel: string;
    /** The stylesheet's badge class for the status. */
    badge: string;
    message: string;
    /** Items the finding is about (linked to on the editor page). */
    items: { id: number; title: string }[];
  }[];
}

const STATUS_KEY = {
  pass: 'checkPass',
  warn: 'checkWarn',
  fail: 'checkFail',
  skipped: 'checkSkipped',
} as const;
const BADGE: Record<string, string> = { pass: 'ok', warn: 'warn', fail: 'bad', skipped: '' };

const kb = (bytes: unknown) => (Number(bytes) / 1024).toFixed(1);

/** The stage's checklist, worded in the editor's language (pure). */
export function checklistView(list: Checklist, locale: Locale): ChecklistView {
  const t = CHECKLIST_STRINGS[locale] as Record<string, string>;
  return {
    ok: list.ok,
    revision: list.revision,
    checks: list.checks.map((c) => {
      const params = {
        ...c.params,
        ...('bytes' in c.params ? { kb: kb(c.params.bytes) } : {}),
        ...('limit' in c.params ? { limitKb: kb(c.params.limit) } : {}),
      };
      const sentence = t[c.code];
      return {
        id: c.id,
        label: t[`label.${c.id}`] ?? c.id,
        status: c.status,
        statusLabel: t[STATUS_KEY[c.status]] ?? c.status,
        badge: BADGE[c.status] ?? '',
        // A code without a sentence (a check added later) still says something: the stage's own.
        message: sentence ? interpolate(sentence, params) : c.message,
        items: (c.details ?? []).filter(
          (d): d is { id: number; title: string } =>
            !!d && typeof d === 'object' && typeof (d as { id?: unknown }).id === 'number' && 'title' in d,
        ),
      };
    }),
  };
}
