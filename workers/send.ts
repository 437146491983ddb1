import { pathToFileURL } from 'node:url';
import { parseEnv } from '../src/config/env.js';
import { type AppContext, createContext } from '../src/context.js';
import { createSendWorker, type DeliveryContent, type SendWorker } from '../src/delivery/api.js';
import { createLogger } from '../src/log.js';
import { assertRedisReachable } from '../src/queue/redis.js';

export interface StartSendWorkerOptions {
  /** Stand-ins for the other stages (tests); default the real ones. */
  content?: DeliveryContent;
  concurrency?: number;
  scanIntervalMs?: number;
  /** The database stayed away longer than DATABASE_OUTAGE_GRACE_SECONDS (default: exit 1, for the supervisor). */
  onDatabaseLost?: (err: Error) => void;
}

/**
 * Starts one send worker process's worth of work on an app context: BullMQ worker on
 * QUEUES.send, a resume scan now and periodically. Run as many as you like, on any hosts.
 */
export async function startSendWorker(
  ctx: AppContext,
  opts: StartSendWorkerOptions = {},
): Promise<SendWorker> {
  return createSendWorker({
    db: ctx.db,
    log: ctx.log,
    env: ctx.env,
    secrets: ctx.secrets,
    now: ctx.now,
    connection: { url: ctx.env.REDIS_URL, prefix: ctx.env.QUEUE_PREFIX },
    ...(opts.content ? { content: opts.content } : {}),
    ...(opts.concurrency ? { concurrency: opts.concurrency } : {}),
    ...(opts.scanIntervalMs !== undefined ? { scanIntervalMs: opts.scanIntervalMs } : {}),
    onDatabaseLost:
      opts.onDatabaseLost ??
      ((err) => {
        ctx.log.fatal({ event: 'db.lost', err: err.message }, 'database unreachable past the grace; exiting');
        process.exit(1);
      }),
  });
}

/** Stops on SIGTERM/SIGINT: finishes the chunk on the wire, releases what is claimed, exits. */
export function stopOnSignals(ctx: AppContext, worker: SendWorker): void {
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    ctx.log.info({ event: 'delivery.worker.signal', signal }, 'stopping send worker');
    worker
      .close()
      .then(() => ctx.close())
      .then(
        () => process.exit(0),
        (err: Error) => {
          ctx.log.error(
            { event: 'delivery.worker.stop_failed', err: err.message },
            'send worker did not stop cleanly',
          );
          process.exit(1);
        },
      );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

async function main(): Promise<void> {
  const env = parseEnv();
  const log = createLogger({ level: env.LOG_LEVEL });
  await assertRedisReachable(env.REDIS_URL);
  const ctx = await createContext(env, { log });
  const worker = await startSendWorker(ctx);
  stopOnSignals(ctx, worker);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((err: Error) => {
    process.stderr.write(`send worker: ${err.message}\n`);
    process.exit(1);
  });
}
