import path from 'node:path';
import type { Reporter, TestModule, Vitest } from 'vitest/node';

/**
 * Reporter that ends `npm test` with where the time went: the ten slowest test files, each with
 * its import (collect) time and its tests-and-hooks time. Listed after 'default' in vitest.config.ts.
 */
export default class SlowestFiles implements Reporter {
  private vitest?: Vitest;

  onInit(vitest: Vitest): void {
    this.vitest = vitest;
  }

  onTestRunEnd(modules: ReadonlyArray<TestModule>): void {
    const rows = modules
      .map((m) => {
        const d = m.diagnostic();
        return {
          file: path.relative(process.cwd(), m.moduleId),
          collect: d.collectDuration,
          run: d.duration,
        };
      })
      .sort((a, b) => b.collect + b.run - (a.collect + a.run))
      .slice(0, 10);
    if (rows.length === 0) return;
    const s = (ms: number) => `${(ms / 1000).toFixed(1)}s`.padStart(7);
    const lines = rows.map(
      (r) => `${s(r.collect + r.run)}  (import ${s(r.collect)}, tests ${s(r.run)})  ${r.file}`,
    );
    this.vitest?.logger.log(['', ' Slowest test files:', ...lines.map((l) => `  ${l}`)].join('\n'));
  }
}
