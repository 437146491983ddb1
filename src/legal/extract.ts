import type { LegalMetadata, Provenance, Sourced } from './types.js';
import {
  GAZETTEER,
  type GazetteerEntry,
  HOSTS,
  type JurisdictionCode,
  type LegalKind,
  PLACE_WORDS,
} from './vocabulary.js';

/**
 * Legal metadata by rules alone, from what an item already has: its title, the editor's summary,
 * its source URLs (the host is strong evidence: court.gov.cn, europa.eu, whitehouse.gov…), its
 * section, and the source page's snapshot text when there is one. Pure: no I/O, same input, same
 * output. Evidence is tried in order of trust and each value says where it came from.
 */

export interface LegalInput {
  title: string;
  summary: string;
  urls: string[];
  /** The section's key (case-studies, industry-news…): the editors' own classification. */
  sectionKey?: string;
  /** The period (2025-07): the year of dates written without one (7月9日). */
  period?: string;
  /** Readable text of the source pages' snapshots, if taken. */
  snapshotText?: string;
}

interface Hit {
  at: number;
  length: number;
}

const LATIN = /^[\x20-\x7e]+$/;

function findAll(text: string, word: string): number[] {
  const out: number[] = [];
  if (LATIN.test(word)) {
    const escaped = word.replace(/[.*+?^${}()|[\]\\]/g, '\\$&').replace(/ /g, '\\s*');
    const re = new RegExp(`(?<![A-Za-z])${escaped}(?![A-Za-z])`, 'gi');
    for (const m of text.matchAll(re)) out.push(m.index ?? 0);
    return out;
  }
  for (let i = text.indexOf(word); i >= 0; i = text.indexOf(word, i + word.length)) out.push(i);
  return out;
}

/** Gazetteer entries named in the text, in order of first mention, longest match at a place. */
function entriesIn(text: string, filter: (e: GazetteerEntry) => boolean): (GazetteerEntry & Hit)[] {
  const hits: (GazetteerEntry & Hit)[] = [];
  for (const entry of GAZETTEER) {
    if (!filter(entry)) continue;
    for (const word of [entry.name, ...(entry.aliases ?? [])]) {
      for (const at of findAll(text, word)) hits.push({ ...entry, at, length: word.length });
    }
  }
  hits.sort((a, b) => a.at - b.at || b.length - a.length);
  const out: (GazetteerEntry & Hit)[] = [];
  let end = -1;
  for (const h of hits) {
    if (h.at < end) continue; // inside a longer name already taken (公安部 in 公安部门 is fine)
    end = h.at + h.length;
    if (!out.some((o) => o.name === h.name)) out.push(h);
  }
  return out;
}

/** The first word in the text that says where: a body, a company or a place. */
function firstJurisdiction(text: string): JurisdictionCode | null {
  const candidates: { at: number; length: number; jurisdiction: JurisdictionCode }[] = [
    ...entriesIn(text, () => true),
  ];
  for (const p of PLACE_WORDS) {
    const at = findAll(text, p.word)[0];
    if (at !== undefined) candidates.push({ at, length: p.word.length, jurisdiction: p.jurisdiction });
  }
  candidates.sort((a, b) => a.at - b.at || b.length - a.length);
  return candidates[0]?.jurisdiction ?? null;
}

function hostOf(url: string): string | null {
  try {
    return new URL(url).hostname.toLowerCase().replace(/\.$/, '');
  } catch {
    return null;
  }
}

/** The most specific host rule for each URL, in the order the URLs are cited. */
export function hostEvidence(urls: string[]): (typeof HOSTS)[number][] {
  const out: (typeof HOSTS)[number][] = [];
  for (const url of urls) {
    const host = hostOf(url);
    if (!host) continue;
    const rule = HOSTS.filter((h) => host === h.suffix || host.endsWith(`.${h.suffix}`)).sort(
      (a, b) => b.suffix.length - a.suffix.length,
    )[0];
    if (rule) out.push(rule);
  }
  return out;
}

/** The summary's first sentence: where 某机构发布《…》 is said. */
function firstSentence(text: string): string {
  const flat = text.replace(/\s*\n\s*/g, ' ');
  const end = flat.search(/[。！？!?]/);
  return end >= 0 ? flat.slice(0, end + 1) : flat;
}

const CN_DATE = /(?:(\d{4})\s*年\s*)?(\d{1,2})\s*月\s*(\d{1,2})\s*日/g;
const ISO_DATE = /(?<!\d)(\d{4})-(\d{2})-(\d{2})(?!\d)/g;

function isoDate(year: number, month: number, day: number): string | null {
  const d = new Date(Date.UTC(year, month - 1, day));
  if (d.getUTCFullYear() !== year || d.getUTCMonth() !== month - 1 || d.getUTCDate() !== day) return null;
  return d.toISOString().slice(0, 10);
}

function datesIn(text: string, defaultYear: number | null): { at: number; end: number; date: string }[] {
  const out: { at: number; end: number; date: string }[] = [];
  for (const m of text.matchAll(CN_DATE)) {
    const year = m[1] ? Number(m[1]) : defaultYear;
    if (year === null) continue;
    const date = isoDate(year, Number(m[2]), Number(m[3]));
    if (date) out.push({ at: m.index ?? 0, end: (m.index ?? 0) + m[0].length, date });
  }
  for (const m of text.matchAll(ISO_DATE)) {
    const date = isoDate(Number(m[1]), Number(m[2]), Number(m[3]));
    if (date) out.push({ at: m.index ?? 0, end: (m.index ?? 0) + m[0].length, date });
  }
  return out.sort((a, b) => a.at - b.at);
}

/** A date followed (within a few characters) by 施行/生效/实施, or "effective/in force" in English. */
function effectiveDate(text: string, defaultYear: number | null): string | null {
  for (const d of datesIn(text, defaultYear)) {
    const after = text.slice(d.end, d.end + 8);
    const before = text.slice(Math.max(0, d.at - 24), d.at);
    if (/^\s*(?:起|开始)?\s*(?:正式)?(?:施行|生效|实施)/.test(after)) return d.date;
    if (/(?:effective|in force|apply from|applies from)\W*(?:on|from)?\s*$/i.test(before)) return d.date;
  }
  return null;
}

// 法释〔2025〕12号, 工信部科〔2025〕3号, 国办发[2024]5号 (hexagonal or square brackets; parentheses are case numbers).
const DOC_NUMBER = /([\u4e00-\u9fa5]{1,8})\s*[〔［[]\s*(\d{4})\s*[〕］\]]\s*第?\s*(\d{1,5})\s*号/u;
const EO_NUMBER =
  /Executive Order\s*(?:No\.?\s*)?(1\d{4})|第\s*(1\d{4})\s*号(?:总统)?行政命令|行政命令\s*(?:第\s*)?(1\d{4})\s*号/i;
// (2025)粤17刑初123号, （2024）京0491民初1234号, (2025)最高法民终12号.
const CASE_NUMBER =
  /[(（]\s*(\d{4})\s*[)）]\s*([\u4e00-\u9fa5]{1,4}\s*\d{0,4})\s*([\u4e00-\u9fa5]{1,4})\s*(\d{1,6})\s*号/u;

function documentNumberIn(text: string): string | null {
  const eo = EO_NUMBER.exec(text);
  const cn = DOC_NUMBER.exec(text);
  if (cn && (!eo || (cn.index ?? 0) < (eo.index ?? 0))) return `${cn[1]}〔${cn[2]}〕${cn[3]}号`;
  if (eo) return `EO ${eo[1] ?? eo[2] ?? eo[3]}`;
  return null;
}

function caseNumberIn(text: string): string | null {
  const m = CASE_NUMBER.exec(text);
  return m ? `(${m[1]})${(m[2] as string).replace(/\s+/g, '')}${m[3]}${m[4]}号` : null;
}

const COURT_WORDS = /[\u4e00-\u9fa5]{2,8}(?:省|市|区|县)(?:高级|中级)?人民法院/u;
// Verbs the pattern above swallows when they stand right before the court's name.
const LEADING_VERBS = /^(?:诉至|诉诸|起诉至|向|由|经|在|至|被)/u;
const POLICE_WORDS = /[\u4e00-\u9fa5]{2,6}公安(?:分局|局|厅)/u;

function courtIn(text: string): string | null {
  const known = entriesIn(text, (e) => /法院$/.test(e.name))[0];
  if (known) return known.name;
  const pattern = COURT_WORDS.exec(text);
  return pattern ? pattern[0].replace(LEADING_VERBS, '') : null;
}

/** The document the item is about: the first 《…》 and the word right after it (…》报告). */
function documentName(text: string): string | null {
  const m = /《([^《》]{2,80})》\s*([\u4e00-\u9fa5]{0,3})/u.exec(text);
  if (!m) return null;
  const name = (m[1] as string).replace(/\s*[（(][^（）()]*[）)]\s*$/u, '').trim();
  const tail = m[2] as string;
  return /^(?:报告|指南|白皮书|声明)/.test(tail) ? `${name}${tail.slice(0, 3)}` : name;
}

function kindOfDocument(name: string, bodies: string[]): LegalKind | null {
  if (/解释$/.test(name)) return 'judicial-interpretation';
  if (/行政命令$|Executive Order/i.test(name)) return 'executive-order';
  if (/(?:国家|行业)?标准$|^GB(?:\/T)?\s*\d/.test(name)) return 'standard';
  if (
    /(?:指南|指引|报告|准则|路线图|计划|白皮书|蓝皮书|声明|宣言|倡议|框架|战略|路线图|Roadmap|Plan|Report|Guidelines?)$/iu.test(
      name,
    )
  )
    return 'guidance-report';
  if (/条例$/.test(name)) return 'administrative-regulation';
  if (/(?:办法|规定|细则)$/.test(name))
    return bodies.some((b) => /部$|委员会$|总局$|局$|办公室$/.test(b))
      ? 'departmental-rule'
      : 'normative-document';
  if (/(?<!办)法$|法案$|Act$/u.test(name)) return 'law';
  if (/(?:意见|通知|决定|公告|答复|批复)$/.test(name)) return 'normative-document';
  return null;
}

const at = <T>(value: T, from: Provenance): Sourced<T> => ({ value, from });

export function extractLegalMetadata(input: LegalInput): LegalMetadata {
  const title = input.title.trim();
  const summary = input.summary.trim();
  const lead = firstSentence(summary);
  const snapshot = input.snapshotText ?? '';
  const year = /^(\d{4})/.exec(input.period ?? '')?.[1];
  const defaultYear = year ? Number(year) : null;
  const hosts = hostEvidence(input.urls);
  const official = hosts.find((h) => h.official);
  const out: LegalMetadata = {};

  // Kind first: it decides which bodies count (a court for a case, a company for news).
  const isCase =
    input.sectionKey === 'case-studies' || /(?:典型)?案例|判决|裁定|(?<![方草提预档])案$/u.test(title);
  const isNews = !isCase && input.sectionKey === 'industry-news';
  if (isCase) out.kind = at('case', input.sectionKey === 'case-studies' ? 'section' : 'title');
  else if (isNews) out.kind = at('industry-news', 'section');
  else if (/行政命令|Executive Order/i.test(title)) out.kind = at('executive-order', 'title');

  // Jurisdiction: the title's first word that says where, then an official host, then the summary,
  // then any host, then the snapshot.
  const fromTitle = firstJurisdiction(title);
  const fromSummary = firstJurisdiction(summary);
  const anyHost = hosts[0];
  if (fromTitle) out.jurisdiction = at(fromTitle, 'title');
  else if (official) out.jurisdiction = at(official.jurisdiction, 'source-url');
  else if (fromSummary) out.jurisdiction = at(fromSummary, 'summary');
  else if (anyHost) out.jurisdiction = at(anyHost.jurisdiction, 'source-url');
  else {
    const fromSnapshot = firstJurisdiction(snapshot);
    if (fromSnapshot) out.jurisdiction = at(fromSnapshot, 'snapshot');
  }

  // Bodies: named in the title, else in the summary's first sentence, else the official host's.
  const bodyFilter = (e: GazetteerEntry) => (isNews ? true : !e.company);
  const titleBodies = entriesIn(title, bodyFilter).map((e) => e.name);
  const leadBodies = entriesIn(lead, bodyFilter).map((e) => e.name);
  if (isCase) {
    const court = courtIn(title) ?? courtIn(summary);
    if (court) out.court = at(court, courtIn(title) ? 'title' : 'summary');
    const police = POLICE_WORDS.exec(summary)?.[0];
    if (titleBodies.length) out.bodies = at(titleBodies, 'title');
    else if (court) out.bodies = at([court], out.court?.from ?? 'summary');
    else if (police) out.bodies = at([police], 'summary');
  } else if (titleBodies.length) out.bodies = at(titleBodies, 'title');
  else if (leadBodies.length) out.bodies = at(leadBodies, 'summary');
  else if (official?.body) out.bodies = at([official.body], 'source-url');
  else if (snapshot) {
    const snapBodies = entriesIn(snapshot.slice(0, 2000), bodyFilter).map((e) => e.name);
    if (snapBodies.length) out.bodies = at(snapBodies.slice(0, 3), 'snapshot');
  }

  // Kind from the document's name: 《…意见》, 《…》报告.
  if (!out.kind) {
    const bodies = out.bodies?.value ?? [];
    const named = documentName(title);
    const fromName = named ? kindOfDocument(named, bodies) : null;
    const summaryNamed = fromName ? null : documentName(summary);
    const fromSummaryName = summaryNamed ? kindOfDocument(summaryNamed, bodies) : null;
    if (fromName) out.kind = at(fromName, 'title');
    else if (fromSummaryName) out.kind = at(fromSummaryName, 'summary');
    else if (/标准/.test(title)) out.kind = at('standard', 'title');
  }

  // Numbers: the title, the summary's first sentence (a later sentence may cite another document),
  // then the snapshot.
  const docNumber: [string | null, Provenance][] = [
    [documentNumberIn(title), 'title'],
    [documentNumberIn(lead), 'summary'],
    [documentNumberIn(snapshot.slice(0, 5000)), 'snapshot'],
  ];
  const foundDoc = docNumber.find(([v]) => v);
  if (foundDoc && !isNews) out.documentNumber = at(foundDoc[0] as string, foundDoc[1]);
  if (out.documentNumber?.value.startsWith('法释'))
    out.kind = at('judicial-interpretation', out.documentNumber.from);
  if (isCase) {
    const caseNo: [string | null, Provenance][] = [
      [caseNumberIn(title), 'title'],
      [caseNumberIn(summary), 'summary'],
      [caseNumberIn(snapshot.slice(0, 5000)), 'snapshot'],
    ];
    const found = caseNo.find(([v]) => v);
    if (found) out.caseNumber = at(found[0] as string, found[1]);
  }

  // Dates: published is the first full date of the summary's first sentence (7月9日 takes the
  // issue's year); effective is a date said to take effect, in the summary or the snapshot.
  const published = datesIn(lead, defaultYear)[0] ?? datesIn(snapshot.slice(0, 3000), defaultYear)[0];
  if (published) out.publishedOn = at(published.date, datesIn(lead, defaultYear)[0] ? 'summary' : 'snapshot');
  const effective = effectiveDate(summary, defaultYear);
  const effectiveSnap = effective ? null : effectiveDate(snapshot, defaultYear);
  if (effective) out.effectiveOn = at(effective, 'summary');
  else if (effectiveSnap) out.effectiveOn = at(effectiveSnap, 'snapshot');
  return out;
}
