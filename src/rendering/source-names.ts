import type { Locale } from '../db/schema.js';

/**
 * What a source link shows instead of its raw URL (a raw URL as link text is a phishing signal for
 * filters, unreadable for screen readers and unwrappable in some clients): the source's name
 * where the host is known, and always its domain. The plain-text part keeps the full URL.
 */
const KNOWN_HOSTS: { host: string; names: Record<Locale, string> }[] = [
  { host: 'mp.weixin.qq.com', names: { 'zh-CN': '微信公众号', en: 'WeChat' } },
  { host: 'baijiahao.baidu.com', names: { 'zh-CN': '百家号', en: 'Baijiahao' } },
  { host: 'court.gov.cn', names: { 'zh-CN': '最高人民法院', en: 'Supreme People’s Court' } },
  { host: 'spp.gov.cn', names: { 'zh-CN': '最高人民检察院', en: 'Supreme People’s Procuratorate' } },
  { host: 'npc.gov.cn', names: { 'zh-CN': '中国人大网', en: 'National People’s Congress' } },
  { host: 'cac.gov.cn', names: { 'zh-CN': '中国网信网', en: 'Cyberspace Administration of China' } },
  { host: 'miit.gov.cn', names: { 'zh-CN': '工业和信息化部', en: 'Ministry of Industry and IT' } },
  { host: 'mfa.gov.cn', names: { 'zh-CN': '外交部', en: 'Ministry of Foreign Affairs' } },
  { host: 'www.gov.cn', names: { 'zh-CN': '中国政府网', en: 'Gov.cn' } },
  { host: 'people.com.cn', names: { 'zh-CN': '人民网', en: 'People’s Daily Online' } },
  { host: 'xinhuanet.com', names: { 'zh-CN': '新华网', en: 'Xinhua' } },
  { host: 'news.cn', names: { 'zh-CN': '新华网', en: 'Xinhua' } },
  { host: 'thepaper.cn', names: { 'zh-CN': '澎湃新闻', en: 'The Paper' } },
  { host: 'bjd.com.cn', names: { 'zh-CN': '北京日报', en: 'Beijing Daily' } },
  { host: 'shobserver.com', names: { 'zh-CN': '上观新闻', en: 'Shanghai Observer' } },
  { host: 'tmtpost.com', names: { 'zh-CN': '钛媒体', en: 'TMTPost' } },
  { host: 'baai.ac.cn', names: { 'zh-CN': '智源社区', en: 'BAAI Hub' } },
  { host: 'eur-lex.europa.eu', names: { 'zh-CN': '欧盟法律数据库', en: 'EUR-Lex' } },
  { host: 'europarl.europa.eu', names: { 'zh-CN': '欧洲议会', en: 'European Parliament' } },
  { host: 'ec.europa.eu', names: { 'zh-CN': '欧盟委员会', en: 'European Commission' } },
  {
    host: 'autoriteitpersoonsgegevens.nl',
    names: { 'zh-CN': '荷兰数据保护局', en: 'Dutch Data Protection Authority' },
  },
  { host: 'gov.uk', names: { 'zh-CN': '英国政府', en: 'GOV.UK' } },
  { host: 'whitehouse.gov', names: { 'zh-CN': '白宫', en: 'The White House' } },
];

/** The host a reader recognises: lower case, without a leading "www.". */
export function sourceDomain(url: string): string | null {
  try {
    const host = new URL(url).hostname.toLowerCase();
    return host ? host.replace(/^www\./, '') : null;
  } catch {
    return null;
  }
}

/** The known name of a URL's host in a locale (the longest matching host suffix), or null. */
export function sourceName(url: string, locale: Locale): string | null {
  let host: string;
  try {
    host = new URL(url).hostname.toLowerCase();
  } catch {
    return null;
  }
  const match = KNOWN_HOSTS.filter((k) => host === k.host || host.endsWith(`.${k.host}`)).sort(
    (a, b) => b.host.length - a.host.length,
  )[0];
  return match ? match.names[locale] : null;
}

/**
 * A source link's text: "微信公众号 · mp.weixin.qq.com", the editor's label with the domain, or
 * the domain alone. A label that is itself a URL counts as none. Null when the URL has no host.
 */
export function sourceLinkText(url: string, locale: Locale, label?: string | null): string | null {
  const domain = sourceDomain(url);
  if (!domain) return null;
  const given = label?.trim() && !/^[a-z][a-z0-9+.-]*:\/\//i.test(label.trim()) ? label.trim() : null;
  const name = given ?? sourceName(url, locale);
  return name && name !== domain ? `${name} · ${domain}` : domain;
}
