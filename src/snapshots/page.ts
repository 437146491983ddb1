import type { Locale } from '../db/schema.js';
import { archiveText } from '../issues/archive-strings.js';
import { escapeHtml as esc } from '../rendering/escape.js';
import type { readSnapshot } from './store.js';

type Snapshot = NonNullable<Awaited<ReturnType<typeof readSnapshot>>>;

/**
 * The body of an archived copy's page: a banner saying it is a copy, the original's title, URL and
 * the fetch date, then the sanitised HTML (sanitised when taken) or the text, or the PDF's link.
 */
export function snapshotPageHtml(snap: Snapshot, locale: Locale, pdfHref: string): string {
  const date = snap.fetched_at ? snap.fetched_at.toISOString().slice(0, 10) : '';
  const parts = [
    `<p class="banner" role="note">${esc(archiveText(locale, 'archivedBanner', { date }))}</p>`,
    `<dl><dt>${esc(archiveText(locale, 'originalTitle'))}</dt><dd>${esc(snap.title ?? snap.url)}</dd>`,
    `<dt>${esc(archiveText(locale, 'originalUrl'))}</dt><dd class="src">${esc(snap.url)}</dd>`,
    `<dt>${esc(archiveText(locale, 'fetchedAt'))}</dt><dd>${esc(date)}</dd>`,
    ...(snap.dead_since
      ? [
          `<dd>${esc(archiveText(locale, 'deadSince', { date: snap.dead_since.toISOString().slice(0, 10) }))}</dd>`,
        ]
      : []),
    '</dl><hr>',
  ];
  if (snap.pdf) parts.push(`<p><a href="${esc(pdfHref)}">${esc(archiveText(locale, 'pdfCopy'))}</a></p>`);
  else if (snap.html) parts.push(`<article>${snap.html}</article>`);
  else if (snap.text)
    parts.push(
      `<article>${snap.text
        .split(/\n{2,}/)
        .map((p) => `<p>${esc(p)}</p>`)
        .join('')}</article>`,
    );
  else parts.push(`<p>${esc(archiveText(locale, 'noContent'))}</p>`);
  return parts.join('\n');
}
