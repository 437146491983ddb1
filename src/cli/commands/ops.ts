import type { Command } from 'commander';
import { ALL_ROLES, startWorkers } from '../../../workers/index.js';
import { runDemo } from '../../demo/run-demo.js';
import { assertRedisReachable } from '../../queue/redis.js';
import { searchArchive } from '../../search/archive-index.js';
import { archiveSweep } from '../../snapshots/sweep.js';
import { UsageError } from '../errors.js';
import type { CliRuntime } from '../runtime.js';
import { workerRoles } from './subscribers.js';

export function registerOpsCommands(program: Command, runtime: CliRuntime): void {
  program
    .command('demo')
    .description('run the whole pipeline once on embedded defaults: feeds → issue → variants → SMTP')
    .action(async () => {
      const summary = await runDemo(runtime.env(), runtime.log());
      const lines = [
        '',
        `Gazette demo: issue ${summary.issueId} (${summary.period}) on ${summary.database.kind} at ${summary.database.where}`,
        `  (${summary.database.start === 'reset' ? 'found an earlier demo in this database and started clean' : 'empty database: started clean'}${summary.outboxCleared ? `; removed ${summary.outboxCleared} earlier .eml files from the outbox` : ''})`,
        `Sources polled: ${summary.sources.map((s) => `${s.name} ${s.status} +${s.newItems}`).join('; ')}`,
        `Items in the issue: ${summary.items}`,
        `Variants compiled once each (${summary.variants.length}):`,
        ...summary.variants.map((v) => `  ${v.variantKey}  html ${v.htmlBytes} B, text ${v.textBytes} B`),
        `Deliveries by state: ${Object.entries(summary.deliveries)
          .map(([k, v]) => `${k} ${v}`)
          .join(', ')}`,
        summary.outbox.length ? `Messages written (${summary.outbox.length}):` : 'Messages went to SMTP_URL.',
        ...summary.outbox.map((p) => `  ${p}`),
        '',
        'Next:',
        ...(summary.outbox[0]
          ? [`  Open a message in your mail program or a text editor: ${summary.outbox[0]}`]
          : []),
        '  Create your editor account (prints a generated password once):',
        '    npx gazette users add you@example.org --role admin',
        '  Start the web app, then sign in at the admin URL:',
        '    npx gazette serve',
        `    ${new URL('/admin', runtime.env().PUBLIC_URL).href}`,
      ];
      runtime.print(summary, lines.join('\n'));
    });

  program
    .command('worker')
    .description('run BullMQ workers until SIGTERM (scale by running more processes)')
    .option('--roles <roles>', `comma-separated subset of ${ALL_ROLES.join(',')}`, ALL_ROLES.join(','))
    .action(async (opts: { roles: string }) => {
      const roles = workerRoles(opts.roles);
      await assertRedisReachable(runtime.env().REDIS_URL);
      const ctx = await runtime.context();
      const workers = await startWorkers(ctx, { roles });
      await new Promise<void>((resolve) => {
        const stop = () => resolve();
        process.once('SIGTERM', stop);
        process.once('SIGINT', stop);
      });
      await workers.close();
    });

  const archive = program
    .command('archive')
    .description('archived sources, link checks and search of past issues');
  archive
    .command('sweep')
    .description("archive approved issues' sources now, index them for search, re-check sent issues' links")
    .option('--issue <id>', 'only this issue (its sources and index)')
    .action(async (opts: { issue?: string }) => {
      const ctx = await runtime.context();
      const issueId = opts.issue === undefined ? undefined : Number(opts.issue);
      if (issueId !== undefined && !(Number.isSafeInteger(issueId) && issueId > 0))
        throw new UsageError(`--issue must be an issue id, not "${opts.issue}"`);
      const done = await archiveSweep(
        { db: ctx.db, log: ctx.log, env: ctx.env, now: ctx.now },
        issueId !== undefined ? { issueId } : {},
      );
      runtime.print(
        done,
        `Archived ${done.taken} source(s), ${done.failed} failed; indexed ${done.indexed.length} issue(s); checked ${done.links.checked} link(s), ${done.links.dead} dead.`,
      );
    });
  archive
    .command('search [query]')
    .description('search items of sent issues (Chinese or English words, legal filters)')
    .option('--jurisdiction <code>', 'e.g. CN, EU, US')
    .option('--kind <kind>', 'e.g. judicial-interpretation, guidance-report')
    .option('--body <name>', 'an issuing body, e.g. 最高人民法院')
    .action(
      async (query: string | undefined, opts: { jurisdiction?: string; kind?: string; body?: string }) => {
        const ctx = await runtime.context();
        const hits = await searchArchive(ctx.db, { ...(query ? { q: query } : {}), ...opts });
        runtime.print(
          hits,
          hits.map((h) => `${h.period}  #${h.issueId}/${h.issueItemId}  ${h.title}`).join('\n') ||
            'Nothing found.',
        );
      },
    );
}
