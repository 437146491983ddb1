import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gazette } from '../support/cli.js';
import { loadModelIssue } from '../support/model-issue.js';
import { MODEL_DOCUMENT, sharedFixture } from '../support/shared.js';

const modelDocument = sharedFixture(MODEL_DOCUMENT);
const dir = mkdtempSync(path.join(tmpdir(), 'gazette-render-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function render(args: string[]): Promise<void> {
  const r = await gazette(['render', ...args, '--json'], { env: { PUBLIC_URL: 'https://news.example.org' } });
  expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: '' });
}

describe.skipIf(!modelDocument.present)('gazette render', () => {
  const issueFile = path.join(dir, 'issue.json');
  beforeAll(() => writeFileSync(issueFile, JSON.stringify(loadModelIssue())));

  it('writes the html, the text and a size report for the chosen topics', async () => {
    const out = path.join(dir, 'one');
    await render([issueFile, '--topics', 'industry,cases', '--locale', 'zh-CN', '--out', out]);
    const report = JSON.parse(readFileSync(path.join(out, 'report.json'), 'utf8'));
    expect(report).toHaveLength(1);
    expect(report[0]).toMatchObject({ variant: 'zh-CN:cases+industry', gmailClipSafe: true, warnings: [] });
    const html = readFileSync(path.join(out, 'zh-CN_cases+industry.html'), 'utf8');
    expect(Buffer.byteLength(html)).toBe(report[0].htmlBytes);
    expect(html).toContain('id="sec-cases"');
    expect(existsSync(path.join(out, 'zh-CN_cases+industry.txt'))).toBe(true);
  });

  it('writes all 15 variants with --all-variants, filled with sample values under --preview', async () => {
    const out = path.join(dir, 'all');
    await render([issueFile, '--all-variants', '--preview', '--out', out]);
    const report = JSON.parse(readFileSync(path.join(out, 'report.json'), 'utf8')) as { htmlBytes: number }[];
    expect(report).toHaveLength(15);
    const html = readFileSync(path.join(out, 'zh-CN_cases+domestic+foreign+industry.html'), 'utf8');
    expect(html).not.toContain('{{');
    expect(Math.max(...report.map((r) => r.htmlBytes))).toBeLessThan(100_000);
  });

  it('refuses topics that have nothing to render, naming the reason', async () => {
    const r = await gazette(['render', issueFile, '--topics', 'nope', '--out', path.join(dir, 'none')], {
      env: { PUBLIC_URL: 'https://news.example.org' },
    });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^gazette: .*chosen sections empty/);
  });
});
