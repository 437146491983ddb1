import { performance } from 'node:perf_hooks';
import {
  allSectionCombinations,
  compileTokens,
  compileVariant,
  escapeTokenValue,
  getTemplates,
  type RecipientTokens,
  tokenSegments,
} from '../src/rendering/index.js';
import { loadModelIssue } from '../tests/support/model-issue.js';

/**
 * `npm run bench -- render --recipients 100000 --json`
 * Compile time of every variant of the model issue (15 for its 4 sections), the per-recipient
 * token fill (Handlebars, and the segment splice delivery can use), and for comparison the
 * per-recipient MJML path measured on a sample and extrapolated.
 */
function flag(args: string[], name: string, fallback: number): number {
  const i = args.indexOf(`--${name}`);
  const v = i >= 0 ? Number(args[i + 1]) : Number.NaN;
  return Number.isFinite(v) && v > 0 ? v : fallback;
}

const round = (n: number, d = 2) => Math.round(n * 10 ** d) / 10 ** d;
const log = (msg: string) => process.stderr.write(`${msg}\n`);

function tokensFor(i: number): RecipientTokens {
  const id = String(100000 + i);
  return {
    name: `读者${id}`,
    unsubscribeUrl: `https://news.example.org/u/${id}.c2lnbmF0dXJlLXNpZ25hdHVyZQ`,
    preferencesUrl: `https://news.example.org/p/${id}.c2lnbmF0dXJlLXNpZ25hdHVyZQ`,
    webVersionUrl: `https://news.example.org/w/1/${id}.c2lnbmF0dXJl`,
    trackingToken: `${id}.c2lnbmF0dXJlLXNpZ25hdHVyZQ`,
  };
}

export async function run(args: string[]): Promise<object> {
  const recipients = flag(args, 'recipients', 100_000);
  const sample = flag(args, 'sample', 200);
  const publicUrl = 'https://news.example.org';
  const issue = loadModelIssue();

  let t = performance.now();
  getTemplates();
  const templateLoadMs = performance.now() - t;
  const allKeys = issue.sections.map((s) => s.key);
  t = performance.now();
  await compileVariant(issue, { sectionKeys: allKeys, locale: 'zh-CN', publicUrl }); // warm-up (JIT, MJML)
  const firstCompileMs = performance.now() - t;

  log('compiling every variant…');
  const variants = [];
  for (const keys of allSectionCombinations(issue)) {
    t = performance.now();
    const v = await compileVariant(issue, { sectionKeys: keys, locale: 'zh-CN', publicUrl });
    const compileMs = performance.now() - t;
    variants.push({
      variantKey: v.variantKey,
      sections: keys.length,
      items: issue.sections.filter((s) => keys.includes(s.key)).reduce((n, s) => n + s.items.length, 0),
      compileMs: round(compileMs),
      htmlBytes: v.htmlBytes,
      textBytes: v.textBytes,
      gmailClipSafe: v.gmailClipSafe,
      warnings: v.warnings,
    });
  }
  const compileTimes = variants.map((v) => v.compileMs);

  const full = await compileVariant(issue, { sectionKeys: allKeys, locale: 'zh-CN', publicUrl });
  t = performance.now();
  const filler = compileTokens(full);
  const tokenCompileMs = performance.now() - t;

  log(`filling ${recipients} recipients…`);
  let bytes = 0;
  t = performance.now();
  for (let i = 0; i < recipients; i++) {
    const out = filler.fill(tokensFor(i));
    bytes += out.html.length + out.text.length;
  }
  const fillMs = performance.now() - t;

  const htmlSegs = tokenSegments(full.html);
  const textSegs = tokenSegments(full.text);
  const splice = (segs: ReturnType<typeof tokenSegments>, tk: RecipientTokens, part: 'html' | 'text') => {
    let s = '';
    for (const seg of segs) s += typeof seg === 'string' ? seg : escapeTokenValue(tk[seg.token], part);
    return s;
  };
  t = performance.now();
  for (let i = 0; i < recipients; i++) {
    const tk = tokensFor(i);
    bytes += splice(htmlSegs, tk, 'html').length + splice(textSegs, tk, 'text').length;
  }
  const spliceMs = performance.now() - t;

  log(`per-recipient MJML path on a sample of ${sample}…`);
  t = performance.now();
  for (let i = 0; i < sample; i++) {
    const v = await compileVariant(issue, { sectionKeys: allKeys, locale: 'zh-CN', publicUrl });
    bytes += compileTokens(v).fill(tokensFor(i)).html.length;
  }
  const perRecipientMjmlMs = (performance.now() - t) / sample;
  if (bytes === 0) log('nothing rendered'); // keeps the loops from being optimised away

  const fillUs = (fillMs * 1000) / recipients;
  const compileAllMs = compileTimes.reduce((a, b) => a + b, 0);
  return {
    bench: 'render',
    issue: 'model 2025-07 (4 sections, 27 items)',
    recipients,
    templateLoadMs: round(templateLoadMs),
    firstCompileMs: round(firstCompileMs),
    variants,
    compile: {
      variants: variants.length,
      totalMs: round(compileAllMs),
      meanMs: round(compileAllMs / variants.length),
      maxMs: round(Math.max(...compileTimes)),
    },
    fill: {
      tokenCompileMs: round(tokenCompileMs),
      totalMs: round(fillMs),
      perRecipientUs: round(fillUs, 3),
      perSecond: Math.round(recipients / (fillMs / 1000)),
    },
    splice: {
      totalMs: round(spliceMs),
      perRecipientUs: round((spliceMs * 1000) / recipients, 3),
    },
    perRecipientMjml: {
      sample,
      perRecipientMs: round(perRecipientMjmlMs),
      extrapolatedTotalS: round((perRecipientMjmlMs * recipients) / 1000, 1),
    },
    compileOnceTotalS: round((compileAllMs + fillMs) / 1000, 2),
    speedup: Math.round((perRecipientMjmlMs * recipients) / (compileAllMs + fillMs)),
  };
}
