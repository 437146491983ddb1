import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AppContext } from '../../src/context.js';
import { cliContext, gazette, runBin } from '../support/cli.js';
import { body, type FixtureServer, fixture, projectRoot, startFixtureServer } from './fixture-server.js';

let server: FixtureServer;
let context: AppContext;
let close: () => Promise<void>;
const cli = (...args: string[]) => gazette(args, { context });

beforeAll(async () => {
  server = await startFixtureServer();
  server.route('/atom.xml', body(fixture('atom.xml'), 'application/atom+xml'));
  server.route('/rss2.xml', body(fixture('rss2.xml'), 'application/rss+xml'));
  server.route('/dead.xml', (_req, res) => res.writeHead(500).end());
  ({ context, close } = await cliContext());
});
afterAll(async () => {
  await server.close();
  await close?.();
});

describe('gazette feeds parse', () => {
  // The bin itself, as a newcomer runs it: tsx, no database, nothing written.
  it('prints the normalised items of one feed file as a JSON array and writes nothing', {
    timeout: 120_000,
  }, async () => {
    const { code, stdout, stderr } = await runBin(
      ['feeds', 'parse', path.join(projectRoot, 'tests/fixtures/feeds/rss2.xml')],
      { env: { PATH: process.env.PATH, LOG_LEVEL: 'silent', NODE_ENV: 'test', DATA_DIR: '/nonexistent' } },
    );
    expect({ code, stderr }).toEqual({ code: 0, stderr: '' });
    const items = JSON.parse(stdout);
    expect(items).toHaveLength(2);
    expect(Object.keys(items[0]).sort()).toEqual(
      ['author', 'categories', 'contentHtml', 'guid', 'link', 'publishedAt', 'summaryText', 'title'].sort(),
    );
    expect(items[0]).toMatchObject({
      guid: 'gov-cn-1',
      publishedAt: '2025-07-08T02:00:00.000Z',
      categories: ['人工智能', '标识'],
    });
  });

  it('with --json reads many files, a folder and a URL in one process: one JSON object a line each', {
    timeout: 90_000,
  }, async () => {
    const folder = mkdtempSync(path.join(tmpdir(), 'gazette-corpus-'));
    writeFileSync(path.join(folder, 'a.xml'), fixture('atom.xml'));
    writeFileSync(path.join(folder, 'b.xml'), '<html><body>not a feed</body></html>');
    writeFileSync(path.join(folder, 'big.xml'), Buffer.alloc(4096, 0x20));
    const result = await cli(
      'feeds',
      'parse',
      '--json',
      '--max-bytes',
      '2048',
      path.join(projectRoot, 'tests/fixtures/feeds/rss2.xml'),
      folder,
      `${server.baseUrl}/atom.xml`,
    );
    // Some files were refused: the run says so in its exit status, after reading them all.
    expect(result.code).toBe(1);
    const lines = result.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(lines.map((l) => path.basename(l.file))).toEqual([
      'rss2.xml',
      'a.xml',
      'b.xml',
      'big.xml',
      'atom.xml',
    ]);
    expect(lines[0]).toMatchObject({ format: 'rss2', title: expect.any(String) });
    expect(Object.keys(lines[0].items[0]).sort()).toEqual([
      'author',
      'link',
      'published',
      'summary',
      'title',
    ]);
    expect(lines[0].items[0]).toMatchObject({ published: '2025-07-08T02:00:00.000Z', author: '网信办' });
    expect(lines[1]).toMatchObject({ format: 'atom' });
    expect(lines[2].error).toMatch(/HTML page, not a feed/);
    expect(lines[3].error).toMatch(/4096 bytes, over the 2048-byte limit/);
    expect(lines[4].items[0].link).toBe('https://eu.example.eu/news/gpai-guidelines');
  });
});

describe('gazette sources and poll', () => {
  it('adds sources, polls them all, and shows why one fails', async () => {
    await cli('sources', 'add', `${server.baseUrl}/rss2.xml`, '--name', 'Gov', '--exclude', '出境');
    await cli('sources', 'add', `${server.baseUrl}/dead.xml`, '--name', 'Dead');
    const polled = JSON.parse((await cli('poll', '--json')).stdout);
    expect(
      polled.map((p: { name: string; outcome: { status: string } }) => [p.name, p.outcome.status]),
    ).toEqual([
      ['Gov', 'ok'],
      ['Dead', 'failed'],
    ]);
    const shown = (await cli('sources', 'show', '2')).stdout;
    expect(shown).toMatch(/Last error:\s+HTTP 500 from/);
    const items = JSON.parse((await cli('items', 'list', '--json')).stdout);
    expect(items.map((i: { guid: string }) => i.guid)).toEqual(['gov-cn-1']);
  });
});
