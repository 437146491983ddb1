import mjml2html from 'mjml';
import type { Locale } from '../db/schema.js';
import { TemplateError } from './errors.js';
import { variantSubject } from './inbox-line.js';
import { getTemplates } from './template-store.js';
import { buildTheme } from './theme.js';
import { findStrayBraces, RECIPIENT_TOKEN_KEYS } from './tokens.js';
import type { RenderableIssue } from './types.js';
import { planVariant, variantKey } from './variant-plan.js';
import { buildViewModel } from './view-model.js';

/** Our budget for a full variant's HTML (the issue's size target). */
export const HTML_BUDGET_BYTES = 100_000;
/** Gmail clips message HTML over about 102 KB. */
export const GMAIL_CLIP_BYTES = 102_000;
/** Room kept per token occurrence for the filled value (signed URLs are long). */
const TOKEN_ALLOWANCE_BYTES = 200;

export interface CompiledVariant {
  variantKey: string;
  sectionKeys: string[];
  locale: Locale;
  subject: string;
  html: string;
  text: string;
  htmlBytes: number;
  textBytes: number;
  gmailClipSafe: boolean;
  warnings: string[];
}

export interface CompileVariantOptions {
  sectionKeys: string[];
  locale: Locale;
  publicUrl: string;
  /** Defaults to the project's templates/ folder. */
  templatesDir?: string;
}

export class NoSectionsToRenderError extends Error {
  override name = 'NoSectionsToRenderError';
  constructor(readonly reason: string) {
    super(`nothing to render: ${reason}`);
  }
}

/** Drops the whitespace MJML leaves between tags; keeps spaces inside lines (inline content). */
function lean(html: string): string {
  return html
    .replace(/>\s*\n\s*</g, '><')
    .replace(/\n\s+/g, '\n')
    .replace(/[ \t]+\n/g, '\n');
}

function tokenCount(s: string): number {
  return (s.match(new RegExp(`\\{\\{(?:${RECIPIENT_TOKEN_KEYS.join('|')})\\}\\}`, 'g')) ?? []).length;
}

/** Gmail-clip check on the size after filling (tokens grow to URLs). */
export function isGmailClipSafe(html: string, htmlBytes: number): boolean {
  return htmlBytes + tokenCount(html) * TOKEN_ALLOWANCE_BYTES <= GMAIL_CLIP_BYTES;
}

export function sizeWarnings(htmlBytes: number, gmailClipSafe: boolean): string[] {
  const out: string[] = [];
  if (htmlBytes > HTML_BUDGET_BYTES)
    out.push(`html is ${htmlBytes} bytes, over the ${HTML_BUDGET_BYTES}-byte budget`);
  if (!gmailClipSafe) out.push(`html may be clipped by Gmail (over ~${GMAIL_CLIP_BYTES} bytes once filled)`);
  return out;
}

/**
 * Renders one variant of an issue (a set of sections in one locale) once: MJML to lean HTML and
 * a plain-text part, both holding per-recipient `{{tokens}}` and nothing else in braces.
 * Template problems throw TemplateError naming the file and line.
 */
export async function compileVariant(
  issue: RenderableIssue,
  opts: CompileVariantOptions,
): Promise<CompiledVariant> {
  const templates = getTemplates(opts.templatesDir);
  const plan = planVariant(issue, opts.sectionKeys, opts.locale);
  if (!plan.ok) throw new NoSectionsToRenderError(plan.reason);
  const warnings: string[] = [];
  if (plan.unknownKeys.length) warnings.push(`unknown section keys ignored: ${plan.unknownKeys.join(', ')}`);
  const chosen = new Set(plan.sectionKeys);
  const sections = issue.sections.filter((s) => chosen.has(s.key));
  const theme = buildTheme(issue.publication.branding, issue.locale, warnings);
  const strings = templates.strings[opts.locale];
  const common = { issue, sections, locale: opts.locale, publicUrl: opts.publicUrl, theme, strings };

  const source = templates.mjml(buildViewModel({ ...common, mode: 'html', warnings }));
  // mjml 4 returns synchronously, mjml 5 (whose types are installed) a promise: await covers both.
  let rendered: Awaited<ReturnType<typeof mjml2html>>;
  try {
    rendered = await mjml2html(source, {
      validationLevel: 'strict',
      keepComments: false,
      beautify: false,
      minify: false,
      filePath: templates.dir,
    });
  } catch (err) {
    const first = (err as { errors?: { line: number; message: string }[] }).errors?.[0];
    if (!first) throw err;
    const at = templates.sourceOf(source, first.line);
    throw new TemplateError(at.file, at.line, `MJML: ${first.message}`);
  }
  const html = lean(rendered.html);
  const text = `${templates
    .text(buildViewModel({ ...common, mode: 'text' }))
    .replace(/[ \t]+$/gm, '')
    .replace(/\n{3,}/g, '\n\n')
    .trim()}\n`;

  for (const [part, body] of [
    ['html', html],
    ['text', text],
  ] as const) {
    const stray = findStrayBraces(body);
    if (stray)
      throw new TemplateError(
        part === 'html' ? 'email' : 'text',
        null,
        `stray braces in ${part}: …${stray}…`,
      );
  }

  const htmlBytes = Buffer.byteLength(html, 'utf8');
  const textBytes = Buffer.byteLength(text, 'utf8');
  const gmailClipSafe = isGmailClipSafe(html, htmlBytes);
  warnings.push(...sizeWarnings(htmlBytes, gmailClipSafe));
  return {
    variantKey: variantKey(plan.sectionKeys, opts.locale),
    sectionKeys: plan.sectionKeys,
    locale: opts.locale,
    subject: variantSubject(issue, opts.locale),
    html,
    text,
    htmlBytes,
    textBytes,
    gmailClipSafe,
    warnings,
  };
}
