import type { Logger } from '../log.js';

/**
 * Riding out a database restart: an operation that failed because PostgreSQL was unreachable is
 * tried again with backoff until it succeeds or the grace runs out. Only connection-level errors
 * count; a constraint violation or a bad query fails at once.
 */

// SQLSTATE classes 08 (connection exception) and 57P01-57P03 (admin shutdown, crash shutdown,
// cannot connect now), and the errors node-postgres raises when the socket goes away.
const PG_CODES = /^(08...|57P0[123])$/;
const NET =
  /ECONNREFUSED|ECONNRESET|EPIPE|ETIMEDOUT|EHOSTUNREACH|Connection terminated|connection timeout|timeout exceeded when trying to connect|Client has encountered a connection error|the database system is (starting up|shutting down)/i;

/** The error says the database could not be reached (it may be restarting), not that the query was wrong. */
export function isConnectionError(err: unknown): boolean {
  if (!err || typeof err !== 'object') return false;
  const e = err as { code?: unknown; message?: unknown };
  if (typeof e.code === 'string' && (PG_CODES.test(e.code) || NET.test(e.code))) return true;
  return typeof e.message === 'string' && NET.test(e.message);
}

export class DatabaseUnavailableError extends Error {
  override name = 'DatabaseUnavailableError';
}

export interface OutageGuardOptions {
  log: Logger;
  /** Give up (throw DatabaseUnavailableError) after the database was unreachable this long. */
  graceMs: number;
  /** First wait between attempts (doubles, with jitter, up to 5 s). */
  firstDelayMs?: number;
  sleep?: (ms: number) => Promise<void>;
}

export interface OutageGuard {
  /** Runs `fn`, again and again while the database is unreachable, within the grace. */
  run<T>(what: string, fn: () => Promise<T>): Promise<T>;
  /** The database is unreachable right now (as last seen). */
  readonly down: boolean;
}

/** One guard per process: the outage is the database's, so every caller shares its clock. */
export function createOutageGuard(opts: OutageGuardOptions): OutageGuard {
  const sleep = opts.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  let downSince: number | null = null;
  return {
    get down() {
      return downSince !== null;
    },
    async run<T>(what: string, fn: () => Promise<T>): Promise<T> {
      let delay = opts.firstDelayMs ?? 250;
      for (;;) {
        try {
          const value = await fn();
          if (downSince !== null) {
            opts.log.info(
              { event: 'db.recovered', afterMs: Date.now() - downSince, what },
              'database reachable again; carrying on',
            );
            downSince = null;
          }
          return value;
        } catch (err) {
          if (!isConnectionError(err)) throw err;
          if (downSince === null) {
            downSince = Date.now();
            opts.log.warn(
              { event: 'db.unavailable', what, err: (err as Error).message, graceMs: opts.graceMs },
              'database unreachable; holding results in memory and trying again',
            );
          }
          if (Date.now() - downSince > opts.graceMs) {
            throw new DatabaseUnavailableError(
              `The database has been unreachable for ${Math.round((Date.now() - downSince) / 1000)} s ` +
                `(longer than DATABASE_OUTAGE_GRACE_SECONDS): ${(err as Error).message}`,
            );
          }
          await sleep(delay / 2 + Math.random() * (delay / 2));
          delay = Math.min(delay * 2, 5000);
        }
      }
    },
  };
}
