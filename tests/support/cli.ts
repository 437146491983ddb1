import { execFile } from 'node:child_process';
import path from 'node:path';
import { Readable, Writable } from 'node:stream';
import { runCli } from '../../src/cli/main.js';
import { type AppContext, createContext } from '../../src/context.js';
import { silentLogger } from '../../src/log.js';
import { projectRoot } from './model-issue.js';
import { createTestDatabase } from './test-db.js';
import { testEnv } from './test-env.js';

/**
 * The CLI for tests, two ways:
 * - `gazette(args, opts)` runs a command line in this process (the same program runCli builds for
 *   the bin), with stdout/stderr captured and stdin given as a string. No process start, no tsx
 *   transform: use it for what commands do.
 *   `opts.env` is the whole environment the command parses (nothing is read from process.env);
 *   `opts.context` runs on an open context and leaves it open: `cliContext()` gives one on a fresh
 *   PostgreSQL schema (faster than the embedded database, which the bin tests and
 *   tests/foundation cover).
 * - `runBin(args, opts)` spawns `bin/gazette.js` asynchronously (never spawnSync: a blocked worker
 *   misses vitest's RPC deadline): keep it for the few tests of the bin itself (exit codes, locks).
 */
export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

function collector(): { stream: Writable; text: () => string } {
  const chunks: Buffer[] = [];
  const stream = new Writable({
    write(chunk: Buffer | string, _encoding, done) {
      chunks.push(Buffer.from(chunk));
      done();
    },
  });
  return { stream, text: () => Buffer.concat(chunks).toString('utf8') };
}

export async function gazette(
  args: string[],
  opts: { env?: Record<string, string | undefined>; stdin?: string; context?: AppContext } = {},
): Promise<CliResult> {
  const out = collector();
  const err = collector();
  const code = await runCli(['node', 'gazette', ...args], {
    io: { stdout: out.stream, stderr: err.stream, stdin: Readable.from(opts.stdin ?? '') },
    env: opts.env ?? {},
    ...(opts.context ? { context: opts.context } : {}),
  });
  return { code, stdout: out.text(), stderr: err.text() };
}

export function runBin(
  args: string[],
  opts: { env?: Record<string, string | undefined>; stdin?: string; timeoutMs?: number } = {},
): Promise<CliResult> {
  return new Promise((resolve) => {
    const child = execFile(
      process.execPath,
      [path.join(projectRoot, 'bin/gazette.js'), ...args],
      { cwd: projectRoot, env: opts.env ?? {}, encoding: 'utf8', timeout: opts.timeoutMs ?? 120_000 },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
    child.stdin?.end(opts.stdin ?? '');
  });
}

/** A context on a fresh, migrated test schema (testEnv plus `overrides`) for gazette(args, { context }). */
export async function cliContext(
  overrides: Record<string, string> = {},
): Promise<{ context: AppContext; close(): Promise<void> }> {
  const tdb = await createTestDatabase();
  const context = await createContext(testEnv(overrides), {
    log: silentLogger,
    schema: tdb.schema,
    migrate: false,
  });
  return {
    context,
    async close() {
      await context.close();
      await tdb.drop();
    },
  };
}
