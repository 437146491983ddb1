import { readdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * `npm run bench -- <name> [flags]` runs bench/<name>.ts, whose `run(args)` returns the figures;
 * they are printed as one JSON object on stdout (progress goes to stderr).
 */
export async function main(argv: string[]): Promise<void> {
  const here = dirname(fileURLToPath(import.meta.url));
  const available = readdirSync(here)
    .filter((f) => f.endsWith('.ts') && f !== 'main.ts' && !f.startsWith('_'))
    .map((f) => f.slice(0, -3));
  const [name, ...args] = argv;
  if (!name || !available.includes(name)) {
    process.stderr.write(`usage: npm run bench -- <${available.join('|')}> [--json] [options]\n`);
    process.exit(2);
  }
  const mod = (await import(`./${name}.ts`)) as { run(args: string[]): Promise<unknown> };
  const result = await mod.run(args);
  process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
  process.exit(0);
}
