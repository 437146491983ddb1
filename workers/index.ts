import type { AppContext } from '../src/context.js';
import { openSendQueue, type SendQueue, type SendWorker, startIssueSend } from '../src/delivery/api.js';
import { createArchiveWorker } from './archive.js';
import { createFeedWorker } from './feeds.js';
import { createImportWorker } from './imports.js';
import { createIssueWorker } from './issues.js';
import { startSendWorker } from './send.js';

export type WorkerRole = 'feeds' | 'issues' | 'send' | 'archive' | 'imports';
export const ALL_ROLES: readonly WorkerRole[] = ['feeds', 'issues', 'send', 'archive', 'imports'];

export interface WorkerSet {
  roles: WorkerRole[];
  /** The send queue, for starting an issue's send from the same process. */
  sendQueue: SendQueue;
  /** Stops taking jobs, lets the send worker release what it claimed, closes queues. */
  close(): Promise<void>;
}

/**
 * Starts the BullMQ workers one process runs (`gazette worker`, the demo). Workers are stateless:
 * run as many processes on as many hosts as the relays allow, against one PostgreSQL and Redis.
 */
export async function startWorkers(
  ctx: AppContext,
  opts: { roles?: readonly WorkerRole[] } = {},
): Promise<WorkerSet> {
  const roles = [...(opts.roles ?? ALL_ROLES)];
  const connection = { url: ctx.env.REDIS_URL, prefix: ctx.env.QUEUE_PREFIX };
  const sendQueue = openSendQueue(connection);
  const closers: (() => Promise<void>)[] = [() => sendQueue.close()];
  const deps = { db: ctx.db, log: ctx.log, env: ctx.env, secrets: ctx.secrets, now: ctx.now };

  if (roles.includes('send')) {
    const send: SendWorker = await startSendWorker(ctx);
    closers.push(() => send.close());
  }
  if (roles.includes('feeds')) {
    // One job scheduler per enabled source, kept in step with the sources table.
    const feeds = createFeedWorker({ ...deps, connection });
    await feeds.synced;
    closers.push(() => feeds.close());
  }
  if (roles.includes('issues')) {
    const issues = createIssueWorker({
      ...deps,
      connection,
      // A scheduled issue falls due: the delivery stage prepares it and enqueues its batches.
      onDue: async (issueId) => {
        await startIssueSend({ ...deps, queue: sendQueue }, issueId);
      },
    });
    closers.push(() => issues.close());
  }
  if (roles.includes('archive')) {
    // Snapshots of approved issues' sources, search indexing, link checks of sent issues.
    const archive = createArchiveWorker({ ...deps, connection });
    await archive.scheduled;
    closers.push(() => archive.close());
  }
  if (roles.includes('imports')) {
    // Subscriber CSV imports uploaded on /admin/subscribers, one at a time across all workers.
    const imports = createImportWorker({ ...deps, connection });
    await imports.ready;
    closers.push(() => imports.close());
  }
  ctx.log.info({ event: 'workers.started', roles }, `workers started: ${roles.join(', ')}`);
  return {
    roles,
    sendQueue,
    async close() {
      for (const close of closers.reverse()) await close().catch(() => {});
      ctx.log.info({ event: 'workers.stopped', roles }, 'workers stopped');
    },
  };
}
