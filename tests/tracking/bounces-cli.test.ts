import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { projectRoot } from '../support/model-issue.js';

const run = promisify(execFile);
const cli = (...args: string[]) =>
  run('node', [path.join(projectRoot, 'bin/gazette.js'), ...args], {
    cwd: projectRoot,
    env: {
      PATH: process.env.PATH,
      DATA_DIR: mkdtempSync(path.join(tmpdir(), 'gazette-bounces-cli-')),
      LOG_LEVEL: 'silent',
      NODE_ENV: 'test',
    },
    timeout: 60_000,
  });

describe('gazette bounces parse --json', () => {
  it('prints one JSON line per file of a folder and per file named, and a line with the error for a file it cannot read', {
    timeout: 60_000,
  }, async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'gazette-reports-'));
    writeFileSync(path.join(dir, 'not-a-report.eml'), 'Subject: hello\r\n\r\nhi\r\n');
    const { stdout } = await cli(
      'bounces',
      'parse',
      '--json',
      path.join(projectRoot, 'tests/fixtures/bounces/qq'),
      path.join(dir, 'missing.eml'),
      path.join(projectRoot, 'tests/fixtures/bounces/arf/auth-failure.eml'),
      dir,
    );
    const lines = stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(lines.map((l) => path.basename(l.file))).toEqual([
      'zh-frequency.eml',
      'zh-not-found.eml',
      'missing.eml',
      'auth-failure.eml',
      'not-a-report.eml',
    ]);
    expect(lines[0]).toMatchObject({
      kind: 'bounce',
      recipients: [{ address: '11223344@qq.com', reason: 'rate_limited', hard: false }],
    });
    expect(lines[1].recipients[0]).toMatchObject({
      address: '987654321@qq.com',
      reason: 'user_unknown',
      hard: true,
    });
    expect(lines[2]).toEqual({
      file: path.join(dir, 'missing.eml'),
      error: expect.stringContaining('ENOENT'),
    });
    expect(lines[3]).toMatchObject({ kind: 'complaint', feedbackType: 'auth-failure' });
    expect(lines[4]).toMatchObject({ kind: 'none', recipients: [] });
  });
});
