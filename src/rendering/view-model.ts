import Handlebars from 'handlebars';
import type { Locale } from '../db/schema.js';
import { legalLine } from '../legal/format.js';
import { logoBox } from '../publication/branding.js';
import { escapeHtml, escapeTextContent } from './escape.js';
import { PREHEADER_PADDING_HTML, variantPreheader, variantSubject } from './inbox-line.js';
import { sourceLinkText } from './source-names.js';
import { parseSummary, type SummaryBlock } from './summary.js';
import type { Strings } from './template-store.js';
import { joinLines } from './text-join.js';
import type { Theme } from './theme.js';
import type { RenderableIssue, RenderableSection } from './types.js';

type Content = string | Handlebars.SafeString;

export interface ViewItem {
  anchor: string;
  title: Content;
  /** The legal metadata line in the reader's locale (templates/email/partials/legal-line). */
  legalLine: Content | null;
  /** Sources found dead since (web version): a link to each archived copy. */
  deadSources: { href: Content }[];
  /** The summary's blocks (Markdown, rendering/summary.ts), escaped by the `summary` helper. */
  summary: SummaryBlock[];
  sources: { url: string; label: Content | null }[];
}

export interface ViewSection {
  key: string;
  anchor: string;
  name: Content;
  items: ViewItem[];
}

export interface ViewModel {
  lang: string;
  dir: 'ltr' | 'rtl';
  locale: Locale;
  subject: Content;
  preheader: Content;
  /** Invisible characters after the preheader (html only). */
  preheaderPadding: Content;
  title: Content;
  period: string;
  periodKind: 'month' | 'week';
  committee: Content | null;
  /** The masthead's second-language title line (no label: it is a title). */
  subtitle: Content | null;
  mastheadLines: { label: Content; value: Content }[];
  introParagraphs: Content[];
  theme: Theme;
  /** Width and height are the box the client keeps while images are blocked (alt text shows in it). */
  logo: { url: Content; alt: Content; width: number; height: number | null } | null;
  sections: ViewSection[];
  publicationName: Content;
  postalAddress: Content | null;
  contact: Content | null;
  chosenSectionNames: Content;
  openPixelUrl: Content | null;
  /** Filled by the text template's refs helper: the numbered link list. */
  _links: string[];
}

const RTL = new Set(['ar', 'he', 'fa', 'ur']);

export function anchorFor(prefix: string, key: string | number): string {
  return `${prefix}-${String(key)
    .toLowerCase()
    .replace(/[^a-z0-9_-]+/g, '-')}`;
}

export function sectionName(section: RenderableSection, locale: Locale, issueLocale: Locale): string {
  return section.names[locale] ?? section.names[issueLocale] ?? section.key;
}

/** Paragraphs are split by blank lines; a single line break inside one is joined (text-join.ts). */
export function paragraphsOf(text: string): string[] {
  return text
    .split(/\n\s*\n/)
    .map((p) => joinLines(p.trim()))
    .filter(Boolean);
}

/**
 * The data the templates see. Every piece of issue content is escaped here for its part (html:
 * entities incl. braces, as SafeString; text: braces broken up), so templates cannot forget to.
 */
export function buildViewModel(input: {
  issue: RenderableIssue;
  sections: RenderableSection[];
  locale: Locale;
  publicUrl: string;
  theme: Theme;
  strings: Strings;
  mode: 'html' | 'text';
  warnings?: string[];
}): ViewModel {
  const { issue, locale, mode, strings } = input;
  const c = (s: string): Content =>
    mode === 'html' ? new Handlebars.SafeString(escapeHtml(s)) : escapeTextContent(s);
  const opt = (s: string | null | undefined): Content | null => (s ? c(s) : null);
  const sep = strings.listSeparator ?? '、';
  const m = issue.masthead;
  const lines: { label: string; value: string }[] = [];
  if (m.director?.length) lines.push({ label: strings.director ?? '', value: m.director.join(sep) });
  if (m.deputyDirectors?.length)
    lines.push({ label: strings.deputyDirectors ?? '', value: m.deputyDirectors.join(sep) });
  if (m.editorialBoard?.length)
    lines.push({ label: strings.editorialBoard ?? '', value: m.editorialBoard.join(sep) });
  // Other lines keep the label the committee gave them; an unlabelled one prints as is.
  for (const l of m.lines ?? []) lines.push(l);
  if (m.editor) lines.push({ label: strings.editor ?? '', value: m.editor });

  const branding = issue.publication.branding;
  const logoUrl = branding.logoUrl && /^https:\/\//i.test(branding.logoUrl) ? branding.logoUrl : null;
  if (branding.logoUrl && !logoUrl)
    input.warnings?.push('branding.logoUrl is not an https:// URL; logo left out');
  const logoAlt =
    branding.logoAlt ?? (strings.logoAlt ?? '{publication}').replace('{publication}', issue.publication.name);
  const names = input.sections.map((s) => sectionName(s, locale, issue.locale));
  const base = input.publicUrl.replace(/\/+$/, '');

  return {
    lang: locale,
    dir: RTL.has(locale.split('-')[0] ?? '') ? 'rtl' : 'ltr',
    locale,
    subject: c(variantSubject(issue, locale)),
    preheader: c(variantPreheader(issue, input.sections, locale, sep)),
    preheaderPadding: new Handlebars.SafeString(mode === 'html' ? PREHEADER_PADDING_HTML : ''),
    title: c(issue.title),
    period: issue.period,
    periodKind: issue.periodKind,
    committee: opt(m.committee),
    subtitle: opt(m.subtitle),
    mastheadLines: lines.map((l) => ({ label: c(l.label), value: c(l.value) })),
    introParagraphs: paragraphsOf(issue.intro).map(c),
    theme: input.theme,
    logo: logoUrl ? { url: c(logoUrl), alt: c(logoAlt), ...logoBox(branding) } : null,
    sections: input.sections.map((s, i) => ({
      key: s.key,
      anchor: anchorFor('sec', s.key),
      name: c(names[i] as string),
      items: s.items.map((item) => ({
        anchor: anchorFor('item', item.id),
        title: c(item.title),
        legalLine: opt(legalLine(item.legal ?? {}, locale)),
        deadSources: (item.deadSources ?? []).map((d) => ({ href: c(d.snapshotUrl) })),
        summary: parseSummary(item.summary),
        sources: item.sources.map((src) => ({
          url: src.url,
          label: opt(sourceLinkText(src.url, locale, src.label) ?? src.label),
        })),
      })),
    })),
    publicationName: c(issue.publication.name),
    postalAddress: opt(issue.publication.postalAddress),
    contact: opt(branding.contact),
    chosenSectionNames: c(names.join(sep)),
    openPixelUrl: issue.trackingEnabled ? c(`${base}/t/o/`) : null,
    _links: [],
  };
}
