import type { Branding, ItemSourceLink, Locale, LocalizedText, Masthead } from '../db/schema.js';
import type { LegalMetadata } from '../legal/types.js';

/**
 * The issue as the renderer sees it: plain data, loaded once per (issue revision). The editorial
 * stage builds it (src/issues), the rendering stage turns it into variants (src/rendering).
 */
export interface RenderableItem {
  id: number;
  title: string;
  /** Markdown (rendering/summary.ts): paragraphs, links, emphasis, lists. */
  summary: string;
  sources: ItemSourceLink[];
  /** Legal metadata (src/legal), shown as one line under the title. */
  legal?: LegalMetadata;
  /** Web version only: cited sources found dead, with the archived copy Gazette serves. */
  deadSources?: { url: string; snapshotUrl: string }[];
}

export interface RenderableSection {
  key: string;
  names: LocalizedText;
  items: RenderableItem[];
}

export interface RenderableIssue {
  id: number;
  revision: number;
  period: string;
  periodKind: 'month' | 'week';
  title: string;
  subject: string;
  preheader: string;
  intro: string;
  /** The issue's content language. */
  locale: Locale;
  masthead: Masthead;
  trackingEnabled: boolean;
  publication: {
    name: string;
    timeZone: string;
    postalAddress: string | null;
    branding: Branding;
    listId: string | null;
  };
  /** Every section of the issue, in order; some may be empty. */
  sections: RenderableSection[];
}

/** Per-recipient values filled into a compiled variant at send time (never compiled per recipient). */
export interface RecipientTokens {
  name: string;
  unsubscribeUrl: string;
  preferencesUrl: string;
  webVersionUrl: string;
  /** Signed id of the delivery, used by the open pixel and click redirects. */
  trackingToken: string;
}
