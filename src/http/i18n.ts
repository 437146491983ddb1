import type { Locale } from '../db/schema.js';

/** Every string a subscriber-facing page shows, per locale. */
const STRINGS = {
  'zh-CN': {
    lang: 'zh-CN',
    otherLang: 'en',
    otherLangLabel: 'English',
    subscribeTitle: '订阅',
    subscribeIntro: '填写邮箱地址订阅。我们会发一封确认邮件，点击其中的链接后订阅才生效。',
    email: '邮箱地址',
    name: '称呼（可选）',
    locale: '邮件语言',
    sections: '栏目',
    sectionsHint: '不选则订阅全部栏目（包括以后新增的栏目）。',
    subscribeButton: '订阅',
    sentTitle: '请查收邮件',
    sentBody: '如果这个地址可以订阅，我们已向它发送了一封邮件。请点击邮件中的链接完成确认。',
    invalidTitle: '无法提交',
    queryControl: '网址中的参数“{name}”含有控制字符，请检查链接。',
    confirmTitle: '确认订阅',
    confirmIntro: '请点击下面的按钮完成订阅。',
    confirmButton: '确认订阅',
    confirmedTitle: '订阅已确认',
    confirmedBody: '感谢订阅！下一期起您将收到我们的通讯。',
    alreadyConfirmedTitle: '已确认',
    alreadyConfirmedBody: '这个订阅之前已经确认过，无需再次操作。',
    staleTitle: '链接已失效',
    staleBody: '这个确认链接已不再适用。如需订阅，请重新填写订阅表单。',
    expiredTitle: '链接已过期',
    expiredBody: '这个链接已过期，没有做任何更改。请使用最新邮件中的链接，或重新订阅。',
    tamperedTitle: '链接无效',
    tamperedBody: '这个链接不完整或已被改动，没有做任何更改。请从邮件中完整复制链接。',
    unsubscribeTitle: '退订',
    unsubscribeIntro: '请选择要退订的内容，然后点击按钮。仅打开此页面不会退订。',
    unsubscribeAll: '退订全部邮件',
    unsubscribeSection: '只退订栏目：',
    unsubscribeButton: '确认退订',
    unsubscribedTitle: '已退订',
    unsubscribedBody: '您已退订，今后不会再收到我们的通讯。',
    sectionRemovedTitle: '已退订该栏目',
    sectionRemovedBody: '您将不再收到这个栏目的内容，其他栏目照常发送。',
    alreadyLeftTitle: '已退订',
    alreadyLeftBody: '这个地址目前没有订阅。',
    preferencesTitle: '偏好设置',
    preferencesIntro: '在这里修改您收到的栏目、称呼和邮件语言。',
    save: '保存',
    savedNotice: '已保存。',
    leaveTitle: '不想再收到邮件？',
    leaveButton: '退订全部',
    inactiveNotice: '这个地址目前没有订阅，修改不会让它重新订阅。',
    atLeastOneSection: '请至少选择一个栏目，或选择退订全部。',
    rateLimitedTitle: '请求过于频繁',
    rateLimitedBody: '请稍后再试。',
    signInRequiredTitle: '需要登录',
    signInRequiredBody: '请先登录编辑台。',
    forbiddenTitle: '没有权限',
    forbiddenBody: '您的角色不允许执行此操作。',
    notFoundTitle: '找不到页面',
    notFoundBody: '这个地址没有对应的页面。',
    errorTitle: '出错了',
    errorBody: '服务器暂时无法处理请求，请稍后再试。没有做任何更改。',
    locales: { 'zh-CN': '中文', en: 'English' },
  },
  en: {
    lang: 'en',
    otherLang: 'zh-CN',
    otherLangLabel: '中文',
    subscribeTitle: 'Subscribe',
    subscribeIntro:
      'Enter your address to subscribe. We will send a confirmation message; the subscription starts when you click its link.',
    email: 'Email address',
    name: 'Name (optional)',
    locale: 'Language of the emails',
    sections: 'Sections',
    sectionsHint: 'Choose none to receive every section, including ones added later.',
    subscribeButton: 'Subscribe',
    sentTitle: 'Check your inbox',
    sentBody:
      'If this address can be subscribed, we have sent it a message. Click the link in it to confirm.',
    invalidTitle: 'Could not submit',
    queryControl: 'The parameter "{name}" in the address contains a control character; check the link.',
    confirmTitle: 'Confirm your subscription',
    confirmIntro: 'Press the button below to start your subscription.',
    confirmButton: 'Confirm subscription',
    confirmedTitle: 'Subscription confirmed',
    confirmedBody: 'Thank you for subscribing! You will receive the newsletter from the next issue.',
    alreadyConfirmedTitle: 'Already confirmed',
    alreadyConfirmedBody: 'This subscription was confirmed before; there is nothing more to do.',
    staleTitle: 'Link no longer valid',
    staleBody: 'This confirmation link no longer applies. To subscribe, fill in the subscribe form again.',
    expiredTitle: 'Link expired',
    expiredBody:
      'This link has expired and nothing was changed. Use the link in a more recent message, or subscribe again.',
    tamperedTitle: 'Invalid link',
    tamperedBody:
      'This link is incomplete or was altered, and nothing was changed. Copy the whole link from the message.',
    unsubscribeTitle: 'Unsubscribe',
    unsubscribeIntro: 'Choose what to stop and press the button. Opening this page alone changes nothing.',
    unsubscribeAll: 'Stop all messages',
    unsubscribeSection: 'Stop only the section:',
    unsubscribeButton: 'Unsubscribe',
    unsubscribedTitle: 'Unsubscribed',
    unsubscribedBody: 'You have unsubscribed and will receive no more issues.',
    sectionRemovedTitle: 'Section removed',
    sectionRemovedBody: 'You will no longer receive this section; the others continue as before.',
    alreadyLeftTitle: 'Unsubscribed',
    alreadyLeftBody: 'This address is not subscribed at the moment.',
    preferencesTitle: 'Preferences',
    preferencesIntro: 'Change the sections you receive, your name and the language of the emails.',
    save: 'Save',
    savedNotice: 'Saved.',
    leaveTitle: 'Want no more messages?',
    leaveButton: 'Unsubscribe from everything',
    inactiveNotice: 'This address is not subscribed at the moment; changes here do not subscribe it again.',
    atLeastOneSection: 'Choose at least one section, or unsubscribe from everything.',
    rateLimitedTitle: 'Too many requests',
    rateLimitedBody: 'Please try again in a minute.',
    signInRequiredTitle: 'Sign in required',
    signInRequiredBody: 'Please sign in to the editors’ app first.',
    forbiddenTitle: 'Not allowed',
    forbiddenBody: 'Your role does not allow this.',
    notFoundTitle: 'Page not found',
    notFoundBody: 'There is no page at this address.',
    errorTitle: 'Something went wrong',
    errorBody: 'The server could not handle the request; please try again later. Nothing was changed.',
    locales: { 'zh-CN': '中文', en: 'English' },
  },
} as const;

export type Strings = (typeof STRINGS)[Locale];

export function strings(locale: Locale): Strings {
  return STRINGS[locale];
}

export function asLocale(value: unknown): Locale | undefined {
  if (typeof value !== 'string') return undefined;
  const v = value.trim().toLowerCase();
  if (v === 'en' || v.startsWith('en-')) return 'en';
  if (v === 'zh-cn' || v === 'zh' || v.startsWith('zh-')) return 'zh-CN';
  return undefined;
}

/** First supported language in an Accept-Language header. */
export function fromAcceptLanguage(header: string | undefined): Locale | undefined {
  if (!header) return undefined;
  const ranked = header
    .split(',')
    .map((part) => {
      const [tag = '', ...params] = part.trim().split(';');
      const q = params.find((p) => p.trim().startsWith('q='));
      return { tag, q: q ? Number(q.trim().slice(2)) || 0 : 1 };
    })
    .sort((a, b) => b.q - a.q);
  for (const { tag } of ranked) {
    const l = asLocale(tag);
    if (l) return l;
  }
  return undefined;
}
