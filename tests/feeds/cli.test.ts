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
  it('prints the normalised items of a feed file as a JSON array and writes nothing', {
    timeout: 120_000,
  }, async () => {
    const { code, stdout, stderr } = await runBin(
      ['feeds', 'parse', path.join(projectRoot, 'tests/fixtures/feeds/rss2.xml'), '--json'],
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

  it('fetches a URL under the same limits, resolving links against it', async () => {
    const { stdout } = await cli('feeds', 'parse', `${server.baseUrl}/atom.xml`, '--json');
    expect(JSON.parse(stdout)[0].link).toBe('https://eu.example.eu/news/gpai-guidelines');
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
