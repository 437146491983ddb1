import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);
const ROOT = resolve(import.meta.dirname, '../..');
const FIXTURE = resolve(ROOT, 'tests/fixtures/subscribers/with-bad-rows.csv');

describe('gazette subscribers CLI (embedded database)', () => {
  it('imports a CSV, prints each bad row with its line and a summary, and exports the same format', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'gazette-cli-'));
    const env = {
      ...process.env,
      DATA_DIR: dataDir,
      LOG_LEVEL: 'silent',
      DATABASE_URL: '',
      NODE_ENV: 'test',
    };
    const gazette = (...args: string[]) => run('node', ['bin/gazette.js', ...args], { cwd: ROOT, env });
    // The embedded database starts without sections, so every row naming topics is reported too.
    const imported = await gazette('subscribers', 'import', FIXTURE).catch(
      (err: { stdout: string; stderr: string }) => err,
    );
    expect(imported.stdout.trim()).toMatch(/^added 1, updated 0, skipped 0, invalid 8$/);
    expect(imported.stderr).toContain(`${FIXTURE}:4: Email address has no @`);
    expect(imported.stderr).toContain(`${FIXTURE}:7: Email address contains a line break`);
    expect(imported.stderr).toContain(`${FIXTURE}:3: unknown topics: foreign-regulation, case-studies`);

    await gazette('suppressions', 'add', 'example.com', '--domain', '--note', 'test');
    const listed = await gazette('suppressions', 'list', '--json');
    expect(JSON.parse(listed.stdout)).toMatchObject([
      { kind: 'domain', value: 'example.com', reason: 'manual' },
    ]);

    const out = join(dataDir, 'out.csv');
    await gazette('subscribers', 'export', out);
    const text = readFileSync(out, 'utf8');
    expect(text.split('\n')[0]).toBe('email,name,locale,topics,status');
    expect(text).toContain('zhang@example.com,张律师,zh-CN,,active');

    await gazette('suppressions', 'remove', 'example.com', '--domain');
    const erased = await gazette('subscribers', 'erase', 'zhang@example.com', '--yes');
    expect(erased.stdout).toMatch(/Erased subscriber \d+/);
    const again = await gazette('subscribers', 'import', FIXTURE, '--json').catch(
      (err: { stdout: string }) => err,
    );
    expect(JSON.parse(again.stdout).skippedReasons).toMatchObject({ erased: 1 });
  }, 300_000);
});
