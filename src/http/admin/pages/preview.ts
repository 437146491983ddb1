import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import type { Locale } from '../../../db/schema.js';
import { loadRenderableIssue } from '../../../issues/load.js';
import { EditorialInputError, IssueNotFoundError } from '../../../issues/store.js';
import { testSend } from '../../../issues/test-send.js';
import type { RenderableIssue } from '../../../rendering/types.js';
import type { WebDeps } from '../deps.js';
import { auditActor, currentUser, requestLocale, sendAdminPage, setFlash } from '../respond.js';
import { stageErrorText } from '../stage-errors.js';
import { defineStrings } from '../strings.js';
import { issueTabs, parseIssueId, sectionName, TAB_STRINGS } from './send-shared.js';

export const PREVIEW_STRINGS = defineStrings({
  'zh-CN': {
    previewTitle: '预览',
    previewIntro: '这是订阅者收到的真实邮件（与发送时相同的模板和编译），按所选栏目和语言生成。',
    previewChoose: '选择栏目和语言',
    previewSections: '栏目',
    previewLocale: '邮件语言',
    previewShow: '更新预览',
    previewNoSections: '请至少选择一个栏目。',
    previewUnknownSection: '本期没有这个栏目：{keys}',
    previewEmptySection: '（本期无条目）',
    previewDesktop: '桌面（600 像素以上）',
    previewPhone: '手机（375 像素）',
    previewFrameTitle: '{width}邮件预览',
    previewSubject: '主题',
    previewSize: 'HTML 大小：{kb} KB（Gmail 超过 102 KB 会截断）',
    previewTooLarge: 'HTML 超过 102 KB，Gmail 会截断邮件。',
    previewText: '纯文本部分',
    previewTestSend: '发送测试邮件给我',
    previewTestSendHint:
      '把以上所选栏目和语言的邮件发到 {email}，标题前加 [TEST]；不计入发送记录，也不跟踪。',
    previewTestSent: '测试邮件已发送到 {email}。',
    previewTestFailed: '测试邮件未能发送：{message}',
    previewRenderFailed: '邮件生成失败：{message}',
    previewOpenFrame: '在新窗口中打开此预览',
    ...TAB_STRINGS['zh-CN'],
    localeZh: '中文',
    localeEn: 'English',
  },
  en: {
    previewTitle: 'Preview',
    previewIntro:
      'The real email a subscriber receives (the same templates and compile as a send), for the sections and language you choose.',
    previewChoose: 'Sections and language',
    previewSections: 'Sections',
    previewLocale: 'Email language',
    previewShow: 'Update preview',
    previewNoSections: 'Choose at least one section.',
    previewUnknownSection: 'This issue has no section {keys}',
    previewEmptySection: '(no items in this issue)',
    previewDesktop: 'Desktop (600 px and wider)',
    previewPhone: 'Phone (375 px)',
    previewFrameTitle: '{width} email preview',
    previewSubject: 'Subject',
    previewSize: 'HTML size: {kb} KB (Gmail clips over 102 KB)',
    previewTooLarge: 'The HTML is over 102 KB: Gmail will clip this email.',
    previewText: 'Plain-text part',
    previewTestSend: 'Send a test to me',
    previewTestSendHint:
      'Sends this choice of sections and language to {email} with [TEST] before the subject; not in the ledger, not tracked.',
    previewTestSent: 'Test sent to {email}.',
    previewTestFailed: 'The test was not sent: {message}',
    previewRenderFailed: 'The email could not be rendered: {message}',
    previewOpenFrame: 'Open this preview in a new window',
    ...TAB_STRINGS.en,
    localeZh: '中文',
    localeEn: 'English',
  },
});

/** Gmail clips an HTML body larger than about 102 KB (the checklist warns about it too). */
const CLIP_BYTES = 102 * 1024;

/**
 * The email inside the preview frames comes from feeds and editors, so it is shown as an opaque,
 * script-less document: the CSP sandbox (and the iframe's sandbox attribute) give it no origin,
 * no scripts, no forms; only images and inline styles load. Links open outside the frame.
 */
export const PREVIEW_CSP = [
  "default-src 'none'",
  'img-src https: http: data:',
  "style-src 'unsafe-inline'",
  'font-src data:',
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'self'",
  'sandbox allow-popups allow-popups-to-escape-sandbox',
].join('; ');

export interface PreviewChoice {
  sectionKeys: string[];
  locale: Locale;
  /** Keys asked for that the issue does not have. */
  unknown: string[];
  /** True when the request named no sections: all are shown. */
  defaulted: boolean;
}

/**
 * Reads ?sections= (repeated, or comma separated) and ?locale= (pure). No sections named means
 * every section of the issue, in the issue's order; chosen keys are put in the issue's order too,
 * so the same choice always names the same variant.
 */
export function previewChoice(
  query: Record<string, unknown>,
  issueSections: string[],
  issueLocale: Locale,
): PreviewChoice {
  const raw = query.sections;
  const given = (Array.isArray(raw) ? raw : raw === undefined ? [] : [raw])
    .flatMap((v) => String(v).split(','))
    .map((k) => k.trim())
    .filter(Boolean);
  const locale: Locale = query.locale === 'en' || query.locale === 'zh-CN' ? query.locale : issueLocale;
  const defaulted = raw === undefined;
  const chosen = defaulted ? issueSections : issueSections.filter((k) => given.includes(k));
  const unknown = [...new Set(given.filter((k) => !issueSections.includes(k)))];
  return { sectionKeys: chosen, locale, unknown, defaulted };
}

export function previewQuery(choice: Pick<PreviewChoice, 'sectionKeys' | 'locale'>): string {
  const q = new URLSearchParams({ sections: choice.sectionKeys.join(','), locale: choice.locale });
  return q.toString();
}

const field = (body: unknown, name: string): string[] => {
  const v = (body as Record<string, unknown> | undefined)?.[name];
  if (Array.isArray(v)) return v.map(String);
  return typeof v === 'string' ? [v] : [];
};

/**
 * GET /admin/issues/:id/preview: the real rendered email for a choice of sections and locale at
 * desktop and phone widths, its plain-text part, and "send a test to me".
 */
export function previewPages(deps: WebDeps): FastifyPluginAsync {
  const { ctx } = deps;

  async function load(req: FastifyRequest, reply: FastifyReply): Promise<RenderableIssue | null> {
    const id = parseIssueId((req.params as { id: string }).id);
    if (id === null) {
      reply.callNotFound();
      return null;
    }
    try {
      return await loadRenderableIssue(ctx.db, id);
    } catch (err) {
      if (err instanceof IssueNotFoundError) {
        reply.callNotFound();
        return null;
      }
      throw err;
    }
  }

  return async (app) => {
    app.get('/admin/issues/:id/preview', async (req, reply) => {
      const issue = await load(req, reply);
      if (!issue) return reply;
      const keys = issue.sections.map((s) => s.key);
      const choice = previewChoice(req.query as Record<string, unknown>, keys, issue.locale);
      const pageLocale = await requestLocale(deps, req);
      const t = PREVIEW_STRINGS[pageLocale];
      let rendered: { subject: string; html: string; text: string } | null = null;
      let renderError: string | null = null;
      if (choice.sectionKeys.length) {
        try {
          rendered = await deps.render(issue, choice.sectionKeys, choice.locale);
        } catch (err) {
          renderError = err instanceof Error ? err.message : String(err);
          ctx.log.warn({ event: 'web.preview.render_failed', issueId: issue.id }, 'preview render failed');
        }
      }
      const htmlBytes = rendered ? Buffer.byteLength(rendered.html, 'utf8') : 0;
      const query = previewQuery(choice);
      return sendAdminPage(deps, req, reply, {
        page: 'preview-issue',
        title: 'previewTitle',
        strings: PREVIEW_STRINGS,
        data: {
          issue: { id: issue.id, title: issue.title, period: issue.period, revision: issue.revision },
          tabs: issueTabs(issue.id, 'preview', t),
          sections: issue.sections.map((s) => ({
            key: s.key,
            name: sectionName(s.names, pageLocale, s.key),
            empty: s.items.length === 0,
            count: s.items.length,
            checked: choice.sectionKeys.includes(s.key),
          })),
          locales: [
            { value: 'zh-CN', label: t.localeZh, selected: choice.locale === 'zh-CN' },
            { value: 'en', label: t.localeEn, selected: choice.locale === 'en' },
          ],
          choice,
          noSections: choice.sectionKeys.length === 0,
          unknown: choice.unknown.join(', '),
          frameUrl: `/admin/issues/${issue.id}/preview/html?${query}`,
          query,
          rendered,
          renderError,
          htmlKb: (htmlBytes / 1024).toFixed(1),
          tooLarge: htmlBytes > CLIP_BYTES,
          me: currentUser(req).email,
        },
      });
    });

    // The email alone, for the preview frames (and "open in a new window").
    app.get('/admin/issues/:id/preview/html', async (req, reply) => {
      const issue = await load(req, reply);
      if (!issue) return reply;
      const keys = issue.sections.map((s) => s.key);
      const choice = previewChoice(req.query as Record<string, unknown>, keys, issue.locale);
      if (!choice.sectionKeys.length || choice.unknown.length)
        return reply.code(400).type('text/plain; charset=utf-8').send('no such choice of sections');
      const rendered = await deps.render(issue, choice.sectionKeys, choice.locale);
      return (
        reply
          .header('content-security-policy', PREVIEW_CSP)
          // Framed by the preview page itself (frame-ancestors 'self' above), by no other page.
          .header('x-frame-options', 'SAMEORIGIN')
          .header('x-content-type-options', 'nosniff')
          .header('referrer-policy', 'no-referrer')
          .header('cache-control', 'private, no-store')
          .type('text/html; charset=utf-8')
          .send(rendered.html)
      );
    });

    // "Send a test to me": the signed-in user's own address only, around the ledger.
    app.post('/admin/issues/:id/preview/test-send', async (req, reply) => {
      const issue = await load(req, reply);
      if (!issue) return reply;
      const keys = issue.sections.map((s) => s.key);
      const body = req.body as Record<string, unknown> | undefined;
      const choice = previewChoice(
        { sections: field(body, 'sections'), locale: field(body, 'locale')[0] },
        keys,
        issue.locale,
      );
      const user = currentUser(req);
      const locale = await requestLocale(deps, req);
      const t = PREVIEW_STRINGS[locale];
      const back = `/admin/issues/${issue.id}/preview?${previewQuery(choice)}`;
      if (!choice.sectionKeys.length) {
        setFlash(reply, 'error', t.previewNoSections);
        return reply.redirect(back, 303);
      }
      try {
        await testSend(
          {
            db: ctx.db,
            log: ctx.log,
            env: ctx.env,
            now: ctx.now,
            render: deps.render,
            sendMail: async (msg) => {
              await deps.sendMail(msg);
            },
          },
          issue.id,
          [user.email],
          { sectionKeys: choice.sectionKeys, locale: choice.locale, actor: auditActor(req) },
        );
        setFlash(reply, 'notice', t.previewTestSent.replace('{email}', user.email));
      } catch (err) {
        const message = stageErrorText(locale, err);
        if (!(err instanceof EditorialInputError))
          ctx.log.error(
            { event: 'web.preview.test_send_failed', issueId: issue.id, err: (err as Error).name },
            'test send failed',
          );
        setFlash(reply, 'error', t.previewTestFailed.replace('{message}', message));
      }
      return reply.redirect(back, 303);
    });
  };
}
