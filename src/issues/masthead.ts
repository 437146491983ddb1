import type { Masthead } from '../db/schema.js';

/**
 * The masthead's named fields, in print order, and how a form shows each: one line of text, or
 * a list of names one per line. Every field is editable (issue editor, settings defaults) and
 * printed with its label in the reader's language (templates/strings: mastheadSubtitle …).
 * `lines` holds any other labelled line a committee prints, edited as "label：value" per line.
 */
export const MASTHEAD_TEXT_FIELDS = ['subtitle', 'committee', 'editor'] as const;
export const MASTHEAD_LIST_FIELDS = ['director', 'deputyDirectors', 'editorialBoard'] as const;

export type MastheadText = (typeof MASTHEAD_TEXT_FIELDS)[number];
export type MastheadList = (typeof MASTHEAD_LIST_FIELDS)[number];

const splitLines = (text: string) =>
  text
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter(Boolean);

/** Other lines as a form shows them: `label：value`, one per line. */
export function otherLinesText(lines: Masthead['lines']): string {
  return (lines ?? []).map((l) => (l.label ? `${l.label}：${l.value}` : l.value)).join('\n');
}

/** The form's other lines back: a line without a colon is kept as a value without a label. */
export function otherLinesFrom(text: string): NonNullable<Masthead['lines']> {
  return splitLines(text).map((line) => {
    const m = /^([^:：]{1,40})[:：]\s*(.+)$/u.exec(line);
    return m
      ? { label: (m[1] as string).trim(), value: (m[2] as string).trim() }
      : { label: '', value: line };
  });
}

/** A masthead from form text (each field's raw value); empty fields are left out. */
export function mastheadFromText(
  values: Partial<Record<MastheadText | MastheadList | 'lines', string>>,
): Masthead {
  const out: Masthead = {};
  for (const key of MASTHEAD_TEXT_FIELDS) {
    const v = (values[key] ?? '').trim();
    if (v) out[key] = v;
  }
  for (const key of MASTHEAD_LIST_FIELDS) {
    const v = splitLines(values[key] ?? '');
    if (v.length) out[key] = v;
  }
  const lines = otherLinesFrom(values.lines ?? '');
  if (lines.length) out.lines = lines;
  return out;
}

/** The masthead as form text (lists one name per line). */
export function mastheadAsText(m: Masthead): Record<MastheadText | MastheadList | 'lines', string> {
  return {
    subtitle: m.subtitle ?? '',
    committee: m.committee ?? '',
    editor: m.editor ?? '',
    director: (m.director ?? []).join('\n'),
    deputyDirectors: (m.deputyDirectors ?? []).join('\n'),
    editorialBoard: (m.editorialBoard ?? []).join('\n'),
    lines: otherLinesText(m.lines),
  };
}
