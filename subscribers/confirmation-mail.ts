import type { Locale } from '../src/db/schema.js';
import { escapeHtml } from '../src/rendering/escape.js';

const TEXT = {
  'zh-CN': {
    confirmSubject: (p: string) => `请确认订阅《${p}》`,
    confirmBody: (p: string, hours: number) =>
      `您好！有人（希望是您）用这个邮箱地址订阅了《${p}》。请点击下面的链接确认订阅，链接在 ${hours} 小时内有效：`,
    confirmIgnore: '如果不是您本人操作，请忽略此邮件，您不会收到任何后续邮件。',
    confirmButton: '确认订阅',
    alreadySubject: (p: string) => `您已订阅《${p}》`,
    alreadyBody: (p: string) =>
      `您好！这个邮箱地址已经订阅了《${p}》。如需更改栏目、称呼或语言，请访问偏好设置：`,
    alreadyButton: '偏好设置',
  },
  en: {
    confirmSubject: (p: string) => `Please confirm your subscription to ${p}`,
    confirmBody: (p: string, hours: number) =>
      `Hello! Someone (hopefully you) subscribed this address to ${p}. Please confirm with the link below; it works for ${hours} hours:`,
    confirmIgnore: 'If this was not you, ignore this message and you will hear nothing more from us.',
    confirmButton: 'Confirm subscription',
    alreadySubject: (p: string) => `You are already subscribed to ${p}`,
    alreadyBody: (p: string) =>
      `Hello! This address is already subscribed to ${p}. To change sections, name or language, open your preferences:`,
    alreadyButton: 'Preferences',
  },
} as const;

function layout(paragraphs: string[], url: string, button: string): string {
  return `<!doctype html><html><body style="font-family:sans-serif;line-height:1.6;color:#222">${paragraphs
    .map((p) => `<p>${escapeHtml(p)}</p>`)
    .join(
      '',
    )}<p><a href="${escapeHtml(url)}" style="display:inline-block;padding:10px 18px;background:#1a56db;color:#fff;text-decoration:none;border-radius:4px">${escapeHtml(button)}</a></p><p style="font-size:12px;color:#666">${escapeHtml(url)}</p></body></html>`;
}

export function confirmationMail(locale: Locale, publication: string, confirmUrl: string, hours: number) {
  const t = TEXT[locale];
  return {
    subject: t.confirmSubject(publication),
    text: `${t.confirmBody(publication, hours)}\n\n${confirmUrl}\n\n${t.confirmIgnore}\n`,
    html: layout([t.confirmBody(publication, hours), t.confirmIgnore], confirmUrl, t.confirmButton),
  };
}

export function alreadySubscribedMail(locale: Locale, publication: string, preferencesUrl: string) {
  const t = TEXT[locale];
  return {
    subject: t.alreadySubject(publication),
    text: `${t.alreadyBody(publication)}\n\n${preferencesUrl}\n`,
    html: layout([t.alreadyBody(publication)], preferencesUrl, t.alreadyButton),
  };
}
