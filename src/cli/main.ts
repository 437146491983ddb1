import { Command, CommanderError } from 'commander';
import { ConfigError } from '../config/env.js';
import type { AppContext } from '../context.js';
import { DatabaseLockedError } from '../db/connect.js';
import { RedisUnavailableError } from '../queue/redis.js';
import { registerCommands } from './commands/index.js';
import { UsageError } from './errors.js';
import { type CliIo, type CliRuntime, createRuntime, processIo } from './runtime.js';

/** Errors whose message already says what is wrong and what to do: print it, no stack. */
const EXPLAINED = [ConfigError, DatabaseLockedError, RedisUnavailableError];

export { UsageError };

/** The whole command tree on one runtime; commander's own help and errors go to the runtime's streams. */
export function createProgram(runtime: CliRuntime): Command {
  const program = new Command('gazette')
    .description('Gazette: feeds to curated issues to personalised email, with a PostgreSQL ledger.')
    .option('--json', 'print machine-readable JSON')
    .configureOutput({
      writeOut: (s) => runtime.io.stdout.write(s),
      writeErr: (s) => runtime.io.stderr.write(s),
    })
    .showHelpAfterError()
    .exitOverride();
  registerCommands(program, runtime);
  return program;
}

/**
 * Runs one command line (argv as process.argv: node, script, args…) and returns its exit code
 * without exiting, so tests run commands in process (tests/support/cli.ts).
 */
export async function runCli(
  argv: string[],
  opts: { io?: CliIo; env?: Record<string, string | undefined>; context?: AppContext } = {},
): Promise<number> {
  const io = opts.io ?? processIo();
  const runtime = createRuntime({
    json: argv.includes('--json'),
    io,
    ...(opts.env ? { source: opts.env } : {}),
    ...(opts.context ? { context: opts.context } : {}),
  });
  let code = 0;
  try {
    await createProgram(runtime).parseAsync(argv);
    code = runtime.exitCode;
  } catch (err) {
    code = reportError(err, io);
  } finally {
    await runtime.close().catch(() => {});
  }
  return code;
}

export async function main(argv: string[]): Promise<void> {
  process.exit(await runCli(argv));
}

function reportError(err: unknown, io: CliIo): number {
  if (err instanceof CommanderError) return err.exitCode;
  if (err instanceof Error && (EXPLAINED.some((E) => err instanceof E) || err instanceof UsageError)) {
    io.stderr.write(`gazette: ${err.message}\n`);
    return 2;
  }
  if (err instanceof Error && err.name.endsWith('Error') && 'userFacing' in err) {
    io.stderr.write(`gazette: ${err.message}\n`);
    return 1;
  }
  io.stderr.write(`gazette: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  return 1;
}
