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

export interface SinkCount {
  messages: number;
  /** Bytes received, when the sink counts them. */
  bytes: number | null;
  /** Messages to a recipient the sink saw before (every delivery has its own), when it can tell. */
  duplicates: number | null;
  /** The most messages taken in any one second since the `from`-th message, when it can tell. */
  busiestSecond: number | null;
}

export interface Sink {
  kind: SinkKind;
  /** One URL per relay. */
  urls: string[];
  /** Counts so far, summed over the relays; null when it cannot tell. */
  count(from?: number): Promise<SinkCount | null>;
  stop(): Promise<void>;
}

const here = dirname(fileURLToPath(import.meta.url));

export class SinkUnavailableError extends Error {
  override name = 'SinkUnavailableError';
}

/** `relays` sinks of one kind (the node sink listens on that many ports in one process). */
export async function startSink(
  kind: SinkKind,
  opts: { externalUrl?: string; relays?: number } = {},
): Promise<Sink> {
  const relays = opts.relays ?? 1;
  if (kind === 'external') {
    if (!opts.externalUrl) throw new Error('--smtp <url> is needed for an external sink');
    const urls = opts.externalUrl.split(',');
    return { kind, urls, count: async () => null, stop: async () => {} };
  }
  if (kind === 'node') return startNodeSink(relays);
  const sinks = await Promise.all(Array.from({ length: relays }, () => startPostfixSink()));
  return {
    kind,
    urls: sinks.map((s) => s.url),
    count: async () => ({
      messages: sinks.reduce((n, s) => n + s.messages(), 0),
      bytes: null,
      duplicates: null,
      busiestSecond: null,
    }),
    stop: async () => {
      await Promise.all(sinks.map((s) => s.stop()));
    },
  };
}

async function startNodeSink(relays: number): Promise<Sink> {
  const proc = fork(join(here, '_smtp-sink.ts'), [], {
    execArgv: ['--import', 'tsx'],
    env: { ...process.env, BENCH_SINK_PORTS: String(relays) },
  });
  const urls = await new Promise<string[]>((ok) =>
    proc.on('message', (m: { type: string; urls: string[] }) => m.type === 'ready' && ok(m.urls)),
  );
  return {
    kind: 'node',
    urls,
    count: (from = 0) =>
      new Promise((ok) => {
        const on = (m: { type: string } & SinkCount) => {
          if (m.type !== 'count') return;
          proc.off('message', on);
          ok({
            messages: m.messages,
            bytes: m.bytes,
            duplicates: m.duplicates,
            busiestSecond: m.busiestSecond,
          });
        };
        proc.on('message', on);
        proc.send({ type: 'count', from });
      }),
    stop: () => stopChild(proc),
  };
}

/** Delaying proxies in front of the relays (bench/_delay-proxy.ts): a relay `rttMs` away. */
export interface DelayProxy {
  urls: string[];
  /** Connections made through the proxies, and the clients' turns (round trips) on them. */
  count(): Promise<{ connections: number; turns: number }>;
  stop(): Promise<void>;
}

export async function startDelayProxy(urls: string[], rttMs: number): Promise<DelayProxy> {
  const proc = fork(join(here, '_delay-proxy.ts'), [], { execArgv: ['--import', 'tsx'] });
  const targets = urls.map((u) => {
    const url = new URL(u);
    return { host: url.hostname, port: Number(url.port) };
  });
  const ports = await new Promise<number[]>((ok) => {
    proc.on('message', (m: { type: string; ports: number[] }) => m.type === 'ready' && ok(m.ports));
    proc.send({ type: 'start', targets, delayMs: rttMs / 2 });
  });
  return {
    urls: urls.map((u, i) => {
      const url = new URL(u);
      url.port = String(ports[i]);
      return url.toString().replace(/\/$/, '');
    }),
    count: () =>
      new Promise((ok) => {
        const on = (m: { type: string; connections: number; turns: number }) => {
          if (m.type !== 'count') return;
          proc.off('message', on);
          ok({ connections: m.connections, turns: m.turns });
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

async function startPostfixSink(): Promise<{ url: string; messages(): number; stop(): Promise<void> }> {
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
  return { url: `smtp://127.0.0.1:${port}`, messages: () => messages, stop: () => stopChild(proc) };
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
