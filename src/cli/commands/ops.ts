import type { Command } from 'commander';
import { ALL_ROLES, startWorkers, type WorkerRole } from '../../../workers/index.js';
import { runDemo } from '../../demo/run-demo.js';
import { assertRedisReachable } from '../../queue/redis.js';
import { UsageError } from '../errors.js';
import type { CliRuntime } from '../runtime.js';

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
      const roles = opts.roles.split(',').map((r) => r.trim()) as WorkerRole[];
      const unknown = roles.filter((r) => !ALL_ROLES.includes(r));
      if (unknown.length) throw new UsageError(`unknown worker role(s): ${unknown.join(', ')}`);
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
}
