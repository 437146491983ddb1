import type { Locale } from '../../../../db/schema.js';
import { bodyName, jurisdictionName, kindName, legalLine } from '../../../../legal/format.js';
import type { ItemLegal, LegalField } from '../../../../legal/types.js';
import { JURISDICTION_CODES, LEGAL_KIND_CODES } from '../../../../legal/vocabulary.js';
import type { SnapshotRow } from '../../../../snapshots/store.js';
import { interpolate } from '../../strings.js';

type T = Record<string, string>;

const LABELS: Record<LegalField, string> = {
  jurisdiction: 'legalJurisdiction',
  bodies: 'legalBodies',
  kind: 'legalKind',
  documentNumber: 'legalDocumentNumber',
  caseNumber: 'legalCaseNumber',
  court: 'legalCourt',
  publishedOn: 'legalPublishedOn',
  effectiveOn: 'legalEffectiveOn',
};

/** The legal metadata form of one item: every field with its value and where it came from. */
export function legalForm(legal: ItemLegal | undefined, locale: Locale, t: T) {
  const meta = legal?.metadata ?? {};
  const fields = (Object.keys(LABELS) as LegalField[]).map((name) => {
    const entry = meta[name];
    const value = Array.isArray(entry?.value)
      ? entry.value.join('、')
      : ((entry?.value as string | undefined) ?? '');
    const choices =
      name === 'jurisdiction'
        ? JURISDICTION_CODES.map((c) => ({ value: c, label: `${jurisdictionName(c, locale)} (${c})` }))
        : name === 'kind'
          ? LEGAL_KIND_CODES.map((c) => ({ value: c, label: kindName(c, locale) }))
          : null;
    return {
      name,
      label: t[LABELS[name]] ?? name,
      value,
      type: name === 'publishedOn' || name === 'effectiveOn' ? 'date' : 'text',
      options: choices?.map((o) => ({ ...o, selected: o.value === value })) ?? null,
      from: entry ? (t[`provenance_${entry.from}`] ?? entry.from) : (t.legalNone ?? ''),
    };
  });
  const bodies = meta.bodies?.value.map((b) => bodyName(b, locale)) ?? [];
  return {
    line: legalLine(meta, locale) ?? '',
    bodies,
    fields,
    confirmed: legal?.confirmed ?? false,
    confirmedText: legal?.confirmed
      ? interpolate(t.legalConfirmed ?? '', { who: legal.confirmedBy ?? '' })
      : '',
  };
}

/** The issue's archived sources with their link health, for the editor page. */
export function snapshotRows(rows: SnapshotRow[], t: T, issueId: number) {
  const day = (d: Date | null) => (d ? d.toISOString().slice(0, 16).replace('T', ' ') : '');
  return rows.map((r) => ({
    id: r.id,
    url: r.url,
    title: r.title ?? '',
    fetchedAt: day(r.fetched_at),
    viewUrl: `/admin/issues/${issueId}/sources/${r.id}`,
    dead: r.link_state === 'dead',
    status:
      r.link_state === 'dead'
        ? interpolate(t.snapshotDead ?? '', {
            reason: t[`dead_${r.dead_reason}`] ?? r.dead_reason,
            since: day(r.dead_since),
          })
        : r.link_state === 'alive'
          ? (t.snapshotAlive ?? '')
          : (t.snapshotUnchecked ?? ''),
    error: r.error ? interpolate(t.snapshotFailed ?? '', { error: r.error }) : '',
    hasContent: r.stored_bytes > 0,
  }));
}
