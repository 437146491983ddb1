import type { JurisdictionCode, LegalKind } from './vocabulary.js';

/** Where a value came from: the rules' evidence, or an editor. */
export type Provenance = 'title' | 'summary' | 'source-url' | 'snapshot' | 'section' | 'editor';
export const PROVENANCES: readonly Provenance[] = [
  'title',
  'summary',
  'source-url',
  'snapshot',
  'section',
  'editor',
];

export interface Sourced<T> {
  value: T;
  from: Provenance;
}

export interface LegalValues {
  jurisdiction: JurisdictionCode;
  bodies: string[];
  kind: LegalKind;
  documentNumber: string;
  caseNumber: string;
  court: string;
  /** YYYY-MM-DD */
  publishedOn: string;
  /** YYYY-MM-DD: effective / 施行 */
  effectiveOn: string;
}
export type LegalField = keyof LegalValues;
export const LEGAL_FIELDS: readonly LegalField[] = [
  'jurisdiction',
  'bodies',
  'kind',
  'documentNumber',
  'caseNumber',
  'court',
  'publishedOn',
  'effectiveOn',
];

/** Each field with its provenance; a field the rules could not find is absent. */
export type LegalMetadata = { [K in LegalField]?: Sourced<LegalValues[K]> };

/**
 * What an editor decided, stored on the issue item (issue_items.legal): the fields they set (null
 * clears a field the rules found) and whether they confirmed the rest as extracted.
 */
export interface LegalEdits {
  fields?: { [K in LegalField]?: LegalValues[K] | null };
  /** Values as confirmed: frozen so a later rule change does not alter what an editor checked. */
  confirmed?: LegalMetadata;
  confirmedBy?: string;
  confirmedAt?: string;
}

/** The item's metadata as shown: rules, then snapshot hints, then the editor's word. */
export interface ItemLegal {
  metadata: LegalMetadata;
  confirmed: boolean;
  confirmedBy: string | null;
}
