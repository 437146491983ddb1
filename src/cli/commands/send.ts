import { Queue } from 'bullmq';
import type { Command } from 'commander';
import type { Env } from '../../config/env.js';
import type { Db } from '../../db/schema.js';
import {
  cancelIssue,
  issueStats,
  openSendQueue,
  pauseIssue,
  resendUnknown,
  resumeIssue,
  type SendQueue,
  startIssueSend,
} from '../../delivery/api.js';
import { formatProgress, loadSendProgress } from '../../delivery/progress.js';
import { type RelayRestState, RelayRests } from '../../delivery/relay-rest.js';
import { describeReason, describeRest } from '../../delivery/stop-reasons.js';
import { QUEUES } from '../../queue/names.js';
import { assertRedisReachable, createRedis } from '../../queue/redis.js';
import { bounceStatistics, formatBounceStatistics } from '../../tracking/bounce-stats.js';
import { formatIssueStatistics, issueStatistics } from '../../tracking/stats.js';
import { actorOption } from '../actor.js';
import { UsageError } from '../main.js';
import type { CliRuntime } from '../runtime.js';
import { waitForIssue } from '../wait-for-issue.js';

function issueId(arg: string): number {
  const n = Number(arg);
  if (!Number.isInteger(n) || n <= 0)
    throw new UsageError(`issue id must be a positive whole number (got "${arg}")`);
  return n;
}

/** Delivery commands: send, pause, resume, cancel while sending, resend-unknown, stats. */
export function registerSendCommands(program: Command, runtime: CliRuntime): void {
  const issue =
    program.commands.find((c) => c.name() === 'issue') ?? program.command('issue').description('issues');

  async function withQueue<T>(
    fn: (deps: Awaited<ReturnType<typeof depsOf>>, queue: SendQueue) => Promise<T>,
  ): Promise<T> {
    const env = runtime.env();
    await assertRedisReachable(env.REDIS_URL);
    const deps = await depsOf();
    const queue = openSendQueue({ url: env.REDIS_URL, prefix: env.QUEUE_PREFIX });
    try {
      return await fn(deps, queue);
    } finally {
      await queue.close();
    }
  }
  async function depsOf() {
    const ctx = await runtime.context();
    return { db: ctx.db, log: ctx.log, env: ctx.env, secrets: ctx.secrets, now: ctx.now };
  }

  actorOption(
    issue
      .command('send <id>')
      .description('start sending an approved or scheduled issue (workers do the sending: `gazette worker`)')
      .option('--wait', 'show progress until the issue is sent, paused or cancelled'),
  ).action(async (idArg: string, o: { wait?: boolean; actor: string }) => {
    const id = issueId(idArg);
    const prepared = await withQueue((deps, queue) => startIssueSend({ ...deps, queue }, id, o.actor));
    if (!o.wait) {
      runtime.print(
        { issueId: id, prepared },
        prepared
          ? `Issue ${id} is sending: ${prepared.queued} queued, ${prepared.skipped} skipped, ${prepared.variants.length} variant(s).`
          : `Issue ${id} was already sending.`,
      );
      return;
    }
    const deps = await depsOf();
    const env = runtime.env();
    const redis = createRedis(env.REDIS_URL);
    try {
      const rests = new RelayRests(redis, env.QUEUE_PREFIX);
      const result = await waitWithProgress(deps, id, { out: runtime.io.stderr, rests: () => rests.all() });
      const why = await whyStopped(deps.db, id);
      runtime.print(
        { ...result, ...why },
        `Issue ${id} is ${result.state}: ${JSON.stringify(result.stats.byState)}${why.why ? `\n${why.why}` : ''}`,
      );
    } finally {
      redis.disconnect();
    }
  });

  actorOption(
    issue
      .command('pause <id>')
      .description('pause a sending issue (messages on the wire finish; the rest wait)'),
  ).action(async (idArg: string, o: { actor: string }) => {
    const id = issueId(idArg);
    const ok = await pauseIssue(await depsOf(), id, 'operator', o.actor);
    if (!ok) throw new UsageError(`issue ${id} is not sending`);
    runtime.print({ issueId: id, state: 'paused' }, `Issue ${id} paused.`);
  });

  actorOption(issue.command('resume <id>').description('resume a paused issue')).action(
    async (idArg: string, o: { actor: string }) => {
      const id = issueId(idArg);
      await withQueue((deps, queue) => resumeIssue({ ...deps, queue }, id, o.actor));
      runtime.print({ issueId: id, state: 'sending' }, `Issue ${id} is sending again.`);
    },
  );

  actorOption(
    issue
      .command('cancel <id>')
      .alias('cancel-send')
      .description(
        'cancel an issue that has not been sent, also while it sends: rows not yet on the wire are skipped',
      ),
  ).action(async (idArg: string, o: { actor: string }) => {
    const id = issueId(idArg);
    const env = runtime.env();
    await assertRedisReachable(env.REDIS_URL);
    // The issues queue, for the scheduled job of an issue cancelled before it sends.
    const issuesQueue = new Queue(QUEUES.issues, {
      connection: createRedis(env.REDIS_URL),
      prefix: env.QUEUE_PREFIX,
    });
    try {
      const { issue: cancelled, skipped } = await cancelIssue(
        { ...(await depsOf()), issuesQueue },
        id,
        o.actor,
      );
      runtime.print(
        { issueId: id, state: cancelled.state, skipped },
        skipped ? `Issue ${id} cancelled; ${skipped} message(s) will not be sent.` : `Issue ${id} cancelled.`,
      );
    } finally {
      await issuesQueue.close();
    }
  });

  actorOption(
    issue
      .command('resend-unknown <id>')
      .description('send again the messages whose fate is unknown after a crash (some may arrive twice)'),
  ).action(async (idArg: string, o: { actor: string }) => {
    const id = issueId(idArg);
    const n = await withQueue((deps, queue) => resendUnknown({ ...deps, queue }, id, o.actor));
    runtime.print({ issueId: id, requeued: n }, `${n} message(s) queued again.`);
  });

  program
    .command('stats <issue>')
    .description(
      "an issue's deliveries by state, with opens, clicks, bounces per section and variant, failures by reason and recipient domain, and its reconciliation",
    )
    .action(async (idArg: string) => {
      const id = issueId(idArg);
      const ctx = await runtime.context();
      const stats = await issueStats(ctx.db, id);
      const row = await ctx.db.selectFrom('issues').select('state').where('id', '=', id).executeTakeFirst();
      if (!row) throw new UsageError(`issue ${id} does not exist`);
      const statistics = await issueStatistics(ctx.db, id);
      const bounces = await bounceStatistics(ctx.db, id);
      const why = await whyStopped(ctx.db, id);
      const rests = await relayRestsIfReachable(runtime.env());
      runtime.print(
        { issueId: id, state: row.state, ...why, relayRests: rests, ...stats, statistics, bounces },
        [
          `Issue ${id} (${row.state}), ${stats.total} deliveries:`,
          ...(why.why ? [`  ${why.why}`] : []),
          ...rests.map((r) => `  ${describeRest('en', r)}`),
          ...Object.entries(stats.byState).map(([k, v]) => `  ${k.padEnd(9)} ${v}`),
          '',
          formatIssueStatistics(statistics),
          formatBounceStatistics(bounces, ctx.env.DEFAULT_LOCALE),
        ].join('\n'),
      );
    });
}

/** Why an issue stopped (paused, failed), in words, with the relay's reply; nulls when it did not. */
async function whyStopped(db: Db, id: number) {
  const row = await db
    .selectFrom('issues')
    .select(['pause_reason', 'pause_reply'])
    .where('id', '=', id)
    .executeTakeFirst();
  const reason = row?.pause_reason ?? null;
  const reply = row?.pause_reply ?? null;
  return { pauseReason: reason, pauseReply: reply, why: reason ? describeReason('en', reason, reply) : null };
}

/** The relays resting now, or none when Redis does not answer within a second (stats needs no Redis). */
async function relayRestsIfReachable(env: Env): Promise<RelayRestState[]> {
  const redis = createRedis(env.REDIS_URL, {
    maxRetriesPerRequest: 0,
    connectTimeout: 1000,
    retryStrategy: () => null,
  });
  redis.on('error', () => {});
  try {
    return await new RelayRests(redis, env.QUEUE_PREFIX).all();
  } catch {
    return [];
  } finally {
    redis.disconnect();
  }
}

/** Where progress goes: a terminal gets one line redrawn in place, anything else a line now and then. */
export interface ProgressOut {
  write(text: string): unknown;
  isTTY?: boolean;
}

/**
 * Polls the ledger until the issue leaves 'sending' (sent, paused, cancelled, failed), showing
 * accepted, deferred, failed, messages per second and ETA (src/delivery/progress.ts draws the line).
 */
export async function waitWithProgress(
  deps: Parameters<typeof waitForIssue>[0],
  id: number,
  opts: {
    out?: ProgressOut;
    intervalMs?: number;
    everyMs?: number;
    /** The relays resting now, said after the progress line (read at most every 2 s). */
    rests?: () => Promise<RelayRestState[]>;
  } = {},
) {
  let restText = '';
  let restReadAt = 0;
  const out = opts.out ?? process.stderr;
  const tty = out.isTTY === true;
  const everyMs = opts.everyMs ?? 5000;
  let line = '';
  let written = '';
  let printedAt = Number.NEGATIVE_INFINITY;
  const result = await waitForIssue(deps, id, {
    intervalMs: opts.intervalMs ?? 500,
    // The send page's own figures (src/delivery/progress.ts), read from the ledger at each poll.
    async onProgress() {
      const at = Date.now();
      if (opts.rests && at - restReadAt >= 2000) {
        restReadAt = at;
        void opts.rests().then(
          (rs) => {
            restText = rs.map((r) => ` — ${describeRest('en', r)}`).join('');
          },
          () => {},
        );
      }
      const progress = await loadSendProgress(deps.db, id);
      if (!progress) return;
      line = formatProgress(progress) + restText;
      if (tty) out.write(`\r\x1b[2K${line}`);
      else if (at - printedAt >= everyMs) {
        out.write(`${line}\n`);
        written = line;
        printedAt = at;
      }
    },
  });
  // The last line always shows how the send ended.
  if (tty) out.write('\n');
  else if (written !== line) out.write(`${line}\n`);
  return result;
}
