import { type Env, parseEnv } from '../config/env.js';
import { type AppContext, createContext } from '../context.js';
import { createLogger, type Logger } from '../log.js';

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
  close(): Promise<void>;
}

export function createRuntime(
  opts: { json?: boolean; source?: Record<string, string | undefined> } = {},
): CliRuntime {
  let env: Env | undefined;
  let log: Logger | undefined;
  let ctx: Promise<AppContext> | undefined;
  const runtime: CliRuntime = {
    json: opts.json ?? false,
    env() {
      env ??= parseEnv(opts.source ?? process.env);
      return env;
    },
    log() {
      log ??= createLogger({ level: runtime.env().LOG_LEVEL, pretty: process.stderr.isTTY && !runtime.json });
      return log;
    },
    context() {
      ctx ??= createContext(runtime.env(), { log: runtime.log() });
      return ctx;
    },
    print(value, human) {
      if (runtime.json || human === undefined) process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
      else process.stdout.write(`${human}\n`);
    },
    async close() {
      if (ctx) await (await ctx).close();
    },
  };
  return runtime;
}
