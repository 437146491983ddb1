import type { Locale } from '../../db/schema.js';

/**
 * Each page owns its strings, in both locales. The English table must have exactly the Chinese
 * table's keys (the type checker refuses a page that forgets one), so no page is half-translated.
 */
export type PageStrings<K extends string = string> = { 'zh-CN': Record<K, string>; en: Record<K, string> };

export function defineStrings<K extends string>(strings: {
  'zh-CN': Record<K, string>;
  en: Record<K, string>;
}) {
  return strings;
}

/** The layout's and the sign-in page's strings; every page gets these as `t` too. */
export const COMMON = defineStrings({
  'zh-CN': {
    appName: 'Gazette 编辑台',
    skipToContent: '跳到正文',
    navInbox: '收件箱',
    navIssues: '期刊',
    navSubscribers: '订阅者',
    navSources: '信息源',
    navStats: '统计',
    navOps: '运维',
    navUsers: '用户',
    navSettings: '设置',
    signedInAs: '当前用户',
    signOut: '退出',
    language: '语言',
    roleAdmin: '管理员',
    roleEditor: '编辑',
    roleViewer: '只读',
    signInTitle: '登录',
    signInIntro: '请使用管理员为您创建的账户登录。',
    email: '邮箱地址',
    password: '密码',
    signInButton: '登录',
    signInFailed: '邮箱或密码不正确。',
    signInThrottled: '尝试次数过多，请稍后再试。',
    save: '保存',
    cancel: '取消',
    delete: '删除',
    edit: '编辑',
    back: '返回',
    search: '搜索',
    filter: '筛选',
    none: '暂无',
    yes: '是',
    no: '否',
    actions: '操作',
    saved: '已保存。',
    readOnlyNotice: '您的角色为只读，无法修改。',
    errorTitle: '出错了',
    notFoundTitle: '找不到页面',
    forbiddenTitle: '没有权限',
    forbiddenBody: '您的角色不允许执行此操作。',
    setupLocal: '还没有设置发件地址，期刊发不出去。',
    setupLocalLink: '完成首次设置',
    setupUnverified: '发件地址 {email} 尚未验证，期刊发不出去。',
    setupUnverifiedLink: '查看设置',
  },
  en: {
    appName: 'Gazette editor',
    skipToContent: 'Skip to content',
    navInbox: 'Inbox',
    navIssues: 'Issues',
    navSubscribers: 'Subscribers',
    navSources: 'Sources',
    navStats: 'Statistics',
    navOps: 'Operations',
    navUsers: 'Users',
    navSettings: 'Settings',
    signedInAs: 'Signed in as',
    signOut: 'Sign out',
    language: 'Language',
    roleAdmin: 'Admin',
    roleEditor: 'Editor',
    roleViewer: 'Viewer',
    signInTitle: 'Sign in',
    signInIntro: 'Sign in with the account an admin created for you.',
    email: 'Email address',
    password: 'Password',
    signInButton: 'Sign in',
    signInFailed: 'The address or the password is not right.',
    signInThrottled: 'Too many attempts; please try again later.',
    save: 'Save',
    cancel: 'Cancel',
    delete: 'Delete',
    edit: 'Edit',
    back: 'Back',
    search: 'Search',
    filter: 'Filter',
    none: 'None',
    yes: 'Yes',
    no: 'No',
    actions: 'Actions',
    saved: 'Saved.',
    readOnlyNotice: 'Your role is read-only; you cannot make changes.',
    errorTitle: 'Something went wrong',
    notFoundTitle: 'Page not found',
    forbiddenTitle: 'Not allowed',
    forbiddenBody: 'Your role does not allow this.',
    setupLocal: 'No sender address yet: no issue can go out.',
    setupLocalLink: 'Finish the first-time setup',
    setupUnverified: 'The sender {email} is not verified yet: no issue can go out.',
    setupUnverifiedLink: 'See the settings',
  },
});

export type CommonStrings = (typeof COMMON)['zh-CN'];

export function stringsFor(locale: Locale, page?: PageStrings): Record<string, string> {
  return { ...COMMON[locale], ...(page?.[locale] ?? {}) };
}

/** Interpolates {name} placeholders; the result is escaped by Handlebars like any other value. */
export function interpolate(text: string, values: Record<string, unknown>): string {
  return text.replace(/\{(\w+)\}/g, (whole, name: string) => (name in values ? String(values[name]) : whole));
}
