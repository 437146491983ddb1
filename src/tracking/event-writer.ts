import { sql } from 'kysely';
import type { Db, EventType } from '../db/schema.js';
import type { Logger } from '../log.js';

/**
 * Something learned after acceptance, ready for the events table. `dedupeKey` makes the write
 * idempotent: a second event with the same key changes nothing (events.dedupe_key is UNIQUE).
 * Clicks are special: the first click on a link by a delivery keeps its key; later clicks are
 * still written (subtype 'repeat', no key) so every click counts.
 */
export interface TrackEvent {
  type: EventType;
  subtype?: string | null;
  deliveryId: number | null;
  issueId: number | null;
  subscriberId: number | null;
  linkId?: number | null;
  dedupeKey: string | null;
  proxied?: boolean;
  detail?: Record<string, unknown>;
  occurredAt: Date;
}

export interface EventWriterOptions {
  db: Db;
  log: Logger;
  /** Flush when this many events wait; also the rows per INSERT (at most 5000). */
  maxBatch?: number;
  /** Flush at the latest this long after the first waiting event. */
  flushIntervalMs?: number;
  /** Beyond this many waiting events (database down for long), the oldest are dropped and counted. */
  maxBuffered?: number;
}

export interface EventWriterStats {
  queued: number;
  written: number;
  duplicates: number;
  dropped: number;
  failedFlushes: number;
  flushes: number;
}

const RETRY_MS = 1000;
/** Dedupe keys remembered as written, so replays and repeat clicks skip a conflicting INSERT. */
const KNOWN_KEYS = 200_000;

/**
 * An in-process queue in front of the events table, so a redirect or pixel answers at once and
 * the database sees one multi-row INSERT per batch instead of one per request. A failed batch is
 * retried row by row; rows the database refuses for good (a deleted delivery) are dropped and
 * logged, the rest are kept for the next flush.
 */
export class EventWriter {
  private buffer: TrackEvent[] = [];
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> = Promise.resolve();
  private closed = false;
  private readonly known = new Set<string>();
  private readonly maxBatch: number;
  private readonly interval: number;
  private readonly maxBuffered: number;
  readonly stats: EventWriterStats = {
    queued: 0,
    written: 0,
    duplicates: 0,
    dropped: 0,
    failedFlushes: 0,
    flushes: 0,
  };

  constructor(private readonly opts: EventWriterOptions) {
    // Ten parameters a row; PostgreSQL allows 65,535 per statement.
    this.maxBatch = Math.min(opts.maxBatch ?? 1000, 5000);
    this.interval = opts.flushIntervalMs ?? 200;
    this.maxBuffered = opts.maxBuffered ?? 200_000;
  }

  get pending(): number {
    return this.buffer.length;
  }

  /** Queues an event; never throws and never waits for the database. */
  add(event: TrackEvent): void {
    if (this.closed) {
      this.stats.dropped++;
      this.opts.log.warn({ event: 'tracking.events.closed', type: event.type }, 'event after close dropped');
      return;
    }
    this.buffer.push(event);
    this.stats.queued++;
    if (this.buffer.length > this.maxBuffered) {
      const over = this.buffer.length - this.maxBuffered;
      this.buffer.splice(0, over);
      this.stats.dropped += over;
      this.opts.log.error(
        { event: 'tracking.events.overflow', dropped: over },
        'event buffer full; oldest dropped',
      );
    }
    if (this.buffer.length >= this.maxBatch) this.schedule(0);
    else this.schedule(this.interval);
  }

  private schedule(ms: number): void {
    if (this.timer && ms > 0) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.flush();
    }, ms);
    this.timer.unref();
  }

  /** Writes everything queued so far; resolves when it is in the database (or kept for retry). */
  flush(): Promise<void> {
    this.running = this.running.then(() => this.drain());
    return this.running;
  }

  /** Flushes and stops accepting events. */
  async close(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    await this.flush();
    this.closed = true;
    if (this.buffer.length) {
      // Last try after a failed flush; what is still refused is reported, not silently lost.
      await this.flush();
      if (this.buffer.length) {
        this.stats.dropped += this.buffer.length;
        this.opts.log.error(
          { event: 'tracking.events.lost', count: this.buffer.length },
          'events not written at close',
        );
        this.buffer = [];
      }
    }
  }

  private async drain(): Promise<void> {
    while (this.buffer.length) {
      const batch = this.buffer.splice(0, this.maxBatch);
      this.stats.flushes++;
      try {
        await this.writeBatch(batch);
      } catch (err) {
        this.stats.failedFlushes++;
        const kept = await this.writeOneByOne(batch);
        if (kept.length) {
          this.buffer.unshift(...kept);
          this.opts.log.warn(
            { event: 'tracking.events.flush_failed', kept: kept.length, err: (err as Error).message },
            'event flush failed; will retry',
          );
          if (!this.closed) this.schedule(RETRY_MS);
          return;
        }
      }
    }
  }

  /** Returns the events to keep for a later try (the database was unreachable for them). */
  private async writeOneByOne(batch: TrackEvent[]): Promise<TrackEvent[]> {
    for (let i = 0; i < batch.length; i++) {
      const ev = batch[i] as TrackEvent;
      try {
        await this.writeBatch([ev]);
      } catch (err) {
        const code = (err as { code?: string }).code ?? '';
        if (code.startsWith('23') || code.startsWith('22')) {
          // Integrity or data error: retrying cannot help (e.g. the delivery was deleted).
          this.stats.dropped++;
          this.opts.log.warn(
            { event: 'tracking.events.rejected', type: ev.type, deliveryId: ev.deliveryId, code },
            'event refused by the database',
          );
          continue;
        }
        return batch.slice(i);
      }
    }
    return [];
  }

  private async writeBatch(batch: TrackEvent[]): Promise<void> {
    type Row = ReturnType<typeof toRow>;
    const keyed: Row[] = [];
    const plain: Row[] = [];
    let duplicates = 0;
    for (const e of batch) {
      const row = toRow(e);
      if (row.dedupe_key !== null && this.known.has(row.dedupe_key)) {
        // Already in the database: a repeat click is still counted, anything else is a replay.
        if (row.type === 'click') plain.push({ ...row, dedupe_key: null, subtype: 'repeat' });
        else duplicates++;
      } else if (row.dedupe_key !== null) keyed.push(row);
      else plain.push(row);
    }
    let written = 0;
    await this.opts.db.transaction().execute(async (trx) => {
      const inserted = keyed.length
        ? await trx
            .insertInto('events')
            .values(keyed)
            .onConflict((oc) => oc.column('dedupe_key').doNothing())
            .returning('dedupe_key')
            .execute()
        : [];
      const fresh = new Set(inserted.map((r) => r.dedupe_key));
      written = inserted.length;
      // A click whose key already existed (or repeats within this batch) is a repeat click.
      for (const row of keyed) {
        if (fresh.delete(row.dedupe_key)) continue;
        if (row.type === 'click') plain.push({ ...row, dedupe_key: null, subtype: 'repeat' });
        else duplicates++;
      }
      if (plain.length) {
        await trx.insertInto('events').values(plain).execute();
        written += plain.length;
      }
      const perLink = new Map<number, number>();
      for (const e of batch) {
        if (e.type === 'click' && e.linkId != null) perLink.set(e.linkId, (perLink.get(e.linkId) ?? 0) + 1);
      }
      if (perLink.size) {
        const values = sql.join([...perLink].map(([id, n]) => sql`(${id}::integer, ${n}::integer)`));
        await sql`UPDATE issue_links AS l SET click_count = l.click_count + v.n
          FROM (VALUES ${values}) AS v(id, n) WHERE l.id = v.id`.execute(trx);
      }
    });
    // Only after commit: every key in `keyed` is now in the database (written now or before).
    for (const row of keyed) this.known.add(row.dedupe_key as string);
    for (const key of this.known) {
      if (this.known.size <= KNOWN_KEYS) break;
      this.known.delete(key);
    }
    this.stats.written += written;
    this.stats.duplicates += duplicates;
  }
}

function toRow(e: TrackEvent) {
  return {
    type: e.type,
    subtype: e.subtype ?? null,
    delivery_id: e.deliveryId,
    issue_id: e.issueId,
    subscriber_id: e.subscriberId,
    link_id: e.linkId ?? null,
    dedupe_key: e.dedupeKey,
    proxied: e.proxied ?? false,
    detail: JSON.stringify(e.detail ?? {}) as unknown as Record<string, unknown>,
    occurred_at: e.occurredAt,
  };
}
