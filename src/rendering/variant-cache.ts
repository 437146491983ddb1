import type { Db, Locale } from '../db/schema.js';
import {
  type CompiledVariant,
  compileVariant,
  isGmailClipSafe,
  NoSectionsToRenderError,
} from './compile-variant.js';
import type { RenderableIssue } from './types.js';
import { planVariant } from './variant-plan.js';

/**
 * The variant for (issue revision, effective section set, locale), compiled at most once: read
 * from issue_variants, or compiled and stored. Concurrent callers race on the unique key; the
 * loser reads the winner's row, so every caller gets the same bytes.
 */
export async function getOrCompileVariant(
  db: Db,
  issue: RenderableIssue,
  opts: {
    sectionKeys: string[];
    locale: Locale;
    publicUrl: string;
    templatesDir?: string;
    /** Applied to the compiled HTML before it is stored (e.g. click-tracking links), once per variant. */
    transformHtml?: (html: string) => Promise<string>;
  },
): Promise<CompiledVariant> {
  const plan = planVariant(issue, opts.sectionKeys, opts.locale);
  if (!plan.ok) throw new NoSectionsToRenderError(plan.reason);
  const find = () =>
    db
      .selectFrom('issue_variants')
      .selectAll()
      .where('issue_id', '=', issue.id)
      .where('revision', '=', issue.revision)
      .where('variant_key', '=', plan.variantKey)
      .executeTakeFirst();

  const existing = await find();
  if (existing) return fromRow(existing);

  const raw = await compileVariant(issue, opts);
  const html = opts.transformHtml ? await opts.transformHtml(raw.html) : raw.html;
  const compiled = html === raw.html ? raw : { ...raw, html, htmlBytes: Buffer.byteLength(html, 'utf8') };
  await db
    .insertInto('issue_variants')
    .values({
      issue_id: issue.id,
      revision: issue.revision,
      variant_key: compiled.variantKey,
      locale: compiled.locale,
      section_keys: compiled.sectionKeys,
      subject: compiled.subject,
      html: compiled.html,
      text: compiled.text,
      html_bytes: compiled.htmlBytes,
      text_bytes: compiled.textBytes,
      warnings: JSON.stringify(compiled.warnings),
    })
    .onConflict((oc) => oc.columns(['issue_id', 'revision', 'variant_key']).doNothing())
    .execute();
  const stored = await find();
  return stored ? fromRow(stored) : compiled;
}

function fromRow(row: {
  variant_key: string;
  section_keys: string[];
  locale: Locale;
  subject: string;
  html: string;
  text: string;
  html_bytes: number;
  text_bytes: number;
  warnings: string[];
}): CompiledVariant {
  return {
    variantKey: row.variant_key,
    sectionKeys: row.section_keys,
    locale: row.locale,
    subject: row.subject,
    html: row.html,
    text: row.text,
    htmlBytes: row.html_bytes,
    textBytes: row.text_bytes,
    gmailClipSafe: isGmailClipSafe(row.html, row.html_bytes),
    warnings: row.warnings,
  };
}
