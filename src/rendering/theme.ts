import type { Branding, Locale } from '../db/schema.js';

/** CJK-first stack from the issue brief; Latin faces first for English so Latin glyphs match. */
const CJK_STACK =
  "-apple-system,'PingFang SC','Hiragino Sans GB','Microsoft YaHei','Noto Sans CJK SC','Noto Sans SC',sans-serif";
const LATIN_STACK =
  "-apple-system,'Segoe UI',Roboto,Helvetica,Arial,'PingFang SC','Hiragino Sans GB','Microsoft YaHei','Noto Sans CJK SC',sans-serif";

export interface Theme {
  fontFamily: string;
  lineHeight: string;
  lineBreak: string;
  wordBreak: string;
  primary: string;
  link: string;
  text: string;
  muted: string;
  rule: string;
  background: string;
  darkBackground: string;
  darkText: string;
  darkMuted: string;
  darkLink: string;
}

const HEX = /^#(?:[0-9a-f]{3}|[0-9a-f]{6})$/i;
const FONT = /^[\w\s,'"-]+$/;

function color(value: string | undefined, fallback: string, warnings: string[], field: string): string {
  if (value === undefined || value === '') return fallback;
  if (HEX.test(value)) return value;
  warnings.push(`branding.${field} "${value}" is not a #rgb/#rrggbb colour; using ${fallback}`);
  return fallback;
}

/** WCAG relative luminance contrast ratio of two hex colours. */
export function contrastRatio(a: string, b: string): number {
  const lum = (hex: string) => {
    const h = hex.length === 4 ? [...hex.slice(1)].map((c) => c + c).join('') : hex.slice(1);
    const [r, g, bl] = [0, 2, 4].map((i) => {
      const c = Number.parseInt(h.slice(i, i + 2), 16) / 255;
      return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
    }) as [number, number, number];
    return 0.2126 * r + 0.7152 * g + 0.0722 * bl;
  };
  const [x, y] = [lum(a), lum(b)].sort((p, q) => q - p) as [number, number];
  return (x + 0.05) / (y + 0.05);
}

/** Colours and type from the publication's branding; values are checked so none can inject CSS. */
export function buildTheme(branding: Branding, locale: Locale, warnings: string[]): Theme {
  const cjk = locale === 'zh-CN';
  let fontFamily = cjk ? CJK_STACK : LATIN_STACK;
  if (branding.fontFamily) {
    if (FONT.test(branding.fontFamily))
      fontFamily = `${branding.fontFamily.replace(/"/g, "'")},${fontFamily}`;
    else warnings.push('branding.fontFamily has characters a font list cannot contain; ignored');
  }
  const background = color(branding.backgroundColor, '#ffffff', warnings, 'backgroundColor');
  const text = color(branding.textColor, '#1f2328', warnings, 'textColor');
  const primary = color(branding.primaryColor, '#1f4e79', warnings, 'primaryColor');
  const link = color(branding.accentColor, primary, warnings, 'accentColor');
  for (const [name, fg] of [
    ['textColor', text],
    ['primaryColor', primary],
    ['accentColor', link],
  ] as const) {
    const ratio = contrastRatio(fg, background);
    if (ratio < 4.5)
      warnings.push(`branding.${name} ${fg} on ${background} has contrast ${ratio.toFixed(2)}:1 (< 4.5:1)`);
  }
  return {
    fontFamily,
    lineHeight: cjk ? '1.8' : '1.6',
    // CJK: strict kinsoku keeps full-width punctuation off line starts. word-break stays normal
    // (CJK breaks between characters anyway); long URLs break via overflow-wrap on links.
    lineBreak: cjk ? 'strict' : 'auto',
    wordBreak: 'normal',
    primary,
    link,
    text,
    muted: '#5f6368',
    rule: '#d0d7de',
    background,
    darkBackground: '#121212',
    darkText: '#e8eaed',
    darkMuted: '#b0b4ba',
    darkLink: '#8ab4f8',
  };
}
