import type { Env } from './config/env.js';
import { resolveSecretKeys, type SecretKeys } from './config/secret.js';
import { type DatabaseHandle, openDatabase } from './db/connect.js';
import { migrateToLatest } from './db/migrate.js';
import type { Db } from './db/schema.js';
import type { Logger } from './log.js';

/**
 * What a command, worker or server needs, built once at start and passed in (no singletons).
 * Stage modules take the narrow parts they use (db, log, env), not the whole context.
 */
export interface AppContext {
  env: Env;
  log: Logger;
  db: Db;
  database: DatabaseHandle;
  secrets: SecretKeys;
  /** Injected clock so scheduling rules can be tested without waiting. */
  now: () => Date;
  close(): Promise<void>;
}

export interface CreateContextOptions {
  log: Logger;
  /** PostgreSQL schema (tests use a fresh one per file). */
  schema?: string;
  migrate?: boolean;
  now?: () => Date;
}

export async function createContext(env: Env, opts: CreateContextOptions): Promise<AppContext> {
  const database = await openDatabase({
    databaseUrl: env.DATABASE_URL,
    dataDir: env.DATA_DIR,
    poolSize: env.DATABASE_POOL_SIZE,
    onPoolError: (err) =>
      opts.log.warn({ event: 'db.connection_lost', err: err.message }, 'a database connection broke'),
    ...(opts.schema ? { schema: opts.schema } : {}),
  });
  try {
    if (opts.migrate !== false) {
      const applied = await migrateToLatest(database.db, {
        ...(opts.schema ? { schema: opts.schema } : {}),
        // The lock takes a pooled connection of its own; a pool of one would wait on itself.
        exclusive: database.kind === 'postgres' && env.DATABASE_POOL_SIZE > 1,
      });
      if (applied.length)
        opts.log.info({ event: 'db.migrated', applied, where: database.where }, 'migrations applied');
    }
  } catch (err) {
    await database.close();
    throw err;
  }
  const closers: (() => Promise<void>)[] = [];
  return {
    env,
    log: opts.log,
    db: database.db,
    database,
    secrets: resolveSecretKeys(env),
    now: opts.now ?? (() => new Date()),
    async close() {
      for (const close of closers.reverse()) await close();
      await database.close();
    },
  };
}
