import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Command } from 'commander';
import { LOCALES, type Locale } from '../../db/schema.js';
import { loadRenderableIssue } from '../../issues/load.js';
import {
  allSectionCombinations,
  type CompiledVariant,
  compileTokens,
  compileVariant,
  planVariant,
  type RenderableIssue,
  sectionsWithItems,
} from '../../rendering/index.js';
import type { CliRuntime } from '../runtime.js';

class RenderUsageError extends Error {
  override name = 'RenderUsageError';
  readonly userFacing = true;
}

interface RenderOptions {
  topics?: string;
  locale?: string;
  out: string;
  allVariants?: boolean;
  preview?: boolean;
}

/** An issue id from the ledger, or a JSON file holding a RenderableIssue (for trying templates). */
async function readIssue(runtime: CliRuntime, ref: string): Promise<RenderableIssue> {
  if (/^\d+$/.test(ref)) return loadRenderableIssue((await runtime.context()).db, Number(ref));
  try {
    return JSON.parse(await readFile(ref, 'utf8')) as RenderableIssue;
  } catch (err) {
    throw new RenderUsageError(
      `cannot read issue "${ref}" (an issue id or a JSON file): ${(err as Error).message}`,
    );
  }
}

function sampleTokens(publicUrl: string) {
  const base = publicUrl.replace(/\/+$/, '');
  return {
    name: 'Reader',
    unsubscribeUrl: `${base}/unsubscribe/preview`,
    preferencesUrl: `${base}/preferences/preview`,
    webVersionUrl: `${base}/web/preview`,
    trackingToken: 'preview',
  };
}

export function registerRenderCommands(program: Command, runtime: CliRuntime): void {
  program
    .command('render')
    .description('compile an issue variant to HTML and text, with a size report')
    .argument('<issue>', 'issue id, or a JSON file holding a RenderableIssue')
    .option('--topics <keys>', 'comma-separated section keys (default: every section with items)')
    .option('--locale <locale>', `one of ${LOCALES.join(', ')} (default: the issue's)`)
    .option('--all-variants', 'write every combination of the non-empty sections')
    .option('--preview', 'fill the recipient tokens with sample values')
    .requiredOption('--out <dir>', 'directory for the .html, .txt and report.json')
    .action(async (ref: string, opts: RenderOptions) => {
      const issue = await readIssue(runtime, ref);
      const locale = (opts.locale ?? issue.locale) as Locale;
      if (!LOCALES.includes(locale))
        throw new RenderUsageError(`--locale must be one of ${LOCALES.join(', ')}`);
      const publicUrl = runtime.env().PUBLIC_URL;
      const sets = opts.allVariants
        ? allSectionCombinations(issue)
        : [
            opts.topics
              ? opts.topics.split(',').map((k) => k.trim())
              : sectionsWithItems(issue).map((s) => s.key),
          ];
      await mkdir(opts.out, { recursive: true });
      const report = [];
      for (const keys of sets) {
        const plan = planVariant(issue, keys, locale);
        if (!plan.ok)
          throw new RenderUsageError(
            `nothing to render for --topics ${keys.join(',')}: ${plan.reason.replace(/_/g, ' ')}`,
          );
        const v: CompiledVariant = await compileVariant(issue, { sectionKeys: keys, locale, publicUrl });
        const out = opts.preview ? compileTokens(v).fill(sampleTokens(publicUrl)) : v;
        const base = path.join(opts.out, v.variantKey.replace(/[^\w+.-]+/g, '_'));
        await writeFile(`${base}.html`, out.html);
        await writeFile(`${base}.txt`, out.text);
        report.push({
          variant: v.variantKey,
          sectionKeys: v.sectionKeys,
          htmlBytes: v.htmlBytes,
          textBytes: v.textBytes,
          gmailClipSafe: v.gmailClipSafe,
          warnings: v.warnings,
          files: [`${base}.html`, `${base}.txt`],
        });
        for (const w of v.warnings)
          runtime.log().warn({ event: 'render.variant.warning', variant: v.variantKey, warning: w }, w);
      }
      await writeFile(path.join(opts.out, 'report.json'), `${JSON.stringify(report, null, 2)}\n`);
      runtime.print(
        report,
        report
          .map(
            (r) =>
              `${r.variant}: html ${(r.htmlBytes / 1024).toFixed(1)} KB, text ${(r.textBytes / 1024).toFixed(1)} KB` +
              `${r.gmailClipSafe ? '' : ' (may be clipped by Gmail)'}${r.warnings.length ? ` — ${r.warnings.join('; ')}` : ''}`,
          )
          .concat(`report: ${path.join(opts.out, 'report.json')}`)
          .join('\n'),
      );
    });
}
