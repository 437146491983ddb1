import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import Handlebars from 'handlebars';
import type { Locale } from '../db/schema.js';
import { TemplateError } from './errors.js';
import { registerHelpers } from './helpers.js';
import { isRecipientTokenKey } from './tokens.js';

export const DEFAULT_TEMPLATES_DIR = path.resolve(
  path.dirname(fileURLToPath(import.meta.url)),
  '../../templates',
);

export type Strings = Record<string, string>;
type Render = (context: object) => string;

export interface TemplateSet {
  dir: string;
  /** Renders the MJML source of a variant (layout + partials). */
  mjml: Render;
  /** Renders the plain-text part. */
  text: Render;
  strings: Record<Locale, Strings>;
  /** Maps a line of rendered MJML back to the template file and line that produced it. */
  sourceOf(renderedMjml: string, line: number): { file: string; line: number | null };
}

const MARKER = /<!--@tpl:([^:]+):(\d+)-->/g;
const BUILTIN_HELPERS = new Set(['if', 'unless', 'each', 'with', 'lookup', 'log']);
export const HELPER_NAMES = new Set([
  'token',
  't',
  'periodLabel',
  'sectionNumber',
  'itemNumber',
  'link',
  'wrap',
  'refs',
  'rule',
  'summaryBlock',
]);

/** Before each MJML tag line, a comment naming file and line (MJML drops comments from output). */
function instrument(source: string, file: string): string {
  return source
    .split('\n')
    .map((line, i) => line.replace(/^(\s*)(<mj-)/, `$1<!--@tpl:${file}:${i + 1}-->$2`))
    .join('\n');
}

function lineOf(err: unknown): number | null {
  const e = err as { lineNumber?: number; message?: string };
  if (typeof e.lineNumber === 'number') return e.lineNumber;
  const m = /line (\d+)/i.exec(e.message ?? '') ?? / - (\d+):\d+/.exec(e.message ?? '');
  return m ? Number(m[1]) : null;
}

/** Handlebars parse errors put the useful part ("Expecting …, got …") on the last line. */
function firstLine(message: string): string {
  const lines = message
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean);
  if (lines.length <= 1) return lines[0] ?? message;
  return `${lines[0]} ${lines[lines.length - 1]}`;
}

interface HbNode {
  type: string;
  loc?: { start: { line: number } };
  path?: { original?: unknown; type?: string };
  name?: { original?: unknown; type?: string };
  params?: HbNode[];
  hash?: { pairs: { value: HbNode }[] };
  program?: { body: HbNode[] };
  inverse?: { body: HbNode[] };
  body?: HbNode[];
  value?: unknown;
}

/** Static checks with line numbers: unknown partials, unknown helpers, unknown token names. */
function checkAst(ast: HbNode, file: string, partials: Set<string>): void {
  const visit = (node: HbNode | undefined): void => {
    if (!node) return;
    const line = node.loc?.start.line ?? null;
    if (node.type === 'PartialStatement' || node.type === 'PartialBlockStatement') {
      const name = String(node.name?.original ?? '');
      if (!partials.has(name)) throw new TemplateError(file, line, `partial "${name}" not found`);
    }
    if (
      node.type === 'MustacheStatement' ||
      node.type === 'BlockStatement' ||
      node.type === 'SubExpression'
    ) {
      const name = String(node.path?.original ?? '');
      const hasArgs = (node.params?.length ?? 0) > 0 || (node.hash?.pairs.length ?? 0) > 0;
      if ((hasArgs || node.type === 'BlockStatement') && node.path?.type === 'PathExpression') {
        if (!BUILTIN_HELPERS.has(name) && !HELPER_NAMES.has(name) && hasArgs)
          throw new TemplateError(file, line, `unknown helper "${name}"`);
      }
      if (name === 'token') {
        const arg = node.params?.[0];
        if (arg?.type !== 'StringLiteral' || !isRecipientTokenKey(String(arg.value)))
          throw new TemplateError(
            file,
            line,
            `token needs one of the recipient token names, got ${String(arg?.value)}`,
          );
      }
      for (const p of node.params ?? []) visit(p);
      for (const p of node.hash?.pairs ?? []) visit(p.value);
    }
    for (const child of node.program?.body ?? []) visit(child);
    for (const child of node.inverse?.body ?? []) visit(child);
    for (const child of node.body ?? []) visit(child);
  };
  visit(ast);
}

function rethrowAt(file: string, err: unknown): never {
  if (err instanceof TemplateError) throw err;
  throw new TemplateError(file, lineOf(err), firstLine((err as Error).message ?? String(err)));
}

function listTemplates(dir: string, suffix: string): { name: string; file: string }[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => f.endsWith(suffix))
    .sort()
    .map((f) => ({ name: f.slice(0, -suffix.length), file: path.join(dir, f) }));
}

function buildEnv(
  root: string,
  mode: 'html' | 'text',
  main: string,
  partialsDir: string,
  suffix: string,
  strings: Record<Locale, Strings>,
): Render {
  const hb = Handlebars.create();
  registerHelpers(hb, mode, strings);
  const rel = (f: string) => path.relative(root, f);
  const mainFile = path.join(root, main);
  if (!existsSync(mainFile)) throw new TemplateError(main, null, 'template file not found');
  const sources = [{ name: '', file: mainFile }, ...listTemplates(path.join(root, partialsDir), suffix)];
  const partialNames = new Set(sources.filter((s) => s.name).map((s) => s.name));
  const compileOpts = { strict: true, noEscape: mode === 'text' } as const;
  const compiled = sources.map(({ name, file }) => {
    const relFile = rel(file);
    let source = readFileSync(file, 'utf8');
    if (mode === 'html') source = instrument(source, relFile);
    try {
      checkAst(Handlebars.parse(source) as unknown as HbNode, relFile, partialNames);
      Handlebars.precompile(source, compileOpts); // surfaces compile errors now, with a line
    } catch (err) {
      rethrowAt(relFile, err);
    }
    const template = hb.compile(source, compileOpts);
    return { name, relFile, template };
  });
  for (const { name, relFile, template } of compiled) {
    if (!name) continue;
    // Wrapped so a runtime error (strict lookup of a missing field) names the partial's file.
    hb.registerPartial(name, ((context: unknown, options: Handlebars.RuntimeOptions) => {
      try {
        return template(context, options);
      } catch (err) {
        rethrowAt(relFile, err);
      }
    }) as unknown as Handlebars.Template);
  }
  const top = compiled[0] as (typeof compiled)[number];
  return (context) => {
    try {
      return top.template(context);
    } catch (err) {
      rethrowAt(top.relFile, err);
    }
  };
}

function loadStrings(dir: string): Record<Locale, Strings> {
  const read = (locale: Locale): Strings => {
    const file = path.join(dir, 'strings', `${locale}.json`);
    try {
      return JSON.parse(readFileSync(file, 'utf8')) as Strings;
    } catch (err) {
      throw new TemplateError(path.relative(dir, file), lineOf(err), firstLine((err as Error).message));
    }
  };
  return { 'zh-CN': read('zh-CN'), en: read('en') };
}

/** Reads, checks and compiles every template under `dir`; throws TemplateError (file, line). */
export function loadTemplates(dir: string = DEFAULT_TEMPLATES_DIR): TemplateSet {
  const strings = loadStrings(dir);
  const mjml = buildEnv(dir, 'html', 'email/layout.mjml.hbs', 'email/partials', '.mjml.hbs', strings);
  const text = buildEnv(dir, 'text', 'text/issue.txt.hbs', 'text/partials', '.txt.hbs', strings);
  return {
    dir,
    mjml,
    text,
    strings,
    sourceOf(rendered, line) {
      const lines = rendered.split('\n');
      for (let i = Math.min(line, lines.length) - 1; i >= 0; i--) {
        const found = [...(lines[i] ?? '').matchAll(MARKER)];
        const m = i === line - 1 ? found[0] : found[found.length - 1];
        if (m) return { file: m[1] as string, line: Number(m[2]) };
      }
      return { file: 'email/layout.mjml.hbs', line: null };
    },
  };
}

const cache = new Map<string, TemplateSet>();

/** Templates are read once per process and directory. */
export function getTemplates(dir: string = DEFAULT_TEMPLATES_DIR): TemplateSet {
  let set = cache.get(dir);
  if (!set) {
    set = loadTemplates(dir);
    cache.set(dir, set);
  }
  return set;
}
