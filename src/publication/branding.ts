import type { Branding } from '../db/schema.js';

/**
 * The branding form's rules (pure): what an admin types on /admin/settings becomes a Branding,
 * or the first problem with the field it is about. The database holds the same rules as a check
 * (migration 0013), so a value the email or the pages cannot use safely is never stored.
 */
export type BrandingField = 'logoUrl' | 'logoAlt' | 'logoWidth' | 'logoHeight' | 'accentColor' | 'contact';

export type BrandingProblem =
  | { field: 'logoUrl'; code: 'brandBadLogoUrl' }
  | { field: 'logoAlt'; code: 'brandAltRequired' }
  | { field: 'logoWidth' | 'logoHeight'; code: 'brandBadSize' }
  | { field: 'accentColor'; code: 'brandBadColor' }
  | { field: 'contact'; code: 'brandContactTooLong' };

export const HEX_COLOR = /^#(?:[0-9a-f]{3}|[0-9a-f]{6})$/i;
export const MAX_LOGO_PX = 600;

function httpsUrl(v: string): boolean {
  if (!/^https:\/\/[^\s"<>]+$/i.test(v)) return false;
  try {
    return new URL(v).protocol === 'https:';
  } catch {
    return false;
  }
}

function size(v: string): number | null | undefined {
  if (!v) return undefined;
  if (!/^\d{1,4}$/.test(v)) return null;
  const n = Number(v);
  return n >= 1 && n <= MAX_LOGO_PX ? n : null;
}

/** Form values (trimmed here) → the branding to store, keeping fields the form does not show. */
export function brandingFromForm(
  values: Partial<Record<BrandingField, string>>,
  previous: Branding,
): { branding: Branding } | { problem: BrandingProblem } {
  const v = (k: BrandingField) => (values[k] ?? '').trim();
  const out: Branding = { ...previous };
  const set = <K extends keyof Branding>(key: K, value: Branding[K] | undefined) => {
    if (value === undefined || value === '') delete out[key];
    else out[key] = value;
  };
  const logoUrl = v('logoUrl');
  if (logoUrl && !httpsUrl(logoUrl)) return { problem: { field: 'logoUrl', code: 'brandBadLogoUrl' } };
  // Alt text is what a reader with images blocked (the default in many clients) sees instead.
  if (logoUrl && !v('logoAlt')) return { problem: { field: 'logoAlt', code: 'brandAltRequired' } };
  const width = size(v('logoWidth'));
  if (width === null) return { problem: { field: 'logoWidth', code: 'brandBadSize' } };
  const height = size(v('logoHeight'));
  if (height === null) return { problem: { field: 'logoHeight', code: 'brandBadSize' } };
  const accent = v('accentColor');
  if (accent && !HEX_COLOR.test(accent)) return { problem: { field: 'accentColor', code: 'brandBadColor' } };
  if (v('contact').length > 300) return { problem: { field: 'contact', code: 'brandContactTooLong' } };
  set('logoUrl', logoUrl);
  set('logoAlt', v('logoAlt'));
  set('logoWidth', width);
  set('logoHeight', height);
  set('accentColor', accent.toLowerCase());
  set('contact', v('contact').replace(/\s+/g, ' '));
  return { branding: out };
}

/** The logo box for the email and pages: the stored size, or a 160 px wide box of unknown height. */
export function logoBox(b: Branding): { width: number; height: number | null } {
  return { width: b.logoWidth ?? 160, height: b.logoHeight ?? null };
}

/** What the subscriber pages and the archive show of the publication: name, logo, footer. */
export interface PageBrand {
  name: string;
  logo: { url: string; alt: string; width: number; height: number | null } | null;
  postalAddress: string | null;
  contact: string | null;
  accentColor: string | null;
}

export function pageBrand(
  pub: { name: string; branding: Branding | null; postal_address: string | null } | undefined,
): PageBrand {
  const b = pub?.branding ?? {};
  const name = pub?.name ?? 'Gazette';
  return {
    name,
    logo: b.logoUrl && httpsUrl(b.logoUrl) ? { url: b.logoUrl, alt: b.logoAlt || name, ...logoBox(b) } : null,
    postalAddress: pub?.postal_address ?? null,
    contact: b.contact ?? null,
    accentColor: b.accentColor && HEX_COLOR.test(b.accentColor) ? b.accentColor : null,
  };
}
