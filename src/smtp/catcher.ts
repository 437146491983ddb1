import { mkdirSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { join, resolve } from 'node:path';
import { SMTPServer, type SMTPServerDataStream, type SMTPServerSession } from 'smtp-server';

export interface CaughtMessage {
  id: number;
  from: string;
  to: string[];
  path?: string;
  raw: Buffer;
}

export interface SmtpCatcher {
  url: string;
  port: number;
  messages: CaughtMessage[];
  close(): Promise<void>;
}

export interface SmtpCatcherOptions {
  /** Where to write each message as an .eml file; omit to keep messages in memory only. */
  outboxDir?: string;
  port?: number;
  host?: string;
  /** Decide the reply per recipient message; return an Error with responseCode to refuse it. */
  respond?: (msg: { from: string; to: string[]; raw: Buffer; index: number }) => Error | undefined;
  /** Keep raw bytes in memory (tests); the demo writes files only. */
  keepInMemory?: boolean;
}

/**
 * The in-process SMTP peer used when SMTP_URL is unset: a real SMTP server (smtp-server) that
 * accepts everything on loopback and stores each message as an .eml file.
 */
export async function startSmtpCatcher(opts: SmtpCatcherOptions = {}): Promise<SmtpCatcher> {
  const messages: CaughtMessage[] = [];
  const outbox = opts.outboxDir ? resolve(opts.outboxDir) : undefined;
  if (outbox) mkdirSync(outbox, { recursive: true });
  let counter = 0;
  const stamp = Date.now();
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    hideSTARTTLS: true,
    size: 50 * 1024 * 1024,
    logger: false,
    onData(stream: SMTPServerDataStream, session: SMTPServerSession, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        const raw = Buffer.concat(chunks);
        const from = session.envelope.mailFrom ? session.envelope.mailFrom.address : '';
        const to = session.envelope.rcptTo.map((r) => r.address);
        const index = counter++;
        const refusal = opts.respond?.({ from, to, raw, index });
        if (refusal) return callback(refusal);
        const msg: CaughtMessage = {
          id: index,
          from,
          to,
          raw: opts.keepInMemory === false ? Buffer.alloc(0) : raw,
        };
        messages.push(msg);
        if (!outbox) return callback(null, 'Queued');
        const path = join(outbox, `${stamp}-${String(index).padStart(6, '0')}.eml`);
        msg.path = path;
        writeFile(path, raw).then(
          () => callback(null, 'Queued'),
          (err: Error) => callback(err),
        );
      });
    },
  });
  await new Promise<void>((ok, fail) => {
    server.once('error', fail);
    server.listen(opts.port ?? 0, opts.host ?? '127.0.0.1', () => ok());
  });
  const { port } = server.server.address() as AddressInfo;
  return {
    url: `smtp://127.0.0.1:${port}`,
    port,
    messages,
    close: () => new Promise<void>((ok) => server.close(() => ok())),
  };
}
