/**
 * The words legal metadata is made of: jurisdictions and kinds are codes with a Chinese and an
 * English name (filters and JSON use the codes); bodies are kept by their Chinese name, with an
 * English name when the gazetteer knows one. This is the one translation table for them.
 */

export const JURISDICTIONS = {
  CN: { 'zh-CN': '中国', en: 'China' },
  EU: { 'zh-CN': '欧盟', en: 'European Union' },
  US: { 'zh-CN': '美国', en: 'United States' },
  GB: { 'zh-CN': '英国', en: 'United Kingdom' },
  NL: { 'zh-CN': '荷兰', en: 'Netherlands' },
  DE: { 'zh-CN': '德国', en: 'Germany' },
  FR: { 'zh-CN': '法国', en: 'France' },
  JP: { 'zh-CN': '日本', en: 'Japan' },
  KR: { 'zh-CN': '韩国', en: 'South Korea' },
  SG: { 'zh-CN': '新加坡', en: 'Singapore' },
  BRICS: { 'zh-CN': '金砖国家', en: 'BRICS' },
  INTL: { 'zh-CN': '国际', en: 'International' },
} as const;
export type JurisdictionCode = keyof typeof JURISDICTIONS;
export const JURISDICTION_CODES = Object.keys(JURISDICTIONS) as JurisdictionCode[];

export const LEGAL_KINDS = {
  law: { 'zh-CN': '法律', en: 'Law' },
  'administrative-regulation': { 'zh-CN': '行政法规', en: 'Administrative regulation' },
  'departmental-rule': { 'zh-CN': '部门规章', en: 'Departmental rule' },
  'judicial-interpretation': { 'zh-CN': '司法解释', en: 'Judicial interpretation' },
  'normative-document': { 'zh-CN': '规范性文件', en: 'Normative document' },
  standard: { 'zh-CN': '国家标准/行业标准', en: 'National/industry standard' },
  'guidance-report': { 'zh-CN': '指南/报告', en: 'Guidance/report' },
  'executive-order': { 'zh-CN': '行政命令', en: 'Executive order' },
  case: { 'zh-CN': '案例/判决', en: 'Case/judgment' },
  'industry-news': { 'zh-CN': '行业动态', en: 'Industry news' },
} as const;
export type LegalKind = keyof typeof LEGAL_KINDS;
export const LEGAL_KIND_CODES = Object.keys(LEGAL_KINDS) as LegalKind[];

export interface GazetteerEntry {
  /** The Chinese name, as stored in `bodies`. */
  name: string;
  en: string;
  jurisdiction: JurisdictionCode;
  /** Other spellings found in titles and summaries (matched as written, case-insensitive for Latin). */
  aliases?: string[];
  /** A company or lab rather than a public body: evidence of jurisdiction, a body only for news. */
  company?: boolean;
}

/**
 * Public bodies, courts and the companies that appear in the digest. Longer names are tried
 * first, so 工业和信息化部 wins over 工信部 and 最高人民法院 over 法院.
 */
export const GAZETTEER: GazetteerEntry[] = [
  { name: '最高人民法院', en: "Supreme People's Court", jurisdiction: 'CN', aliases: ['最高法'] },
  { name: '最高人民检察院', en: "Supreme People's Procuratorate", jurisdiction: 'CN', aliases: ['最高检'] },
  { name: '公安部', en: 'Ministry of Public Security', jurisdiction: 'CN' },
  { name: '国务院', en: 'State Council', jurisdiction: 'CN' },
  { name: '全国人民代表大会常务委员会', en: "NPC Standing Committee", jurisdiction: 'CN', aliases: ['全国人大常委会'] },
  { name: '全国人民代表大会', en: "National People's Congress", jurisdiction: 'CN', aliases: ['全国人大'] },
  { name: '工业和信息化部', en: 'Ministry of Industry and Information Technology', jurisdiction: 'CN', aliases: ['工信部'] },
  { name: '国家互联网信息办公室', en: 'Cyberspace Administration of China', jurisdiction: 'CN', aliases: ['国家网信办', '网信办'] },
  { name: '国家市场监督管理总局', en: 'State Administration for Market Regulation', jurisdiction: 'CN', aliases: ['市场监管总局'] },
  { name: '国家数据局', en: 'National Data Administration', jurisdiction: 'CN' },
  { name: '国家标准化管理委员会', en: 'Standardization Administration of China', jurisdiction: 'CN', aliases: ['国家标准委'] },
  { name: '全国网络安全标准化技术委员会', en: 'TC260', jurisdiction: 'CN', aliases: ['网安标委'] },
  { name: '中国人民银行', en: "People's Bank of China", jurisdiction: 'CN' },
  { name: '外交部', en: 'Ministry of Foreign Affairs', jurisdiction: 'CN' },
  { name: '北京互联网法院', en: 'Beijing Internet Court', jurisdiction: 'CN' },
  { name: '杭州互联网法院', en: 'Hangzhou Internet Court', jurisdiction: 'CN' },
  { name: '广州互联网法院', en: 'Guangzhou Internet Court', jurisdiction: 'CN' },
  { name: '欧洲议会', en: 'European Parliament', jurisdiction: 'EU', aliases: ['European Parliament'] },
  { name: '欧盟委员会', en: 'European Commission', jurisdiction: 'EU', aliases: ['欧洲委员会', 'European Commission'] },
  { name: '欧盟理事会', en: 'Council of the European Union', jurisdiction: 'EU' },
  { name: '欧洲数据保护委员会', en: 'European Data Protection Board', jurisdiction: 'EU', aliases: ['EDPB'] },
  { name: '欧盟法院', en: 'Court of Justice of the European Union', jurisdiction: 'EU', aliases: ['CJEU'] },
  { name: '荷兰数据保护局', en: 'Dutch Data Protection Authority', jurisdiction: 'NL', aliases: ['Autoriteit Persoonsgegevens'] },
  { name: '英国科学、创新与技术部', en: 'Department for Science, Innovation and Technology', jurisdiction: 'GB', aliases: ['英国科学创新与技术部', 'DSIT'] },
  { name: '英国信息专员办公室', en: "Information Commissioner's Office", jurisdiction: 'GB', aliases: ['ICO'] },
  { name: '英国政府', en: 'UK Government', jurisdiction: 'GB' },
  { name: '白宫', en: 'White House', jurisdiction: 'US', aliases: ['White House'] },
  { name: '美国总统', en: 'President of the United States', jurisdiction: 'US' },
  { name: '美国商务部', en: 'US Department of Commerce', jurisdiction: 'US' },
  { name: '美国联邦贸易委员会', en: 'Federal Trade Commission', jurisdiction: 'US', aliases: ['FTC'] },
  { name: '美国加州高等法院', en: 'California Superior Court', jurisdiction: 'US', aliases: ['加州高等法院'] },
  { name: '金砖国家', en: 'BRICS', jurisdiction: 'BRICS', aliases: ['BRICS'] },
  { name: '联合国', en: 'United Nations', jurisdiction: 'INTL', aliases: ['United Nations'] },
  { name: '世界人工智能大会', en: 'World Artificial Intelligence Conference', jurisdiction: 'CN', aliases: ['WAIC'] },
  { name: '上海人工智能实验室', en: 'Shanghai AI Laboratory', jurisdiction: 'CN', company: true, aliases: ['上海 AI lab', '上海AI lab', '上海 AI 实验室', '上海AI实验室'] },
  { name: '阿里巴巴', en: 'Alibaba', jurisdiction: 'CN', company: true, aliases: ['阿里'] },
  { name: '百度', en: 'Baidu', jurisdiction: 'CN', company: true },
  { name: '字节跳动', en: 'ByteDance', jurisdiction: 'CN', company: true, aliases: ['字节'] },
  { name: '腾讯', en: 'Tencent', jurisdiction: 'CN', company: true },
  { name: '华为', en: 'Huawei', jurisdiction: 'CN', company: true },
  { name: '月之暗面', en: 'Moonshot AI', jurisdiction: 'CN', company: true },
  { name: '阶跃星辰', en: 'StepFun', jurisdiction: 'CN', company: true },
  { name: '智谱', en: 'Zhipu AI', jurisdiction: 'CN', company: true },
  { name: '深度求索', en: 'DeepSeek', jurisdiction: 'CN', company: true, aliases: ['DeepSeek'] },
  { name: 'OpenAI', en: 'OpenAI', jurisdiction: 'US', company: true },
  { name: 'xAI', en: 'xAI', jurisdiction: 'US', company: true, aliases: ['马斯克'] },
  { name: '亚马逊', en: 'Amazon', jurisdiction: 'US', company: true, aliases: ['Amazon'] },
  { name: '谷歌', en: 'Google', jurisdiction: 'US', company: true, aliases: ['Google'] },
  { name: '微软', en: 'Microsoft', jurisdiction: 'US', company: true, aliases: ['Microsoft'] },
  { name: 'Meta', en: 'Meta', jurisdiction: 'US', company: true },
  { name: 'Anthropic', en: 'Anthropic', jurisdiction: 'US', company: true },
  { name: '英伟达', en: 'NVIDIA', jurisdiction: 'US', company: true, aliases: ['NVIDIA'] },
]; // biome-ignore format: one entry a line reads better

/**
 * Place and country words that say where something happened (no body of their own). Chinese
 * provinces and large cities, and 国内 ("domestic"), since the digest is written from China.
 */
export const PLACE_WORDS: { word: string; jurisdiction: JurisdictionCode }[] = [
  ...['金砖国家'].map((word) => ({ word, jurisdiction: 'BRICS' as const })),
  ...['欧盟', '欧洲'].map((word) => ({ word, jurisdiction: 'EU' as const })),
  ...['美国', '美白宫', '加州', '纽约'].map((word) => ({ word, jurisdiction: 'US' as const })),
  ...['英国'].map((word) => ({ word, jurisdiction: 'GB' as const })),
  ...['荷兰'].map((word) => ({ word, jurisdiction: 'NL' as const })),
  ...['德国'].map((word) => ({ word, jurisdiction: 'DE' as const })),
  ...['法国'].map((word) => ({ word, jurisdiction: 'FR' as const })),
  ...['日本'].map((word) => ({ word, jurisdiction: 'JP' as const })),
  ...['韩国'].map((word) => ({ word, jurisdiction: 'KR' as const })),
  ...['新加坡'].map((word) => ({ word, jurisdiction: 'SG' as const })),
  ...[
    '中国', '我国', '国内', '全国', '工业和信息化', '工信',
    '北京', '天津', '上海', '重庆', '河北', '山西', '辽宁', '吉林', '黑龙江', '江苏', '浙江', '安徽',
    '福建', '江西', '山东', '河南', '湖北', '湖南', '广东', '海南', '四川', '贵州', '云南', '陕西',
    '甘肃', '青海', '内蒙古', '广西', '西藏', '宁夏', '新疆', '深圳', '杭州', '广州',
  ].map((word) => ({ word, jurisdiction: 'CN' as const })),
]; // biome-ignore format: packed lists

/**
 * What a source's host says. `official` hosts are a government's or court's own site (strong
 * evidence, and the body that publishes there); other hosts only hint at a country.
 */
export const HOSTS: { suffix: string; jurisdiction: JurisdictionCode; body?: string; official: boolean }[] = [
  { suffix: 'court.gov.cn', jurisdiction: 'CN', body: '最高人民法院', official: true },
  { suffix: 'spp.gov.cn', jurisdiction: 'CN', body: '最高人民检察院', official: true },
  { suffix: 'mps.gov.cn', jurisdiction: 'CN', body: '公安部', official: true },
  { suffix: 'miit.gov.cn', jurisdiction: 'CN', body: '工业和信息化部', official: true },
  { suffix: 'cac.gov.cn', jurisdiction: 'CN', body: '国家互联网信息办公室', official: true },
  { suffix: 'mfa.gov.cn', jurisdiction: 'CN', body: '外交部', official: true },
  { suffix: 'npc.gov.cn', jurisdiction: 'CN', body: '全国人民代表大会', official: true },
  { suffix: 'gov.cn', jurisdiction: 'CN', official: true },
  { suffix: 'europarl.europa.eu', jurisdiction: 'EU', body: '欧洲议会', official: true },
  { suffix: 'ec.europa.eu', jurisdiction: 'EU', body: '欧盟委员会', official: true },
  { suffix: 'edpb.europa.eu', jurisdiction: 'EU', body: '欧洲数据保护委员会', official: true },
  { suffix: 'europa.eu', jurisdiction: 'EU', official: true },
  { suffix: 'whitehouse.gov', jurisdiction: 'US', body: '白宫', official: true },
  { suffix: 'ftc.gov', jurisdiction: 'US', body: '美国联邦贸易委员会', official: true },
  { suffix: 'gov', jurisdiction: 'US', official: true },
  { suffix: 'ico.org.uk', jurisdiction: 'GB', body: '英国信息专员办公室', official: true },
  { suffix: 'gov.uk', jurisdiction: 'GB', body: '英国政府', official: true },
  { suffix: 'autoriteitpersoonsgegevens.nl', jurisdiction: 'NL', body: '荷兰数据保护局', official: true },
  { suffix: 'overheid.nl', jurisdiction: 'NL', official: true },
  { suffix: 'cn', jurisdiction: 'CN', official: false },
  { suffix: 'uk', jurisdiction: 'GB', official: false },
  { suffix: 'nl', jurisdiction: 'NL', official: false },
  { suffix: 'de', jurisdiction: 'DE', official: false },
  { suffix: 'fr', jurisdiction: 'FR', official: false },
  { suffix: 'jp', jurisdiction: 'JP', official: false },
  { suffix: 'kr', jurisdiction: 'KR', official: false },
  { suffix: 'sg', jurisdiction: 'SG', official: false },
]; // biome-ignore format: one entry a line

const BY_NAME = new Map(GAZETTEER.map((e) => [e.name, e]));
export function gazetteerEntry(name: string): GazetteerEntry | undefined {
  return BY_NAME.get(name);
}
