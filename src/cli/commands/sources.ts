import { type Command, Option } from 'commander';
import type { SourceRule } from '../../db/schema.js';
import { privatePolicy } from '../../feeds/address-guard.js';
import { describeNote } from '../../feeds/feed-notes.js';
import { closeFetchAgents, limitsFromEnv } from '../../feeds/fetch.js';
import { addItemFromUrl, listItems } from '../../feeds/items.js';
import { feedLine, parseFeedTargets } from '../../feeds/parse-files.js';
import { pollDueSources, pollSource } from '../../feeds/poll.js';
import {
  addSource,
  listSources,
  removeSource,
  requireSource,
  SourceInputError,
  type SourceUpdate,
  updateSource,
} from '../../feeds/sources.js';
import type { CliRuntime } from '../runtime.js';

/**
 * `gazette sources …`, `gazette poll`, `gazette items …` and `gazette feeds parse`: manage the
 * feeds editors follow, poll them, and check a feed before adding it.
 */

function id(value: string): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n <= 0) throw new SourceInputError(`"${value}" is not an id`);
  return n;
}

function minutes(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new SourceInputError(`"${value}" is not a number of minutes`);
  return n;
}

/** "--include 判决,裁定" or "--include 判决,裁定=case-studies" (keywords, then an optional section). */
function rule(type: 'include' | 'exclude') {
  return (value: string, previous: SourceRule[] = []): SourceRule[] => {
    const eq = value.lastIndexOf('=');
    const words = eq < 0 ? value : value.slice(0, eq);
    const sectionKey = eq < 0 ? undefined : value.slice(eq + 1).trim();
    if (type === 'exclude' && sectionKey)
      throw new SourceInputError('an exclude rule cannot assign a section');
    const keywords = words
      .split(/[,，]/)
      .map((k) => k.trim())
      .filter(Boolean);
    return [...previous, { type, keywords, ...(sectionKey ? { sectionKey } : {}) }];
  };
}

function rulesFrom(opts: {
  include?: SourceRule[];
  exclude?: SourceRule[];
  rulesJson?: string;
}): SourceRule[] | undefined {
  if (opts.rulesJson !== undefined) {
    try {
      return JSON.parse(opts.rulesJson) as SourceRule[];
    } catch (err) {
      throw new SourceInputError(`--rules-json is not JSON: ${(err as Error).message}`);
    }
  }
  if (!opts.include && !opts.exclude) return undefined;
  return [...(opts.exclude ?? []), ...(opts.include ?? [])];
}

const fmtDate = (d: Date | null) => (d ? d.toISOString().replace('.000Z', 'Z') : '-');

export function registerSourceCommands(program: Command, runtime: CliRuntime): void {
  const sources = program.command('sources').description('the feeds Gazette follows');

  sources
    .command('add <url>')
    .description('follow a feed (RSS, Atom or JSON Feed)')
    .requiredOption('--name <name>', 'what editors call it')
    .option('--section <key>', 'default section for its items')
    .option('--interval <minutes>', 'polling interval in minutes', minutes, 60)
    .option(
      '--include <keywords>',
      'keep only items mentioning one of these (comma separated); "=section" routes them instead',
      rule('include'),
    )
    .option('--exclude <keywords>', 'drop items mentioning any of these (comma separated)', rule('exclude'))
    .option('--rules-json <json>', 'rules as JSON: [{"type":"include","keywords":["…"],"sectionKey":"…"}]')
    .option('--allow-private', 'allow this source on a private or loopback address')
    .option(
      '--time-zone <zone>',
      'IANA zone for its dates (e.g. Asia/Shanghai), instead of the publication’s',
    )
    .option('--disabled', 'add it without polling it yet')
    .action(async (url: string, opts) => {
      const ctx = await runtime.context();
      const rules = rulesFrom(opts);
      const source = await addSource(ctx.db, {
        name: opts.name,
        url,
        ...(opts.section ? { sectionKey: opts.section } : {}),
        ...(rules ? { rules } : {}),
        pollIntervalMinutes: opts.interval,
        allowPrivate: Boolean(opts.allowPrivate),
        enabled: !opts.disabled,
        ...(opts.timeZone ? { timeZone: opts.timeZone } : {}),
      });
      runtime.print(source, `Added source ${source.id}: ${source.name} <${source.url}>`);
    });

  sources
    .command('list')
    .description('every source with its health')
    .action(async () => {
      const ctx = await runtime.context();
      const rows = await listSources(ctx.db);
      const lines = rows.map(
        (s) =>
          `${String(s.id).padStart(4)}  ${s.enabled ? (s.status === 'failing' ? 'FAILING' : 'ok     ') : 'off    '}  ${s.name}  <${s.url}>` +
          (s.last_error && s.consecutive_failures > 0
            ? `\n        last error (${s.consecutive_failures}x): ${s.last_error}`
            : ''),
      );
      runtime.print(
        rows,
        rows.length
          ? lines.join('\n')
          : 'No sources yet. Add one with: gazette sources add <url> --name <name>',
      );
    });

  sources
    .command('show <id>')
    .description('one source: settings, health and why it fails, recent items')
    .action(async (value: string) => {
      const ctx = await runtime.context();
      const source = await requireSource(ctx.db, id(value));
      const section = source.section_id
        ? await ctx.db
            .selectFrom('sections')
            .select('key')
            .where('id', '=', source.section_id)
            .executeTakeFirst()
        : undefined;
      const items = await listItems(ctx.db, { sourceId: source.id, limit: 10 });
      const human = [
        `Source ${source.id}: ${source.name}`,
        `  URL:            ${source.url}`,
        `  Section:        ${section?.key ?? '-'}`,
        `  Rules:          ${source.rules.length ? JSON.stringify(source.rules) : '-'}`,
        `  Interval:       every ${source.poll_interval_minutes} min${source.enabled ? '' : ' (disabled)'}`,
        `  Status:         ${source.status}${source.consecutive_failures ? `, ${source.consecutive_failures} failure(s) in a row` : ''}`,
        `  Last poll:      ${fmtDate(source.last_polled_at)}${source.last_http_status ? ` (HTTP ${source.last_http_status})` : ''}`,
        `  Last success:   ${fmtDate(source.last_success_at)}`,
        `  Last error:     ${source.last_error ? `${source.last_error} (${fmtDate(source.last_error_at)})` : '-'}`,
        `  Next poll:      ${fmtDate(source.next_poll_at)}`,
        `  Time zone:      ${source.time_zone ?? '- (the publication’s)'}`,
        `  Charset:        ${source.last_charset ?? '-'}`,
        `  Read notes:     ${source.parse_notes.length ? '' : '-'}`,
        ...source.parse_notes.map((n) => `    - ${describeNote(n)}`),
        `  Recent items:`,
        ...items.map((i) => `    ${String(i.id).padStart(5)}  ${fmtDate(i.published_at)}  ${i.title}`),
      ].join('\n');
      runtime.print({ ...source, section_key: section?.key ?? null, recentItems: items }, human);
    });

  sources
    .command('edit <id>')
    .description('change a source')
    .option('--name <name>')
    .option('--url <url>')
    .option('--section <key>', 'default section ("" for none)')
    .option('--interval <minutes>', 'polling interval in minutes', minutes)
    .option(
      '--include <keywords>',
      'replace the rules: include keywords ("=section" to route)',
      rule('include'),
    )
    .option('--exclude <keywords>', 'replace the rules: exclude keywords', rule('exclude'))
    .option('--rules-json <json>', 'replace the rules with this JSON ("[]" for none)')
    .addOption(new Option('--enable', 'poll it again').conflicts('disable'))
    .option('--disable', 'stop polling it')
    .addOption(new Option('--allow-private', 'allow a private address').conflicts('denyPrivate'))
    .option('--deny-private', 'refuse private addresses again')
    .option('--time-zone <zone>', 'IANA zone for its dates ("" for the publication’s)')
    .action(async (value: string, opts) => {
      const ctx = await runtime.context();
      const rules = rulesFrom(opts);
      const update: SourceUpdate = {
        ...(opts.name !== undefined ? { name: opts.name } : {}),
        ...(opts.url !== undefined ? { url: opts.url } : {}),
        ...(opts.section !== undefined ? { sectionKey: opts.section || null } : {}),
        ...(opts.interval !== undefined ? { pollIntervalMinutes: opts.interval } : {}),
        ...(rules ? { rules } : {}),
        ...(opts.enable ? { enabled: true } : opts.disable ? { enabled: false } : {}),
        ...(opts.allowPrivate ? { allowPrivate: true } : opts.denyPrivate ? { allowPrivate: false } : {}),
        ...(opts.timeZone !== undefined ? { timeZone: opts.timeZone || null } : {}),
      };
      const source = await updateSource(ctx.db, id(value), update);
      runtime.print(source, `Updated source ${source.id}: ${source.name}`);
    });

  sources
    .command('remove <id>')
    .description('stop following a source (its items stay)')
    .action(async (value: string) => {
      const ctx = await runtime.context();
      await removeSource(ctx.db, id(value));
      runtime.print({ removed: id(value) }, `Removed source ${value}.`);
    });

  sources
    .command('poll <id>')
    .description('poll one source now')
    .action(async (value: string) => {
      const ctx = await runtime.context();
      const source = await requireSource(ctx.db, id(value));
      const outcome = await pollSource({ db: ctx.db, log: ctx.log, env: ctx.env, now: ctx.now }, source.id);
      await closeFetchAgents();
      runtime.print(
        { sourceId: source.id, name: source.name, outcome },
        describeOutcome(source.name, outcome),
      );
      if (outcome.status === 'failed') runtime.exitCode = 1;
    });

  program
    .command('poll')
    .description('poll every enabled source once (--due: only those whose time has come)')
    .option('--due', 'skip sources that are not due or are backing off')
    .option('--concurrency <n>', 'sources fetched at once', (v) => minutes(v))
    .action(async (opts) => {
      const ctx = await runtime.context();
      const results = await pollDueSources(
        { db: ctx.db, log: ctx.log, env: ctx.env, now: ctx.now },
        { dueOnly: Boolean(opts.due), ...(opts.concurrency ? { concurrency: opts.concurrency } : {}) },
      );
      await closeFetchAgents();
      const failed = results.filter((r) => r.outcome.status === 'failed').length;
      runtime.print(
        results,
        results.length
          ? `${results.map((r) => describeOutcome(r.name, r.outcome)).join('\n')}\n${results.length} polled, ${failed} failed.`
          : 'No enabled sources.',
      );
    });

  const items = program.command('items').description('fetched and added items');

  items
    .command('list')
    .description('newest items first')
    .option('--source <id>', 'only from this source', id)
    .option('--section <key>', 'only in this section')
    .addOption(
      new Option('--status <status>', 'only with this status').choices(['new', 'accepted', 'dismissed']),
    )
    .option('--limit <n>', 'how many', (v) => minutes(v), 50)
    .action(async (opts) => {
      const ctx = await runtime.context();
      const rows = await listItems(ctx.db, {
        ...(opts.source ? { sourceId: opts.source } : {}),
        ...(opts.section ? { sectionKey: opts.section } : {}),
        ...(opts.status ? { status: opts.status } : {}),
        limit: opts.limit,
      });
      runtime.print(
        rows,
        rows
          .map(
            (i) =>
              `${String(i.id).padStart(5)}  ${fmtDate(i.published_at)}  [${i.section_key ?? '-'}]  ${i.title}\n       ${i.urls.join('  ') || i.link || ''}`,
          )
          .join('\n') || 'No items.',
      );
    });

  items
    .command('add-url <url>')
    .description("add an article by URL, filling title, description and date from the page's metadata")
    .option('--section <key>', 'its section')
    .option('--title <title>', 'use this title instead of the page’s')
    .option('--summary <text>', 'use this summary instead of the page’s')
    .option('--date <date>', 'use this publication date (ISO 8601 or "2025-07-08 10:00")')
    .action(async (url: string, opts) => {
      const ctx = await runtime.context();
      const { item, created } = await addItemFromUrl(
        { db: ctx.db, log: ctx.log, env: ctx.env, now: ctx.now },
        {
          url,
          ...(opts.section ? { sectionKey: opts.section } : {}),
          ...(opts.title ? { title: opts.title } : {}),
          ...(opts.summary ? { summary: opts.summary } : {}),
          ...(opts.date ? { publishedAt: opts.date } : {}),
        },
      );
      await closeFetchAgents();
      runtime.print(
        { created, item },
        `${created ? 'Added' : 'Already known:'} item ${item.id}: ${item.title}\n  date: ${fmtDate(item.published_at)}\n  ${item.summary_text}`,
      );
    });

  const feeds = program.command('feeds').description('check feeds without storing anything');
  feeds
    .command('parse <files-or-urls...>')
    .description(
      'fetch (or read) feeds and print their normalised items; writes nothing. Folders are read file by file',
    )
    .option('--allow-private', 'allow a private or loopback address for this fetch')
    .option(
      '--max-bytes <n>',
      'largest file or response to read (default FETCH_MAX_BYTES, as for polls)',
      byteCount,
    )
    .option(
      '--content-type <value>',
      'read local files as if served with this Content-Type (e.g. "text/xml; charset=gbk")',
    )
    .option('--time-zone <zone>', 'read dates as a source with this IANA zone would')
    .action(async (targets: string[], opts) => {
      const env = runtime.env();
      // One JSON object a line per file (--json), or one JSON array per file for a single target.
      const lines = runtime.json || targets.length > 1;
      let failed = 0;
      for await (const result of parseFeedTargets(targets, {
        maxBytes: opts.maxBytes ?? env.FETCH_MAX_BYTES,
        fetchLimits: limitsFromEnv(env, privatePolicy(env.FETCH_ALLOW_PRIVATE, Boolean(opts.allowPrivate))),
        defaultZone: env.DEFAULT_TIME_ZONE,
        ...(opts.contentType ? { contentType: opts.contentType } : {}),
        ...(opts.timeZone ? { timeZone: opts.timeZone } : {}),
      })) {
        if ('error' in result) failed++;
        if (lines) runtime.io.stdout.write(`${JSON.stringify(feedLine(result))}\n`);
        else if ('error' in result) throw new SourceInputError(`${result.file}: ${result.error}`);
        else {
          const out = result.feed.items.map((i) => ({
            guid: i.guid,
            title: i.title,
            link: i.link,
            publishedAt: i.publishedAt,
            author: i.author,
            summaryText: i.summaryText,
            contentHtml: i.contentHtml,
            categories: i.categories,
          }));
          // This form exists to show exactly what Gazette would store.
          runtime.io.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
        }
      }
      await closeFetchAgents();
      // Some files were refused: the run says so in its exit status, after reading them all.
      if (failed) runtime.exitCode = 1;
    });
}

function byteCount(value: string): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < 1) throw new SourceInputError(`"${value}" is not a number of bytes`);
  return n;
}

function describeOutcome(
  name: string,
  o: { status: string; newItems: number; seenItems: number; error?: string },
) {
  if (o.status === 'failed') return `FAILED  ${name}: ${o.error}`;
  if (o.status === 'not-modified') return `same    ${name}: not modified`;
  return `ok      ${name}: ${o.newItems} new, ${o.seenItems} already known`;
}
