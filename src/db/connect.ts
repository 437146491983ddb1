import { closeSync, mkdirSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Kysely, PostgresDialect } from 'kysely';
import pg from 'pg';
import type { Database, Db } from './schema.js';

// int8 (bigserial ids, count(*)) as a JS number, as PGlite returns it; ids stay far below 2^53.
pg.types.setTypeParser(20, (v) => Number.parseInt(v, 10));
// numeric (avg, sum) as a number too.
pg.types.setTypeParser(1700, (v) => Number.parseFloat(v));

export interface DatabaseHandle {
  db: Db;
  kind: 'postgres' | 'pglite';
  /** Human-readable location, never a password. */
  where: string;
  close(): Promise<void>;
}

export class DatabaseLockedError extends Error {
  override name = 'DatabaseLockedError';
}

export interface OpenDatabaseOptions {
  databaseUrl?: string | undefined;
  dataDir: string;
  poolSize?: number;
  /** PostgreSQL schema to use (tests get a fresh one per file). */
  schema?: string;
  /**
   * An idle pooled connection broke (PostgreSQL restarted). Without a handler the pool's 'error'
   * event would end the process; the next query opens a new connection.
   */
  onPoolError?: (err: Error) => void;
}

export async function openDatabase(opts: OpenDatabaseOptions): Promise<DatabaseHandle> {
  if (opts.databaseUrl) {
    const pool = new pg.Pool({
      connectionString: opts.databaseUrl,
      max: opts.poolSize ?? 10,
      ...(opts.schema ? { options: `-c search_path=${opts.schema}` } : {}),
    });
    pool.on('error', (err) => opts.onPoolError?.(err));
    // A client checked out but between queries has no listener of the pool's; when the server
    // ends its session (a restart) the error would end the process. Its query fails instead.
    pool.on('connect', (client) => client.on('error', () => {}));
    const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
    const url = new URL(opts.databaseUrl);
    return {
      db,
      kind: 'postgres',
      where: `postgres://${url.hostname}:${url.port || 5432}${url.pathname}`,
      close: () => db.destroy(),
    };
  }
  const dir = resolve(opts.dataDir, 'pglite');
  mkdirSync(dir, { recursive: true });
  const releaseLock = acquireLock(join(resolve(opts.dataDir), 'pglite.lock'), dir);
  try {
    // Loaded only here: a process on PostgreSQL never pays for the embedded database's WebAssembly.
    const [{ PGlite }, { PGliteDialect }] = await Promise.all([
      import('@electric-sql/pglite'),
      import('kysely-pglite-dialect'),
    ]);
    const client = await PGlite.create(dir);
    const db = new Kysely<Database>({ dialect: new PGliteDialect(client) });
    let closed = false;
    return {
      db,
      kind: 'pglite',
      where: dir,
      close: async () => {
        if (closed) return;
        closed = true;
        await db.destroy();
        releaseLock();
      },
    };
  } catch (err) {
    releaseLock();
    throw err;
  }
}

/**
 * PGlite is one process's database. A second process opening the same folder would corrupt it,
 * so a lock file names the owner and a second opener is told to use DATABASE_URL instead.
 */
function acquireLock(lockPath: string, dir: string): () => void {
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(lockPath, 'wx');
      writeSync(fd, String(process.pid));
      closeSync(fd);
      const release = () => rmSync(lockPath, { force: true });
      process.once('exit', release);
      return release;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const pid = Number.parseInt(readFileSync(lockPath, 'utf8'), 10);
      if (Number.isInteger(pid) && pid !== process.pid && isAlive(pid)) {
        throw new DatabaseLockedError(
          `The embedded database in ${dir} is in use by process ${pid}. PGlite serves one process only: ` +
            'stop that process, or set DATABASE_URL to a PostgreSQL server to run several processes ' +
            '(e.g. DATABASE_URL=postgres://127.0.0.1:5432/gazette).',
        );
      }
      if (pid === process.pid) {
        throw new DatabaseLockedError(`The embedded database in ${dir} is already open in this process.`);
      }
      rmSync(lockPath, { force: true }); // stale: its owner is gone
    }
  }
  throw new DatabaseLockedError(`Could not lock the embedded database in ${dir}.`);
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
