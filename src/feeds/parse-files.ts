import { readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { charsetNotes, decodeBody } from './charset.js';
import { type FetchLimits, fetchWithLimits } from './fetch.js';
import { type ParsedFeed, parseFeed } from './parse.js';

/**
 * `gazette feeds parse`: many files, folders and URLs in one process, each read under the same byte
 * limit as a poll's fetch (a 50 MB file is refused before it is read), each answered on its own,
 * so one bad feed in a corpus is a line with an error, not the end of the run.
 */

export interface ParseTargetOptions {
  maxBytes: number;
  fetchLimits: FetchLimits;
  defaultZone: string;
  /** Read local files as if served with this Content-Type. */
  contentType?: string;
  timeZone?: string;
}

export type TargetResult =
  | { file: string; feed: ParsedFeed; charset: string }
  | { file: string; error: string };

const isUrl = (target: string) => /^https?:\/\//i.test(target);

/** Every regular file under a folder, sorted, hidden ones skipped. */
async function filesUnder(dir: string): Promise<string[]> {
  const out: string[] = [];
  const entries = await readdir(dir, { withFileTypes: true });
  for (const e of entries.sort((a, b) => a.name.localeCompare(b.name))) {
    if (e.name.startsWith('.')) continue;
    const full = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...(await filesUnder(full)));
    else if (e.isFile()) out.push(full);
  }
  return out;
}

async function expand(targets: string[]): Promise<string[]> {
  const out: string[] = [];
  for (const t of targets) {
    if (!isUrl(t) && (await stat(t).catch(() => null))?.isDirectory()) out.push(...(await filesUnder(t)));
    else out.push(t);
  }
  return out;
}

async function readLocal(file: string, maxBytes: number): Promise<Buffer> {
  const info = await stat(file);
  if (!info.isFile()) throw new Error(`${file} is not a file`);
  if (info.size > maxBytes)
    throw new Error(`file is ${info.size} bytes, over the ${maxBytes}-byte limit (--max-bytes to raise it)`);
  return readFile(file);
}

async function parseTarget(target: string, opts: ParseTargetOptions): Promise<TargetResult> {
  try {
    let bytes: Buffer;
    let contentType = opts.contentType;
    let feedUrl: string | undefined;
    if (isUrl(target)) {
      const res = await fetchWithLimits(target, { ...opts.fetchLimits, maxBytes: opts.maxBytes });
      bytes = res.body;
      contentType = res.headers['content-type'];
      feedUrl = res.url;
    } else {
      bytes = await readLocal(target, opts.maxBytes);
    }
    const decoded = decodeBody(bytes, contentType);
    const feed = await parseFeed(decoded.text, {
      ...(feedUrl ? { feedUrl } : {}),
      defaultZone: opts.defaultZone,
      ...(opts.timeZone ? { timeZone: opts.timeZone } : {}),
    });
    return {
      file: target,
      feed: { ...feed, notes: [...charsetNotes(decoded), ...feed.notes] },
      charset: decoded.charset,
    };
  } catch (err) {
    return { file: target, error: err instanceof Error ? err.message : String(err) };
  }
}

export async function* parseFeedTargets(
  targets: string[],
  opts: ParseTargetOptions,
): AsyncGenerator<TargetResult> {
  for (const target of await expand(targets)) yield parseTarget(target, opts);
}

/** One line of `feeds parse --json`: what a corpus check compares. */
export function feedLine(result: TargetResult) {
  if ('error' in result) return { file: result.file, error: result.error };
  const { feed } = result;
  return {
    file: result.file,
    format: feed.format,
    title: feed.title,
    charset: result.charset,
    notes: feed.notes.map((n) => n.code),
    items: feed.items.map((i) => ({
      title: i.title,
      link: i.link,
      published: i.publishedAt,
      summary: i.summaryText,
      author: i.author,
    })),
  };
}
