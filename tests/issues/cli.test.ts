import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import type { Masthead } from '../../src/db/schema.js';
import { parseIssueMarkdown } from '../../src/issues/markdown-parse.js';

const run = promisify(execFile);
const projectRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const model = path.resolve(projectRoot, '../shared/reference/sample-issue-2025-07.md');
// The embedded database (PGlite), as a newcomer without DATABASE_URL gets it.
const dataDir = mkdtempSync(path.join(tmpdir(), 'gazette-issue-cli-'));
const env = { ...process.env, DATA_DIR: dataDir, DATABASE_URL: '', LOG_LEVEL: 'silent', NODE_ENV: 'test' };
const gazette = (...args: string[]) =>
  run(process.execPath, [path.join(projectRoot, 'bin/gazette.js'), ...args], { env, cwd: projectRoot });

afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

describe('gazette issue import / export (CLI, embedded database)', () => {
  // Two process starts only: each opens the embedded database and runs the migrations.
  it('prints {id, title, period, masthead, sections} as JSON, and exports Markdown that reads back the same', async () => {
    const { stdout } = await gazette('issue', 'import', model, '--json');
    const out = JSON.parse(stdout) as {
      id: number;
      title: string;
      period: string;
      periodKind: 'month' | 'week';
      masthead: Masthead;
      sections: {
        key: string;
        title: string;
        items: { title: string; summary: string; sources: { url: string }[]; legal?: unknown }[];
      }[];
      problems: unknown[];
    };
    expect(out).toMatchObject({
      id: 1,
      title: '数字科技与人工智能',
      period: '2025-07',
      masthead: { editor: '殷雨薇' },
    });
    expect(out.sections.map((s) => s.items.length)).toEqual([2, 8, 6, 11]);
    expect(out.problems).toEqual([]);

    const { stdout: markdown } = await gazette('issue', 'export', '1', '--format', 'md');
    expect(markdown).toContain('## 8. 美国总统特朗普签署系列人工智能领域行政命令');
    const { problems, ...reread } = parseIssueMarkdown(markdown);
    expect(problems).toEqual([]);
    const { id: _id, problems: _p, ...imported } = out;
    // Legal metadata is exported as one line per item and computed again on import, not read back.
    expect(markdown).toContain('**法律信息：**中国 · 最高人民法院、最高人民检察院、公安部 · 2025-07-28 发布');
    const withoutLegal = {
      ...imported,
      sections: imported.sections.map((s) => ({ ...s, items: s.items.map(({ legal: _l, ...i }) => i) })),
    };
    expect(reread).toEqual(withoutLegal);
  }, 240_000);
});
