import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Locale, Publication } from '../../../db/schema.js';
import { getPublication } from '../../../publication/publication.js';
import {
  SENDER_TOKEN_SECONDS,
  senderState,
  senderVerificationToken,
  verifySender,
} from '../../../publication/sender.js';
import { escapeHtml } from '../../../rendering/escape.js';
import { TokenError } from '../../../security/tokens.js';
import { ADMIN_ROUTE, publicAccess } from '../../auth/access.js';
import type { WebDeps } from '../deps.js';
import { requestLocale, sendAdminPage, setFlash } from '../respond.js';
import { defineStrings, interpolate } from '../strings.js';
import { field } from './subscribers/form.js';

/**
 * The publication's sender, verified by a link mailed to it (src/publication/sender.ts): the
 * settings and first-run pages show its state and send the message; the link lands here.
 */
export const SENDER_STRINGS = defineStrings({
  'zh-CN': {
    senderLocal: '尚未设置发件地址：本机地址（如 newsletter@localhost）发出的邮件没有读者能收到。',
    senderUnverified: '发件地址 {email} 尚未验证：请打开发到该邮箱的验证邮件中的链接。',
    senderVerified: '发件地址 {email} 已验证。',
    senderResend: '重新发送验证邮件',
    senderMailed: '已向 {email} 发送验证邮件，请打开其中的链接。',
    senderMailFailed: '验证邮件未能发出：{message}',
    senderLocalRefused: '“{email}”是本机地址，读者收不到从这里发出的邮件：请填写刊物真实的发件地址。',
    senderFromPlaceholder: '例如 newsletter@your-association.org',
    senderMailSubject: '请验证 {publication} 的发件地址',
    senderMailBody:
      '有人在 Gazette 中把 {email} 设为《{publication}》的发件地址。\n\n如果是您，请打开下面的链接完成验证（{days} 天内有效）：\n{link}\n\n如果不是您，忽略这封邮件即可，不会有任何邮件以此地址发出。',
    senderPageTitle: '验证发件地址',
    senderPageVerified: '发件地址 {email} 已验证，可以用它发送期刊了。',
    senderPageOther: '这个链接是为另一个发件地址发的；现在的发件地址是 {email}。请在设置中重新发送验证邮件。',
    senderPageBad: '这个验证链接无效或已过期。请在设置中重新发送验证邮件。',
    senderToSettings: '前往设置',
  },
  en: {
    senderLocal:
      'No sender address yet: mail from a local address (such as newsletter@localhost) reaches no reader.',
    senderUnverified: 'The sender {email} is not verified yet: open the link in the message mailed to it.',
    senderVerified: 'The sender {email} is verified.',
    senderResend: 'Send the verification message again',
    senderMailed: 'A verification message went to {email}: open the link in it.',
    senderMailFailed: 'The verification message could not be sent: {message}',
    senderLocalRefused:
      '“{email}” is a local address: no reader receives mail from it. Give the publication’s real sender address.',
    senderFromPlaceholder: 'e.g. newsletter@your-association.org',
    senderMailSubject: 'Verify the sender address of {publication}',
    senderMailBody:
      'Someone set {email} as the sender address of “{publication}” in Gazette.\n\nIf that was you, open this link to verify it (valid for {days} days):\n{link}\n\nIf not, ignore this message: no mail will go out from this address.',
    senderPageTitle: 'Verify the sender address',
    senderPageVerified: 'The sender {email} is verified: issues can go out from it.',
    senderPageOther:
      'This link was sent for another sender address; the sender is now {email}. Send the verification message again from the settings.',
    senderPageBad: 'This verification link is not valid or has expired. Send a new one from the settings.',
    senderToSettings: 'Go to the settings',
  },
});

type T = (typeof SENDER_STRINGS)['zh-CN'];

/** What the settings and first-run pages say about the sender (pure). */
export function senderView(pub: Publication | undefined, locale: Locale) {
  const t: T = SENDER_STRINGS[locale];
  const state = senderState(pub);
  const email = pub?.from_email ?? '';
  return {
    state,
    // A local address is not shown as if it were a choice: the field starts empty.
    fromEmail: state === 'local' ? '' : email,
    text:
      state === 'local'
        ? t.senderLocal
        : interpolate(state === 'verified' ? t.senderVerified : t.senderUnverified, { email }),
    badge: state === 'verified' ? 'ok' : state === 'local' ? 'bad' : 'warn',
    placeholder: t.senderFromPlaceholder,
    resend: state === 'unverified' ? t.senderResend : null,
  };
}

/**
 * Mails the verification link to the publication's current sender when it needs one; returns the
 * flash (sent, or why not), or null. Never logs the address.
 */
export async function mailSenderVerification(
  deps: WebDeps,
  locale: Locale,
): Promise<{ kind: 'notice' | 'error'; message: string } | null> {
  const { ctx } = deps;
  const t: T = SENDER_STRINGS[locale];
  const pub = await getPublication(ctx.db);
  if (!pub || senderState(pub) !== 'unverified') return null;
  const token = senderVerificationToken(ctx.secrets, pub.from_email, ctx.now());
  const link = `${ctx.env.PUBLIC_URL.replace(/\/+$/, '')}/admin/sender/verify?token=${encodeURIComponent(token)}`;
  const values = { email: pub.from_email, publication: pub.name, link, days: SENDER_TOKEN_SECONDS / 86400 };
  const text = interpolate(t.senderMailBody, values);
  try {
    await deps.sendMail({
      to: pub.from_email,
      subject: interpolate(t.senderMailSubject, values),
      text,
      html: text
        .split('\n\n')
        .map((p) => `<p>${escapeHtml(p).replace(/\n/g, '<br>')}</p>`)
        .join(''),
    });
    ctx.log.info({ event: 'web.sender.verification_mailed' }, 'sender verification mailed');
    return { kind: 'notice', message: interpolate(t.senderMailed, { email: pub.from_email }) };
  } catch (err) {
    ctx.log.warn({ event: 'web.sender.verification_failed', err: (err as Error).message }, 'not mailed');
    return { kind: 'error', message: interpolate(t.senderMailFailed, { message: (err as Error).message }) };
  }
}

/** POST /admin/settings/sender/verify (admins): mail the link again; GET /admin/sender/verify: the link. */
export function registerSenderRoutes(app: FastifyInstance, deps: WebDeps): void {
  const { ctx } = deps;
  app.post('/admin/settings/sender/verify', ADMIN_ROUTE, async (req: FastifyRequest, reply: FastifyReply) => {
    const flash = await mailSenderVerification(deps, await requestLocale(deps, req));
    if (flash) setFlash(reply, flash.kind, flash.message);
    const to = field(req.body, 'back') === 'welcome' ? '/admin/welcome' : '/admin/settings#publication';
    return reply.redirect(to, 303);
  });

  // Opened from the mailbox, perhaps on another device: the signed token is the proof.
  app.get(
    '/admin/sender/verify',
    { config: { access: publicAccess('signed sender-verification token (src/publication/sender.ts)') } },
    async (req, reply) => {
      const locale = await requestLocale(deps, req);
      const t: T = SENDER_STRINGS[locale];
      const token = String((req.query as { token?: unknown }).token ?? '');
      let message: string;
      let ok = false;
      try {
        const outcome = await verifySender(ctx.db, ctx.secrets, token, ctx.now());
        const email = (await getPublication(ctx.db))?.from_email ?? '';
        ok = outcome === 'verified';
        message = interpolate(ok ? t.senderPageVerified : t.senderPageOther, { email });
        ctx.log.info({ event: 'web.sender.verify', outcome }, 'sender verification link opened');
      } catch (err) {
        if (!(err instanceof TokenError)) throw err;
        message = t.senderPageBad;
      }
      return sendAdminPage(deps, req, reply, {
        page: 'sender-verify',
        title: 'senderPageTitle',
        strings: SENDER_STRINGS,
        status: ok ? 200 : 400,
        data: { message, ok },
      });
    },
  );
}
