import type { Readable, Writable } from 'node:stream';
import { type Env, parseEnv } from '../config/env.js';
import { type AppContext, createContext } from '../context.js';
import { createLogger, type Logger } from '../log.js';

/** Where a command reads and writes: the process's streams, or a test's buffers (tests/support/cli.ts). */
export interface CliIo {
  stdout: Writable & { isTTY?: boolean };
  stderr: Writable & { isTTY?: boolean };
  stdin: Readable;
}

export const processIo = (): CliIo => ({
  stdout: process.stdout,
  stderr: process.stderr,
  stdin: process.stdin,
});

/**
 * What every command shares: the environment (parsed once), a logger, and a context opened on
 * first use and closed when the command finishes.
 */
export interface CliRuntime {
  env(): Env;
  log(): Logger;
  /** Opens the database (running migrations) the first time it is asked for. */
  context(): Promise<AppContext>;
  /** Print a result: JSON when --json was given, else the human text. */
  print(value: unknown, human?: string): void;
  json: boolean;
  io: CliIo;
  /** Set by a command that finished but reports failure (e.g. a poll with a failed source). */
  exitCode: number;
  close(): Promise<void>;
}

export function createRuntime(
  opts: {
    json?: boolean;
    source?: Record<string, string | undefined>;
    io?: CliIo;
    /** An open context (and its env) to use, and leave open, instead of opening one from the environment. */
    context?: AppContext;
  } = {},
): CliRuntime {
  let env: Env | undefined;
  let log: Logger | undefined;
  let ctx: Promise<AppContext> | undefined = opts.context && Promise.resolve(opts.context);
  const io = opts.io ?? processIo();
  const runtime: CliRuntime = {
    json: opts.json ?? false,
    io,
    exitCode: 0,
    env() {
      env ??= opts.context?.env ?? parseEnv(opts.source ?? process.env);
      return env;
    },
    log() {
      log ??= createLogger({
        level: runtime.env().LOG_LEVEL,
        pretty: io.stderr.isTTY === true && !runtime.json,
      });
      return log;
    },
    context() {
      ctx ??= createContext(runtime.env(), { log: runtime.log() });
      return ctx;
    },
    print(value, human) {
      if (runtime.json || human === undefined) io.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
      else io.stdout.write(`${human}\n`);
    },
    async close() {
      if (ctx && !opts.context) await (await ctx).close();
    },
  };
  return runtime;
}
