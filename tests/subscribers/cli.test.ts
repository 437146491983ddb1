import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AppContext } from '../../src/context.js';
import { gazette as cli, cliContext } from '../support/cli.js';

const ROOT = resolve(import.meta.dirname, '../..');
const FIXTURE = resolve(ROOT, 'tests/fixtures/subscribers/with-bad-rows.csv');

let context: AppContext;
let close: () => Promise<void>;
beforeAll(async () => {
  ({ context, close } = await cliContext());
});
afterAll(() => close?.());

describe('gazette subscribers CLI', () => {
  it('imports a CSV, prints each bad row with its line and a summary, and exports the same format', async () => {
    const gazette = (...args: string[]) => cli(args, { context });
    // A fresh install starts with the model's four sections, so rows naming them are accepted.
    const imported = await gazette('subscribers', 'import', FIXTURE);
    expect(imported.stdout.trim()).toMatch(/^added 4, updated 0, skipped 0, invalid 5$/);
    expect(imported.stderr).toContain(`${FIXTURE}:4: Email address has no @`);
    expect(imported.stderr).toContain(`${FIXTURE}:7: Email address contains a line break`);
    expect(imported.stderr).not.toContain(`${FIXTURE}:3:`);

    await gazette('suppressions', 'add', 'example.com', '--domain', '--note', 'test');
    const listed = await gazette('suppressions', 'list', '--json');
    expect(JSON.parse(listed.stdout)).toMatchObject([
      { kind: 'domain', value: 'example.com', reason: 'manual' },
    ]);

    const out = join(context.env.DATA_DIR, 'out.csv');
    expect((await gazette('subscribers', 'export', out)).code).toBe(0);
    const text = readFileSync(out, 'utf8');
    expect(text.split('\n')[0]).toBe('email,name,locale,topics,status');
    expect(text).toContain('zhang@example.com,张律师,zh-CN,,active');

    await gazette('suppressions', 'remove', 'example.com', '--domain');
    const erased = await gazette('subscribers', 'erase', 'zhang@example.com', '--yes');
    expect(erased.stdout).toMatch(/Erased subscriber \d+/);
    const again = await gazette('subscribers', 'import', FIXTURE, '--json');
    expect(JSON.parse(again.stdout).skippedReasons).toMatchObject({ erased: 1 });
  });

  it('names the worker roles when serve --workers or worker --roles is given one that does not exist', async () => {
    const gazette = (...args: string[]) => cli(args, { context });
    for (const args of [
      ['serve', '--workers', 'imports,bogus'],
      ['worker', '--roles', 'bogus'],
    ]) {
      const res = await gazette(...args);
      expect(res.code).not.toBe(0);
      expect(res.stderr).toContain('unknown worker role(s): bogus; use feeds,issues,send,archive,imports');
    }
  });
});
