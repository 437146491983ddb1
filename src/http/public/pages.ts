import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import Handlebars from 'handlebars';
import type { Locale } from '../../db/schema.js';
import { strings } from '../i18n.js';

const PAGES_DIR = fileURLToPath(new URL('../../../templates/pages/', import.meta.url));

export type PageRenderer = (page: string, locale: Locale, data?: Record<string, unknown>) => string;

/**
 * Compiles templates/pages/*.hbs once at start. Every page is wrapped in layout.hbs and gets the
 * locale's strings as `t`. Handlebars escapes every {{value}}, so names and addresses are safe.
 */
export function loadPages(dir = PAGES_DIR): PageRenderer {
  const hb = Handlebars.create();
  hb.registerHelper('eq', (a: unknown, b: unknown) => a === b);
  const compiled = compileTemplateFolder(hb, dir);
  const layout = compiled.get('layout');
  if (!layout) throw new Error(`templates/pages/layout.hbs is missing in ${dir}`);
  return (page, locale, data = {}) => {
    const template = compiled.get(page);
    if (!template) throw new Error(`No page template "${page}"`);
    const context = { ...data, t: strings(locale), locale };
    return layout({ ...context, body: template(context) });
  };
}

/** Every `name.hbs` in a folder compiled by name; `_name.hbs` files become partials. */
export function compileTemplateFolder(
  hb: typeof Handlebars,
  dir: string,
): Map<string, Handlebars.TemplateDelegate> {
  const compiled = new Map<string, Handlebars.TemplateDelegate>();
  for (const file of readdirSync(dir)) {
    if (!file.endsWith('.hbs')) continue;
    const name = file.slice(0, -4);
    const source = readFileSync(`${dir}/${file}`, 'utf8');
    if (name.startsWith('_')) hb.registerPartial(name.slice(1), source);
    else compiled.set(name, hb.compile(source, { strict: false }));
  }
  return compiled;
}
