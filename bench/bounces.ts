import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseReport } from '../src/tracking/report-parse.js';
import { projectRoot } from '../tests/support/model-issue.js';

/**
 * `npm run bench -- bounces --json [--reports 10000]`
 * Reports read per second and peak memory, on reports generated from our corpus
 * (tests/fixtures/bounces): each one a copy of a fixture with its own recipient address.
 */
function flag(args: string[], name: string, fallback: number): number {
  const i = args.indexOf(`--${name}`);
  const v = i >= 0 ? Number(args[i + 1]) : Number.NaN;
  return Number.isFinite(v) && v > 0 ? v : fallback;
}

export async function run(args: string[]): Promise<object> {
  const count = flag(args, 'reports', 10_000);
  const dir = path.join(projectRoot, 'tests/fixtures/bounces');
  const corpus = readdirSync(dir, { withFileTypes: true })
    .filter((d) => d.isDirectory())
    .flatMap((d) =>
      readdirSync(path.join(dir, d.name)).map((f) => readFileSync(path.join(dir, d.name, f), 'latin1')),
    );
  const reports = Array.from({ length: count }, (_, i) => {
    const text = corpus[i % corpus.length] as string;
    return Buffer.from(
      text.replace(/([A-Za-z0-9._-]+)@(example\.(?:com|net|org|cn))/g, `$1.${i}@$2`),
      'latin1',
    );
  });
  const bytes = reports.reduce((n, r) => n + r.length, 0);
  global.gc?.();
  const heapBefore = process.memoryUsage().heapUsed;
  let peakHeap = heapBefore;
  const kinds: Record<string, number> = {};
  const t0 = performance.now();
  for (let i = 0; i < reports.length; i++) {
    const r = await parseReport(reports[i] as Buffer);
    kinds[r.kind] = (kinds[r.kind] ?? 0) + 1;
    if (i % 500 === 0) peakHeap = Math.max(peakHeap, process.memoryUsage().heapUsed);
  }
  const ms = performance.now() - t0;
  peakHeap = Math.max(peakHeap, process.memoryUsage().heapUsed);
  return {
    reports: count,
    corpusFiles: corpus.length,
    megabytes: Math.round((bytes / 1024 / 1024) * 100) / 100,
    seconds: Math.round(ms) / 1000,
    reportsPerSecond: Math.round((count / ms) * 1000),
    peakHeapMiB: Math.round((peakHeap / 1024 / 1024) * 10) / 10,
    heapGrowthMiB: Math.round(((peakHeap - heapBefore) / 1024 / 1024) * 10) / 10,
    maxRssMiB: Math.round(process.resourceUsage().maxRSS / 1024),
    kinds,
  };
}
