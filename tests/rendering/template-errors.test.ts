import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { compileVariant, loadTemplates, TemplateError } from '../../src/rendering/index.js';
import { DEFAULT_TEMPLATES_DIR } from '../../src/rendering/template-store.js';
import { hostileIssue, PUBLIC_URL } from './fixtures.js';

const dirs: string[] = [];

/** A copy of the real templates with one file changed. */
function templatesWith(file: string, edit: (source: string) => string): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'gazette-templates-'));
  dirs.push(dir);
  cpSync(DEFAULT_TEMPLATES_DIR, dir, { recursive: true });
  const target = path.join(dir, file);
  writeFileSync(target, edit(readFileSync(target, 'utf8')));
  return dir;
}

function lineOf(dir: string, file: string, needle: string): number {
  return (
    readFileSync(path.join(dir, file), 'utf8')
      .split('\n')
      .findIndex((l) => l.includes(needle)) + 1
  );
}

async function renderError(dir: string): Promise<TemplateError> {
  try {
    await compileVariant(hostileIssue(), {
      sectionKeys: ['alpha'],
      locale: 'en',
      publicUrl: PUBLIC_URL,
      templatesDir: dir,
    });
  } catch (err) {
    if (err instanceof TemplateError) return err;
    throw err;
  }
  throw new Error('expected a TemplateError');
}

afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe('template errors name the file and line', () => {
  it('loads the shipped templates without error', () => {
    expect(() => loadTemplates(DEFAULT_TEMPLATES_DIR)).not.toThrow();
  });

  it('reports bad Handlebars syntax', async () => {
    const file = 'email/partials/footer.mjml.hbs';
    const dir = templatesWith(file, (s) => s.replace('{{#if postalAddress}}', '{{#if postalAddress}'));
    const err = await renderError(dir);
    expect(err.file).toBe(file);
    expect(err.line).toBe(lineOf(dir, file, '{{#if postalAddress}'));
    expect(err.message).toContain(`${file}:${err.line}`);
  });

  it('reports a missing partial where it is used', async () => {
    const file = 'email/layout.mjml.hbs';
    const dir = templatesWith(file, (s) => s.replace('{{> toc}}', '{{> contents}}'));
    const err = await renderError(dir);
    expect(err.file).toBe(file);
    expect(err.line).toBe(lineOf(dir, file, '{{> contents}}'));
    expect(err.reason).toContain('partial "contents" not found');
  });

  it('reports an unknown helper and an unknown recipient token', async () => {
    const file = 'email/partials/item.mjml.hbs';
    let dir = templatesWith(file, (s) => s.replace('{{link url label}}', '{{hyperlink url label}}'));
    let err = await renderError(dir);
    expect([err.file, err.line, err.reason]).toEqual([file, 3, 'unknown helper "hyperlink"']);
    dir = templatesWith(file, (s) => `{{token "email"}}\n${s}`);
    err = await renderError(dir);
    expect([err.file, err.line]).toEqual([file, 1]);
  });

  it('reports a field the data does not have (strict mode) in the partial that reads it', async () => {
    const file = 'email/partials/section.mjml.hbs';
    const dir = templatesWith(file, (s) =>
      s.replace('{{sectionNumber @index}}{{name}}', '{{sectionNumber @index}}{{nmae}}'),
    );
    const err = await renderError(dir);
    expect(err.file).toBe(file);
    expect(err.line).toBe(lineOf(dir, file, '{{nmae}}'));
    expect(err.reason).toContain('nmae');
  });

  it('reports MJML strict validation errors at the template line', async () => {
    const file = 'email/partials/footer.mjml.hbs';
    const dir = templatesWith(file, (s) =>
      s.replace('<mj-divider border-width="1px"', '<mj-divider border-wdith="1px"'),
    );
    const err = await renderError(dir);
    expect(err.file).toBe(file);
    expect(err.line).toBe(lineOf(dir, file, 'border-wdith'));
    expect(err.reason).toMatch(/MJML: .*border-wdith/);
  });

  it('reports a missing layout file', async () => {
    const dir = templatesWith('email/layout.mjml.hbs', (s) => s);
    rmSync(path.join(dir, 'text/issue.txt.hbs'));
    const err = await renderError(dir);
    expect(err.file).toBe('text/issue.txt.hbs');
  });
});
