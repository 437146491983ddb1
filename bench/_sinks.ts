/**
 * SMTP sinks for the send benchmark, each in a process of its own:
 * - `node`: bench/_smtp-sink.ts, an smtp-server that discards mail and counts messages and bytes;
 * - `smtp-sink`: Postfix's C test server, which leaves far more of a small machine's cores to
 *   Gazette (it counts messages, not bytes);
 * - an external URL (`--smtp`), which the benchmark only sends to.
 */
import { type ChildProcess, fork, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { delimiter, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export type SinkKind = 'node' | 'smtp-sink' | 'external';

export interface Sink {
  kind: SinkKind;
  url: string;
  /** Messages (and bytes, when the sink counts them) received so far; null when it cannot tell. */
  count(): Promise<{ messages: number; bytes: number | null } | null>;
  stop(): Promise<void>;
}

const here = dirname(fileURLToPath(import.meta.url));

export class SinkUnavailableError extends Error {
  override name = 'SinkUnavailableError';
}

export async function startSink(kind: SinkKind, externalUrl?: string): Promise<Sink> {
  if (kind === 'external') {
    if (!externalUrl) throw new Error('--smtp <url> is needed for an external sink');
    return { kind, url: externalUrl, count: async () => null, stop: async () => {} };
  }
  return kind === 'smtp-sink' ? startPostfixSink() : startNodeSink();
}

async function startNodeSink(): Promise<Sink> {
  const proc = fork(join(here, '_smtp-sink.ts'), [], { execArgv: ['--import', 'tsx'] });
  const url = await new Promise<string>((ok) =>
    proc.on('message', (m: { type: string; url: string }) => m.type === 'ready' && ok(m.url)),
  );
  return {
    kind: 'node',
    url,
    count: () =>
      new Promise((ok) => {
        const on = (m: { type: string; messages: number; bytes: number }) => {
          if (m.type !== 'count') return;
          proc.off('message', on);
          ok({ messages: m.messages, bytes: m.bytes });
        };
        proc.on('message', on);
        proc.send({ type: 'count' });
      }),
    stop: () => stopChild(proc),
  };
}

/**
 * Where Postfix's smtp-sink is, or null. Debian installs it as /usr/sbin/smtp-sink;
 * BENCH_SMTP_SINK names another binary.
 */
export function findSmtpSink(): string | null {
  const named = process.env.BENCH_SMTP_SINK;
  if (named) return existsSync(named) ? named : null;
  const dirs = [...(process.env.PATH ?? '').split(delimiter), '/usr/sbin', '/usr/local/sbin'];
  for (const d of dirs) {
    const p = join(d, 'smtp-sink');
    if (d && existsSync(p)) return p;
  }
  return null;
}

export const SMTP_SINK_HELP = [
  "Postfix's smtp-sink is not installed. On Debian or Ubuntu it comes with the postfix package:",
  '  sudo DEBIAN_FRONTEND=noninteractive apt-get install -y postfix',
  '  sudo postfix stop   # the benchmark needs only /usr/sbin/smtp-sink, not the mail daemon on port 25',
  'or run the benchmark with --sink node (an in-process smtp-server; it takes more CPU from Gazette).',
].join('\n');

async function startPostfixSink(): Promise<Sink> {
  const bin = findSmtpSink();
  if (!bin) throw new SinkUnavailableError(SMTP_SINK_HELP);
  const port = await freePort();
  // -c: running counters on stdout; -a: no AUTH offered (nodemailer would not use it anyway).
  // smtp-sink refuses to run as root without a user to switch to.
  const args = [
    '-c',
    '-a',
    ...(process.getuid?.() === 0 ? ['-u', 'nobody'] : []),
    `127.0.0.1:${port}`,
    '1024',
  ];
  const proc = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let messages = 0;
  let stderr = '';
  // Counters arrive as "sess=N quit=N mesg=N" lines ended by a carriage return.
  proc.stdout.on('data', (d: Buffer) => {
    for (const m of d.toString('latin1').matchAll(/mesg=(\d+)/g)) messages = Number(m[1]);
  });
  proc.stderr.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  await waitForPort(port, proc, () => stderr);
  return {
    kind: 'smtp-sink',
    url: `smtp://127.0.0.1:${port}`,
    count: async () => ({ messages, bytes: null }),
    stop: () => stopChild(proc),
  };
}

function freePort(): Promise<number> {
  return new Promise((ok, fail) => {
    const srv = createServer();
    srv.once('error', fail);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => ok(port));
    });
  });
}

async function waitForPort(port: number, proc: ChildProcess, stderr: () => string): Promise<void> {
  const { connect } = await import('node:net');
  for (let i = 0; i < 100; i++) {
    if (proc.exitCode !== null) throw new Error(`smtp-sink exited (${proc.exitCode}): ${stderr().trim()}`);
    const up = await new Promise<boolean>((ok) => {
      const s = connect(port, '127.0.0.1');
      s.once('connect', () => {
        s.destroy();
        ok(true);
      });
      s.once('error', () => ok(false));
    });
    if (up) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`smtp-sink did not listen on port ${port}: ${stderr().trim()}`);
}

function stopChild(proc: ChildProcess): Promise<void> {
  return new Promise((ok) => {
    if (proc.exitCode !== null || proc.signalCode !== null) return ok();
    proc.once('exit', () => ok());
    proc.kill('SIGTERM');
  });
}
