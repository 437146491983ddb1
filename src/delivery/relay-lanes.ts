import { parseConnectionUrl } from 'nodemailer/lib/shared/index.js';
import SMTPConnection from 'nodemailer/lib/smtp-connection/index.js';
import type { SmtpOutcomeLike } from './classify.js';
import type { RenderedMessage } from './mime.js';
import type { RateGrant } from './rate-limit.js';

/**
 * The connections of one relay in one worker process, and the rows waiting for them.
 *
 * Each connection is a lane: it takes the next message from the relay's queue as soon as the
 * relay has answered its last one, whichever send job the message comes from, so a relay far
 * away always has `connections` messages on the way (no job waits for the slowest message of a
 * group before the next starts). The queue holds only rows already marked `sending`, and the
 * relay's wire window (`RowWindow`, two rows per connection) bounds them: one on the wire, one
 * marked ahead or waiting for its ledger write (invariant 3: after a crash at most that many rows
 * are `unknown`).
 *
 * A lane is nodemailer's SMTPConnection (TLS, STARTTLS, AUTH, PIPELINING as nodemailer does them),
 * driven directly instead of through its pool: every reply reaches the caller (the pool swallows a
 * 421 on a reused connection and hands the message back without it), and a message goes to the
 * socket in one write, dot-stuffed by a native search instead of nodemailer's per-byte transform.
 */

/**
 * Rows a relay may have in `sending` per connection in one worker process: one on the wire, the
 * others marked ahead or waiting for their ledger write. Two bound a relay far away (its round
 * trips are the long ones); near, the ledger's round trips are longer than the relay's, and four
 * keep the connections busy through them (measured: bench/send.ts on smtp-sink).
 */
export const WIRE_ROWS_PER_CONNECTION = 4;

/** One row's message waiting for a lane. */
export interface Ticket {
  envelopeFrom: string;
  to: string;
  /** The row should not go out any more (its chunk stopped: a pause, a rest, a stop). */
  cancelled(): boolean;
  /** Renders the message just before it goes on the wire (memory holds only those on the way). */
  render(): RenderedMessage | Error;
  done(outcome: LaneOutcome): void;
}

export type LaneOutcome =
  /** The relay answered (or the connection failed): the reply as nodemailer reports it. */
  | { kind: 'reply'; reply: SmtpOutcomeLike | null; messageId: string; bytes: number; startedAt: number }
  | { kind: 'unaddressable'; error: Error }
  /** Nothing of it reached the relay: it goes back to the queue. */
  | { kind: 'unsent'; why: 'cancelled' | 'resting' | 'dropped'; messageId: string | null };

/** A counting semaphore of rows in `sending` for one relay. */
export class RowWindow {
  private free: number;
  private readonly waiting: { min: number; max: number; ok: (n: number) => void }[] = [];

  constructor(readonly size: number) {
    this.free = size;
  }

  /** Waits until at least `min` rows are free, then takes up to `max`; says how many it took. */
  take(max: number, min = 1): Promise<number> {
    const lo = Math.max(1, Math.min(min, max, this.size));
    if (!this.waiting.length && this.free >= lo) {
      const n = Math.min(max, this.free);
      this.free -= n;
      return Promise.resolve(n);
    }
    return new Promise((ok) => this.waiting.push({ min: lo, max, ok }));
  }

  give(n: number): void {
    this.free += n;
    while (this.waiting.length && this.free >= (this.waiting[0] as { min: number }).min) {
      const w = this.waiting.shift() as { min: number; max: number; ok: (n: number) => void };
      const n2 = Math.min(w.max, this.free);
      this.free -= n2;
      w.ok(n2);
    }
  }

  get inUse(): number {
    return this.size - this.free;
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const DOT_LINE = Buffer.from('\r\n.');
const END_AFTER_CRLF = Buffer.from('.\r\n');
const END = Buffer.from('\r\n.\r\n');

/**
 * A message as SMTP DATA bytes: a dot at the start of a line doubled (RFC 5321 §4.5.2) and the
 * final ".". mime.ts builds messages with CRLF line ends only (tokens lose their CR and LF), so
 * lines can only begin after "\r\n": one native search finds them, usually none.
 */
export function smtpData(raw: Buffer): Buffer[] {
  const out: Buffer[] = [];
  let from = 0;
  if (raw[0] === 0x2e) {
    out.push(Buffer.from('.'));
  }
  for (let at = raw.indexOf(DOT_LINE); at >= 0; at = raw.indexOf(DOT_LINE, at + 3)) {
    out.push(raw.subarray(from, at + 3), Buffer.from('.'));
    from = at + 3;
  }
  out.push(from ? raw.subarray(from) : raw);
  const endsWithCrlf = raw.length >= 2 && raw[raw.length - 2] === 0x0d && raw[raw.length - 1] === 0x0a;
  out.push(endsWithCrlf ? END_AFTER_CRLF : END);
  return out;
}

/** nodemailer's SMTPConnection internals the lane relies on (checked once, see dataWriter). */
interface ConnectionInternals {
  _socket: import('node:net').Socket;
  _responseActions: ((str: string) => void)[];
  _currentDataStream: unknown;
  _actionSMTPStream(str: string, callback: (err: Error | null, str?: string) => void): void;
  _createSendStream(callback: (err: Error | null, str?: string) => void): unknown;
  options: { lmtp?: boolean };
  /** Set by the lane's writer: DATA began for the current message (the relay may hold part of it). */
  dataStarted?: boolean;
}

/**
 * The DATA writer: the message in one corked write to the socket. nodemailer's own would pass
 * every byte through a Transform (line ends and dots), which cost a third of the worker's CPU.
 */
function dataWriter(this: ConnectionInternals, callback: (err: Error | null, str?: string) => void) {
  this._responseActions.push((str) => this._actionSMTPStream(str, callback));
  this._currentDataStream = false;
  this.dataStarted = true;
  const socket = this._socket;
  const stream = {
    outByteCount: 0,
    write(message: Buffer) {
      socket.cork();
      for (const piece of smtpData(message)) {
        socket.write(piece);
        stream.outByteCount += piece.length;
      }
      socket.uncork();
      return true;
    },
    end() {},
  };
  return stream;
}

type Internal = SMTPConnection & ConnectionInternals;

const stockCreateSendStream = (SMTPConnection.prototype as unknown as ConnectionInternals)._createSendStream;
if (typeof stockCreateSendStream !== 'function')
  throw new Error('nodemailer SMTPConnection no longer has _createSendStream: relay-lanes.ts needs updating');

/** A lane's connection: opened on first use, again after the relay closed it. */
class Session {
  private conn: Internal | null = null;
  private opening: Promise<Internal> | null = null;
  /** Messages sent on the current connection. */
  messages = 0;

  constructor(
    private readonly options: Record<string, unknown>,
    private readonly auth: unknown,
    private readonly maxMessages: number,
  ) {}

  private open(): Promise<Internal> {
    this.opening ??= new Promise<Internal>((ok, fail) => {
      const conn = new SMTPConnection(this.options as SMTPConnection.Options) as Internal;
      if (!conn.options.lmtp) conn._createSendStream = dataWriter;
      let settled = false;
      const lost = (err?: Error) => {
        if (this.conn === conn) this.conn = null;
        if (!settled) {
          settled = true;
          this.opening = null;
          fail(err ?? Object.assign(new Error('Connection closed'), { code: 'ECONNECTION' }));
        }
      };
      // Errors while a message is out reach its callback; these only end the connection.
      conn.on('error', (err: Error) => lost(err));
      conn.once('end', () => lost());
      conn.connect((err) => {
        if (err) return lost(err);
        const ready = () => {
          settled = true;
          this.opening = null;
          this.conn = conn;
          this.messages = 0;
          ok(conn);
        };
        // As nodemailer's pool: sign in when the relay offers AUTH (or forceAuth says so).
        const offers = (conn as unknown as { allowsAuth?: boolean }).allowsAuth === true;
        if (this.auth && (offers || this.options.forceAuth === true))
          conn.login(this.auth as SMTPConnection.AuthenticationCredentials, (e) => {
            if (e) {
              lost(e); // first: closing reports a bare "Connection closed"
              return conn.close();
            }
            ready();
          });
        else ready();
      });
    });
    return this.opening;
  }

  /** Sends one message; `reused` says whether the connection had sent others before. */
  async send(
    from: string,
    to: string,
    raw: Buffer,
    eightBit: boolean,
  ): Promise<{ reply: SmtpOutcomeLike | null; reused: boolean; dataStarted: boolean; bytes: number }> {
    let conn: Internal;
    try {
      conn = this.conn ?? (await this.open());
    } catch (err) {
      return { reply: err as SmtpOutcomeLike, reused: false, dataStarted: false, bytes: 0 };
    }
    const reused = this.messages > 0;
    conn.dataStarted = false;
    return new Promise((resolve) => {
      conn.send(
        { from, to: [to], use8BitMime: eightBit } as unknown as SMTPConnection.Envelope,
        raw,
        (err, info) => {
          this.messages++;
          const dataStarted = conn.dataStarted === true;
          if (err) {
            const e = err as SMTPConnection.SMTPError & { responseCode?: number };
            // A refusal of this message leaves the session usable; anything else ends it.
            if (
              (e.code === 'EENVELOPE' || e.code === 'EMESSAGE') &&
              e.responseCode !== 421 &&
              this.conn === conn
            )
              conn.reset((resetErr) => {
                if (resetErr) this.drop(conn);
              });
            else this.drop(conn);
            return resolve({ reply: e as SmtpOutcomeLike, reused, dataStarted, bytes: 0 });
          }
          if (this.messages >= this.maxMessages) this.drop(conn, true);
          resolve({
            reply: { response: info.response ?? '250 OK', responseCode: 250 },
            reused,
            dataStarted,
            bytes: (info as { messageSize?: number }).messageSize ?? raw.length,
          });
        },
      );
    });
  }

  drop(conn: Internal | null = this.conn, politely = false): void {
    if (!conn) return;
    if (this.conn === conn) this.conn = null;
    if (politely) conn.quit();
    else conn.close();
  }
}

export interface LaneOptions {
  /** nodemailer's URL for the relay (credentials, TLS options in the query). */
  url: string;
  connections: number;
  /** The relay offers 8BITMIME. */
  eightBit: boolean;
  /** Whether the relay rests now (shared through Redis): a lane then sends nothing. */
  resting(): boolean;
  /**
   * A slot in the relay's per-second budget for the next message (rate-limit.ts), for a relay
   * with such a limit. The lane waits for its slot and, having missed it (a stall), takes another,
   * so messages leave evenly whatever the number of lanes and workers.
   */
  slot?: () => Promise<RateGrant>;
  /** Messages per connection before it is closed and opened again (default 1000, as nodemailer's pool). */
  maxMessages?: number;
  /** A connection with nothing to send for this long is closed (default 30 s). */
  idleMs?: number;
}

/** The lanes of one relay: `connections` sessions taking tickets from one queue. */
export class RelayLanes {
  readonly window: RowWindow;
  private readonly queue: Ticket[] = [];
  private readonly idle: (() => void)[] = [];
  private readonly sessions: Session[];
  private closed = false;
  private idleTimer: NodeJS.Timeout | null = null;
  private lastUse = Date.now();

  constructor(private readonly opts: LaneOptions) {
    const options = parseConnectionUrl(opts.url) as Record<string, unknown> & {
      auth?: { user?: string; pass?: string };
    };
    const auth =
      options.auth && (options.auth.user || options.auth.pass)
        ? {
            type: 'LOGIN',
            user: options.auth.user ?? '',
            credentials: { user: options.auth.user ?? '', pass: options.auth.pass ?? '' },
            method: false,
          }
        : null;
    this.window = new RowWindow(WIRE_ROWS_PER_CONNECTION * opts.connections);
    this.sessions = Array.from(
      { length: opts.connections },
      () => new Session(options, auth, opts.maxMessages ?? 1000),
    );
    for (const s of this.sessions) void this.lane(s);
    const idleMs = opts.idleMs ?? 30_000;
    this.idleTimer = setInterval(
      () => {
        if (!this.queue.length && Date.now() - this.lastUse > idleMs)
          for (const s of this.sessions) s.drop(undefined, true);
      },
      Math.min(idleMs, 10_000),
    );
    this.idleTimer.unref();
  }

  get connections(): number {
    return this.sessions.length;
  }

  /** Hands tickets to the lanes, in order. */
  push(...tickets: Ticket[]): void {
    this.queue.push(...tickets);
    this.lastUse = Date.now();
    while (this.idle.length && this.queue.length) (this.idle.shift() as () => void)();
  }

  private next(): Promise<Ticket | null> {
    const t = this.queue.shift();
    if (t) return Promise.resolve(t);
    if (this.closed) return Promise.resolve(null);
    return new Promise((ok) => this.idle.push(() => ok(this.closed ? null : (this.queue.shift() ?? null))));
  }

  private async lane(session: Session): Promise<void> {
    for (;;) {
      const t = await this.next();
      if (!t) {
        if (this.closed) return;
        continue;
      }
      await this.carry(session, t);
    }
  }

  private async carry(session: Session, t: Ticket): Promise<void> {
    const unsent = (why: 'cancelled' | 'resting' | 'dropped', messageId: string | null = null) =>
      t.done({ kind: 'unsent', why, messageId });
    if (t.cancelled()) return unsent('cancelled');
    if (this.opts.resting()) return unsent('resting');
    // Rendered before its slot, so that little lies between the slot and the wire.
    const msg = t.render();
    if (msg instanceof Error) return t.done({ kind: 'unaddressable', error: msg });
    if (this.opts.slot) {
      for (;;) {
        const g = await this.opts.slot();
        if (g.granted > 0) {
          const wait = g.slotAt(0) - Date.now();
          if (wait > 0) await sleep(wait);
          if (!g.late(0, Date.now())) break;
          continue; // stalled past the slot: a slot missed is not made up by a burst
        }
        await sleep(Math.min(g.retryInMs, 1000));
        if (t.cancelled()) return unsent('cancelled', msg.messageId);
        if (this.opts.resting()) return unsent('resting', msg.messageId);
      }
      if (t.cancelled()) return unsent('cancelled', msg.messageId);
      if (this.opts.resting()) return unsent('resting', msg.messageId);
    }
    const startedAt = Date.now();
    this.lastUse = startedAt;
    const sent = await session.send(t.envelopeFrom, t.to, msg.raw, this.opts.eightBit);
    const r = sent.reply as (SmtpOutcomeLike & { responseCode?: number }) | null;
    // No reply and no byte of the message written (the connection could not be opened, or broke
    // before DATA): the relay cannot have the message, so it is never `unknown`. On a connection
    // that had sent before, that is the relay ending an idle session: the row simply goes back.
    // A reply (a 421 included) is the relay speaking, and is reported as such.
    if (r && r.responseCode === undefined && !sent.dataStarted) {
      if (sent.reused && r.code === 'ECONNECTION') return unsent('dropped', msg.messageId);
      r.beforeMessage = true;
    }
    t.done({ kind: 'reply', reply: r, messageId: msg.messageId, bytes: sent.bytes, startedAt });
  }

  /** Stops taking tickets (those queued are handed back as cancelled) and closes the connections. */
  close(): void {
    this.closed = true;
    if (this.idleTimer) clearInterval(this.idleTimer);
    for (const t of this.queue.splice(0)) t.done({ kind: 'unsent', why: 'cancelled', messageId: null });
    while (this.idle.length) (this.idle.shift() as () => void)();
    for (const s of this.sessions) s.drop(undefined, true);
  }
}
