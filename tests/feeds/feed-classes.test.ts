import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { charsetNotes, decodeBody } from '../../src/feeds/charset.js';
import { type ParsedFeed, parseFeed } from '../../src/feeds/parse.js';
import { projectRoot } from './fixture-server.js';

/**
 * The failure classes of a public feed corpus (issue 17), one or more small fixture feeds of our own
 * per class (tests/fixtures/feeds/classes), each with the expectations that map onto what Gazette
 * keeps: format, title, item count, each item's title, link, published, summary, author and content,
 * the charset that won, the notes left for the source's health, or the refusal. Every expectation
 * is counted; the figure is printed and must be all of them.
 */

const dir = path.join(projectRoot, 'tests/fixtures/feeds/classes');

interface ItemExpect {
  title?: string;
  link?: string | null;
  published?: string | null;
  summary?: string;
  author?: string;
  contentHtml?: string;
}
interface Case {
  file?: string;
  class: string;
  feedUrl?: string;
  contentType?: string;
  timeZone?: string;
  expect: {
    format?: string;
    title?: string;
    itemCount?: number;
    items?: ItemExpect[];
    notes?: string[];
    charset?: string;
    error?: string;
  };
}

const cases: Record<string, Case> = JSON.parse(readFileSync(path.join(dir, 'expectations.json'), 'utf8'));

type Outcome = { feed: ParsedFeed; charset: string } | { error: string };

async function read(name: string, c: Case): Promise<Outcome> {
  const decoded = decodeBody(readFileSync(path.join(dir, c.file ?? name)), c.contentType);
  try {
    const feed = await parseFeed(decoded.text, {
      defaultZone: 'Asia/Shanghai',
      ...(c.feedUrl ? { feedUrl: c.feedUrl } : {}),
      ...(c.timeZone ? { timeZone: c.timeZone } : {}),
    });
    return { feed: { ...feed, notes: [...charsetNotes(decoded), ...feed.notes] }, charset: decoded.charset };
  } catch (err) {
    return { error: `${(err as Error).name}: ${(err as Error).message}` };
  }
}

/** Each expectation as [what, wanted, got]; met when equal (summary: contained). */
function compare(c: Case, out: Outcome): [string, unknown, unknown][] {
  const e = c.expect;
  if (e.error !== undefined) {
    const got = 'error' in out ? out.error : '(parsed)';
    return [['error', true, got.startsWith('FeedParseError') && got.includes(e.error)]];
  }
  if ('error' in out) return [['parsed', true, out.error]];
  const { feed, charset } = out;
  const rows: [string, unknown, unknown][] = [];
  if (e.format !== undefined) rows.push(['format', e.format, feed.format]);
  if (e.title !== undefined) rows.push(['title', e.title, feed.title]);
  if (e.itemCount !== undefined) rows.push(['itemCount', e.itemCount, feed.items.length]);
  if (e.charset !== undefined) rows.push(['charset', e.charset, charset]);
  if (e.notes !== undefined) rows.push(['notes', e.notes.join(','), feed.notes.map((n) => n.code).join(',')]);
  (e.items ?? []).forEach((want, i) => {
    const got = feed.items[i];
    const field = (k: string) => `items[${i}].${k}`;
    if (want.title !== undefined) rows.push([field('title'), want.title, got?.title]);
    if (want.link !== undefined) rows.push([field('link'), want.link, got?.link]);
    if (want.published !== undefined) rows.push([field('published'), want.published, got?.publishedAt]);
    if (want.author !== undefined) rows.push([field('author'), want.author, got?.author]);
    if (want.contentHtml !== undefined) rows.push([field('contentHtml'), want.contentHtml, got?.contentHtml]);
    if (want.summary !== undefined)
      rows.push([field('summary'), true, got?.summaryText.includes(want.summary) ?? false]);
  });
  return rows;
}

let met = 0;
let total = 0;

describe('feed failure classes (own fixtures, mapped expectations)', () => {
  for (const [name, c] of Object.entries(cases)) {
    it(`${c.class} (${name})`, async () => {
      const rows = compare(c, await read(name, c));
      const failed = rows.filter(([, want, got]) => want !== got);
      total += rows.length;
      met += rows.length - failed.length;
      expect(failed).toEqual([]);
    });
  }

  afterAll(() => {
    // The closing figure of issue 17: how many mapped expectations the fixtures meet.
    process.stdout.write(
      `feed classes: ${met}/${total} mapped expectations met (${((100 * met) / Math.max(total, 1)).toFixed(1)}%) on ${Object.keys(cases).length} fixture cases\n`,
    );
  });
});
