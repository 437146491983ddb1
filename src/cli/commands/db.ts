import type { Command } from 'commander';
import { migrateToLatest } from '../../db/migrate.js';
import type { CliRuntime } from '../runtime.js';

export function registerDbCommands(program: Command, runtime: CliRuntime): void {
  program
    .command('migrate')
    .description('bring the database schema up to date')
    .action(async () => {
      const ctx = await runtime.context();
      const applied = await migrateToLatest(ctx.db); // context already migrated; this reports "none"
      runtime.print(
        { database: ctx.database.kind, where: ctx.database.where, applied },
        `Database ${ctx.database.kind} at ${ctx.database.where} is up to date.`,
      );
    });
}
