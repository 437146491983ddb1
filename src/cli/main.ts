import { Command, CommanderError } from 'commander';
import { ConfigError } from '../config/env.js';
import { DatabaseLockedError } from '../db/connect.js';
import { RedisUnavailableError } from '../queue/redis.js';
import { registerCommands } from './commands/index.js';
import { UsageError } from './errors.js';
import { createRuntime } from './runtime.js';

/** Errors whose message already says what is wrong and what to do: print it, no stack. */
const EXPLAINED = [ConfigError, DatabaseLockedError, RedisUnavailableError];

export { UsageError };

export async function main(argv: string[]): Promise<void> {
  const json = argv.includes('--json');
  const runtime = createRuntime({ json });
  const program = new Command('gazette')
    .description('Gazette: feeds to curated issues to personalised email, with a PostgreSQL ledger.')
    .option('--json', 'print machine-readable JSON')
    .showHelpAfterError()
    .exitOverride();
  registerCommands(program, runtime);
  let code = 0;
  try {
    await program.parseAsync(argv);
  } catch (err) {
    code = reportError(err);
  } finally {
    await runtime.close().catch(() => {});
  }
  // A command that finished its work but found problems (e.g. some feeds refused) sets exitCode.
  process.exit(code || Number(process.exitCode ?? 0));
}

function reportError(err: unknown): number {
  if (err instanceof CommanderError) return err.exitCode;
  if (err instanceof Error && (EXPLAINED.some((E) => err instanceof E) || err instanceof UsageError)) {
    process.stderr.write(`gazette: ${err.message}\n`);
    return 2;
  }
  if (err instanceof Error && err.name.endsWith('Error') && 'userFacing' in err) {
    process.stderr.write(`gazette: ${err.message}\n`);
    return 1;
  }
  process.stderr.write(`gazette: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  return 1;
}
