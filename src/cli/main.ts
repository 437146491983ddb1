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
  // A crash outside a command's own error path (a worker's callback): one clear line, then exit
  // so a supervisor (systemd, docker's restart policy) starts the process again.
  const crash = (err: unknown) => {
    process.exitCode = reportError(err);
    process.exit();
  };
  process.on('uncaughtException', crash);
  process.on('unhandledRejection', crash);
  let code = 0;
  try {
    await program.parseAsync(argv);
  } catch (err) {
    code = reportError(err);
  } finally {
    await runtime.close().catch(() => {});
  }
  process.exit(code);
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
  process.stderr.write(`${fatalLine(err)}\n`);
  return 1;
}

/**
 * An unexpected error as one line (its name, message and where it was raised); the whole stack
 * only when LOG_LEVEL is debug or trace.
 */
export function fatalLine(err: unknown, level = process.env.LOG_LEVEL ?? 'info'): string {
  if (!(err instanceof Error)) return `gazette: ${String(err)}`;
  if (level === 'debug' || level === 'trace') return `gazette: ${err.stack ?? err.message}`;
  const at = /\n\s+at (.+)/.exec(err.stack ?? '')?.[1];
  const code = (err as { code?: unknown }).code;
  return `gazette: ${err.name}${typeof code === 'string' ? ` ${code}` : ''}: ${err.message.split('\n')[0]}${at ? ` (at ${at})` : ''} — LOG_LEVEL=debug shows the stack`;
}
