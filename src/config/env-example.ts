import { globalRegistry, type ZodType } from 'zod';
import { envSchema } from './env.js';

/**
 * .env.example, written from the one schema (src/config/env.ts): every variable with its
 * description, default or example, so the file can never again miss a variable. `npm run
 * env:example` writes it; a test fails when the file differs from this.
 */
export function renderEnvExample(shape: Record<string, ZodType> = envSchema.shape): string {
  const out = [
    '# Generated from src/config/env.ts by `npm run env:example`; do not edit by hand.',
    '# Gazette reads its whole configuration from the environment. Every variable is optional on a',
    '# developer machine (the defaults run the demo); set the commented ones to use them.',
  ];
  for (const [key, field] of Object.entries(shape)) {
    const meta = (globalRegistry.get(field) ?? {}) as { description?: string; example?: string };
    out.push('');
    for (const line of wrap(meta.description ?? '(no description in src/config/env.ts)', 96))
      out.push(`# ${line}`);
    const def = defaultOf(field);
    if (def !== undefined) out.push(`${key}=${def}`);
    else out.push(`# ${key}=${meta.example ?? ''}`);
  }
  return `${out.join('\n')}\n`;
}

function defaultOf(field: ZodType): string | undefined {
  const def = (field as unknown as { _zod: { def: { type: string; defaultValue?: unknown } } })._zod.def;
  if (def.type !== 'default') return undefined;
  const v = def.defaultValue;
  return Array.isArray(v) ? v.join(',') : String(v);
}

function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(/\s+/)) {
    if (line && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  if (line) lines.push(line);
  return lines;
}
