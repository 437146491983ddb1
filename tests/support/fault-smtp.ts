import { SMTPServer } from 'smtp-server';

/**
 * An SMTP peer that injects faults (tests and bench/faults.ts): it counts what it received
 * (duplicates included) and refuses with 421-and-close while `refuse` says so. smtp-server sends
 * a 421 and then closes the connection, as throttling relays do.
 */
export interface FaultSmtp {
  port: number;
  url: string;
  /** Every recipient accepted, in order (a duplicate appears twice). */
  received: string[];
  /** Messages read but not yet answered (with `delayMs`). */
  answering: number;
  /** Refusals sent, by command. */
  refusals: { mail: number; rcpt: number };
  /** When to answer 421 at MAIL FROM or RCPT TO (null: accept). */
  refuse: ((command: 'mail' | 'rcpt') => boolean) | null;
  /** Stop listening (connections are refused) and listen again on the same port. */
  down(): Promise<void>;
  up(): Promise<void>;
  close(): Promise<void>;
}

export async function startFaultSmtp(opts: { port?: number; delayMs?: number } = {}): Promise<FaultSmtp> {
  let server: SMTPServer;
  const peer: FaultSmtp = {
    port: 0,
    url: '',
    received: [],
    answering: 0,
    refusals: { mail: 0, rcpt: 0 },
    refuse: null,
    down: () => new Promise<void>((ok) => server.close(() => ok())),
    up: () => listen(peer.port),
    close: () => new Promise<void>((ok) => server.close(() => ok())),
  };
  const throttled = () =>
    Object.assign(new Error('4.7.0 Too many messages, slow down'), { responseCode: 421 });
  function make(): SMTPServer {
    const s = new SMTPServer({
      authOptional: true,
      disabledCommands: ['STARTTLS'],
      logger: false,
      // down(): open connections are cut at once, as when the relay host goes away.
      closeTimeout: 50,
      onMailFrom(_a, _s, cb) {
        if (peer.refuse?.('mail')) {
          peer.refusals.mail++;
          return cb(throttled());
        }
        cb();
      },
      onRcptTo(_a, _s, cb) {
        if (peer.refuse?.('rcpt')) {
          peer.refusals.rcpt++;
          return cb(throttled());
        }
        cb();
      },
      onData(stream, session, cb) {
        stream.resume();
        stream.on('end', () => {
          const done = () => {
            for (const r of session.envelope.rcptTo) peer.received.push(r.address);
            peer.answering--;
            cb(null, 'queued');
          };
          peer.answering++;
          if (opts.delayMs) setTimeout(done, opts.delayMs);
          else done();
        });
      },
    });
    s.on('error', () => {});
    return s;
  }
  async function listen(port: number): Promise<void> {
    server = make();
    await new Promise<void>((ok) => server.listen(port, '127.0.0.1', () => ok()));
    peer.port = (server.server.address() as { port: number }).port;
    peer.url = `smtp://127.0.0.1:${peer.port}`;
  }
  await listen(opts.port ?? 0);
  return peer;
}
