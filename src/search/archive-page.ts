import type { Db, Locale } from '../db/schema.js';
import { archiveText } from '../issues/archive-strings.js';
import { bodyName, jurisdictionName, kindName, legalLineOf } from '../legal/format.js';
import type { LegalValues } from '../legal/types.js';
import { escapeHtml as esc } from '../rendering/escape.js';
import { archiveFacets, searchArchive } from './archive-index.js';

export interface SearchForm {
  q?: string;
  jurisdiction?: string;
  kind?: string;
  body?: string;
}

const one = (v: unknown) => (typeof v === 'string' ? v.trim().slice(0, 200) : '');

function select(name: string, label: string, locale: Locale, values: [string, string][], chosen: string) {
  const options = [`<option value="">${esc(archiveText(locale, 'any'))}</option>`]
    .concat(
      values.map(
        ([v, text]) => `<option value="${esc(v)}"${v === chosen ? ' selected' : ''}>${esc(text)}</option>`,
      ),
    )
    .join('');
  return `<label>${esc(label)} <select name="${name}">${options}</select></label>`;
}

/** The archive's search form and, when asked, the matching items with their legal line. */
export async function archiveSearchHtml(db: Db, form: SearchForm, locale: Locale): Promise<string> {
  const q = one(form.q);
  const jurisdiction = one(form.jurisdiction);
  const kind = one(form.kind);
  const body = one(form.body);
  const facets = await archiveFacets(db);
  const parts = [
    `<form method="get" action="/archive" role="search"><p><label>${esc(archiveText(locale, 'searchLabel'))}<br><input type="search" name="q" value="${esc(q)}" size="40"></label></p><p>`,
    select(
      'jurisdiction',
      archiveText(locale, 'jurisdiction'),
      locale,
      facets.jurisdictions.map((j) => [j, jurisdictionName(j, locale)]),
      jurisdiction,
    ),
    select(
      'kind',
      archiveText(locale, 'kind'),
      locale,
      facets.kinds.map((k) => [k, kindName(k, locale)]),
      kind,
    ),
    select(
      'body',
      archiveText(locale, 'body'),
      locale,
      facets.bodies.map((b) => [b, bodyName(b, locale)]),
      body,
    ),
    ` <button type="submit">${esc(archiveText(locale, 'search'))}</button></p></form>`,
  ];
  if (!q && !jurisdiction && !kind && !body) return parts.join('');
  const hits = await searchArchive(db, {
    ...(q ? { q } : {}),
    ...(jurisdiction ? { jurisdiction } : {}),
    ...(kind ? { kind } : {}),
    ...(body ? { body } : {}),
  });
  parts.push(
    `<p class="results">${esc(archiveText(locale, hits.length ? 'results' : 'noResults', { count: hits.length }))}</p><ol class="hits">`,
  );
  for (const h of hits) {
    const line = legalLineOf(h.legal as Partial<LegalValues>, locale);
    parts.push(
      `<li><a href="/archive/${h.issueId}#item-${h.issueItemId}">${esc(h.title)}</a> <small>${esc(h.period)}</small>${line ? `<br><small class="legal">${esc(line)}</small>` : ''}</li>`,
    );
  }
  parts.push('</ol>');
  return parts.join('');
}
