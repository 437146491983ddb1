import pLimit from 'p-limit';
import type { Env } from '../config/env.js';
import type { Db, Source } from '../db/schema.js';
import type { Logger } from '../log.js';
import { privatePolicy } from './address-guard.js';
import { charsetNotes, decodeBody } from './charset.js';
import { FetchError, fetchWithLimits, limitsFromEnv } from './fetch.js';
import { type HealthUpdate, healthAfterFailure, healthAfterSuccess } from './health.js';
import { parseFeed } from './parse.js';
import { storeItems } from './store-items.js';

/**
 * One poll of one source: fetch (conditional, limited, address-guarded), decode, parse, sanitise,
 * dedupe and store, then record the source's health. A bad feed never throws: the failure is
 * recorded on the source and returned, so one dead server cannot stop the others (invariant 8).
 */

export interface PollDeps {
  db: Db;
  log: Logger;
  env: Env;
  now?: () => Date;
}

export interface PollOutcome {
  status: 'ok' | 'not-modified' | 'failed';
  newItems: number;
  seenItems: number;
  filteredItems?: number;
  error?: string;
  httpStatus?: number;
}

export interface SourcePoll {
  sourceId: number;
  name: string;
  outcome: PollOutcome;
}

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

async function recordHealth(db: Db, sourceId: number, update: HealthUpdate & Record<string, unknown>) {
  await db
    .updateTable('sources')
    .set({ ...update, updated_at: update.last_polled_at })
    .where('id', '=', sourceId)
    .execute();
}

export async function pollSource(deps: PollDeps, sourceId: number): Promise<PollOutcome> {
  const { db, log, env } = deps;
  const now = deps.now?.() ?? new Date();
  const source = await db.selectFrom('sources').selectAll().where('id', '=', sourceId).executeTakeFirst();
  if (!source) {
    log.warn({ event: 'feed.poll.missing', sourceId }, 'source no longer exists');
    return { status: 'failed', newItems: 0, seenItems: 0, error: `no source with id ${sourceId}` };
  }
  let httpStatus: number | undefined;
  try {
    const limits = limitsFromEnv(env, privatePolicy(env.FETCH_ALLOW_PRIVATE, source.allow_private));
    const res = await fetchWithLimits(source.url, limits, {
      etag: source.etag,
      lastModified: source.last_modified,
    });
    httpStatus = res.status;
    if (res.notModified) {
      await recordHealth(db, source.id, { ...healthAfterSuccess(source, now), last_http_status: 304 });
      log.debug({ event: 'feed.poll.not_modified', sourceId }, 'feed unchanged (304)');
      return { status: 'not-modified', newItems: 0, seenItems: 0, httpStatus: 304 };
    }
    const decoded = decodeBody(res.body, res.headers['content-type']);
    const feed = await parseFeed(decoded.text, {
      feedUrl: res.url,
      defaultZone: env.DEFAULT_TIME_ZONE,
      timeZone: source.time_zone,
    });
    const stored = await storeItems(db, source, feed.items, now);
    const notes = [...charsetNotes(decoded), ...feed.notes];
    await recordHealth(db, source.id, {
      ...healthAfterSuccess(source, now),
      last_http_status: res.status,
      last_charset: decoded.charset,
      parse_notes: JSON.stringify(notes),
      // Validators are kept only once the body was stored, so a failed parse is retried in full.
      etag: res.headers.etag ?? null,
      last_modified: res.headers['last-modified'] ?? null,
    });
    log.info(
      {
        event: 'feed.poll.ok',
        sourceId,
        format: feed.format,
        charset: decoded.charset,
        notes: notes.map((n) => n.code),
        items: feed.items.length,
        newItems: stored.newItems,
        seenItems: stored.seenItems,
        filteredItems: stored.filteredItems,
      },
      'feed polled',
    );
    return {
      status: 'ok',
      newItems: stored.newItems,
      seenItems: stored.seenItems,
      filteredItems: stored.filteredItems,
      httpStatus: res.status,
    };
  } catch (err) {
    const message = errorMessage(err);
    if (err instanceof FetchError && err.status) httpStatus = err.status;
    const health = healthAfterFailure(source, message, now, {
      failingAfter: env.FEED_FAILING_AFTER,
      maxBackoffMinutes: env.FEED_MAX_BACKOFF_MINUTES,
    });
    try {
      await recordHealth(db, source.id, { ...health, last_http_status: httpStatus ?? null });
    } catch (dbErr) {
      log.error(
        { event: 'feed.poll.record_failed', sourceId, err: errorMessage(dbErr) },
        'could not record failure',
      );
    }
    log.warn(
      {
        event: health.status === 'failing' ? 'feed.poll.failing' : 'feed.poll.failed',
        sourceId,
        failures: health.consecutive_failures,
        err: message,
      },
      'feed poll failed',
    );
    return {
      status: 'failed',
      newItems: 0,
      seenItems: 0,
      error: message,
      ...(httpStatus !== undefined ? { httpStatus } : {}),
    };
  }
}

export interface PollManyOptions {
  /** Only sources whose next poll time has come (the default polls every enabled source). */
  dueOnly?: boolean;
  concurrency?: number;
  sourceIds?: number[];
}

/** Whether a source is due: never polled, or its next poll time (after backoff) has come. */
export function isDue(source: Pick<Source, 'next_poll_at' | 'enabled'>, now: Date): boolean {
  return source.enabled && (!source.next_poll_at || source.next_poll_at.getTime() <= now.getTime());
}

/** Polls every enabled source once (or only the due ones), a few at a time; never throws for a feed. */
export async function pollDueSources(deps: PollDeps, opts: PollManyOptions = {}): Promise<SourcePoll[]> {
  const now = deps.now?.() ?? new Date();
  let q = deps.db
    .selectFrom('sources')
    .select(['id', 'name', 'enabled', 'next_poll_at'])
    .where('kind', '=', 'feed')
    .where('enabled', '=', true);
  if (opts.sourceIds) q = q.where('id', 'in', opts.sourceIds.length ? opts.sourceIds : [-1]);
  const sources = (await q.orderBy('id').execute()).filter((s) => !opts.dueOnly || isDue(s, now));
  const limit = pLimit(opts.concurrency ?? deps.env.FEED_POLL_CONCURRENCY);
  return Promise.all(
    sources.map((s) =>
      limit(async () => ({ sourceId: s.id, name: s.name, outcome: await pollSource(deps, s.id) })),
    ),
  );
}
