import type { Logger } from '../log.js';
import type { Relay } from './relay-connection.js';
import { type RelaySpec, sameRelays } from './relay-spec.js';

/** One generation of open relays, each with its lanes and wire window (relay-lanes.ts). */
export interface RelaySet {
  specs: RelaySpec[];
  relays: Relay[];
}

export interface RelayPools {
  /**
   * The relays a job sends through from its start to its end; call `release` when the job is
   * done. Every `refreshMs` the relay list is read again, and a changed one opens a new set for
   * later jobs while jobs in flight finish on the old one, which closes when the last lets go.
   */
  acquire(): Promise<{ set: RelaySet; release(): void }>;
  /** The relays later jobs will use. */
  current(): Relay[];
  close(): void;
}

export class NoRelayError extends Error {
  override name = 'NoRelayError';
}

interface Generation extends RelaySet {
  users: number;
  retired: boolean;
  closeAll(): void;
}

export async function openRelayPools(opts: {
  /** The relay list now (the settings' relays, else SMTP_URL's). */
  load: () => Promise<RelaySpec[]>;
  /** Read the list again at most this often; 0: never (a fixed list). */
  refreshMs: number;
  open: (spec: RelaySpec) => Promise<Relay>;
  log: Logger;
}): Promise<RelayPools> {
  async function generation(specs: RelaySpec[]): Promise<Generation> {
    const relays = await Promise.all(specs.map(opts.open));
    return {
      specs,
      relays,
      users: 0,
      retired: false,
      closeAll: () => {
        for (const r of relays) r.close();
      },
    };
  }

  const first = await opts.load();
  if (!first.length)
    throw new NoRelayError(
      'No SMTP relay: set SMTP_URL, or add a relay in the web app (/admin/settings), before starting a send worker.',
    );
  let live = await generation(first);
  const retired = new Set<Generation>();
  let checkedAt = Date.now();
  let refreshing: Promise<void> | undefined;

  async function refresh(): Promise<void> {
    checkedAt = Date.now();
    let next: RelaySpec[];
    try {
      next = await opts.load();
    } catch (err) {
      opts.log.error(
        { event: 'delivery.relays.reload_failed', err: (err as Error).message },
        'could not read the SMTP relays; keeping the current ones',
      );
      return;
    }
    if (!next.length) {
      opts.log.warn(
        { event: 'delivery.relays.none', keeping: live.specs.map((s) => s.name) },
        'no SMTP relay is configured any more; keeping the current ones',
      );
      return;
    }
    if (sameRelays(next, live.specs)) return;
    const old = live;
    live = await generation(next);
    old.retired = true;
    if (old.users === 0) old.closeAll();
    else retired.add(old);
    opts.log.info(
      { event: 'delivery.relays.changed', from: old.specs.map((s) => s.name), to: next.map((s) => s.name) },
      'SMTP relays changed; new jobs use the new ones',
    );
  }

  return {
    async acquire() {
      if (opts.refreshMs > 0 && Date.now() - checkedAt >= opts.refreshMs) {
        refreshing ??= refresh().finally(() => {
          refreshing = undefined;
        });
        await refreshing;
      }
      const set = live;
      set.users++;
      return {
        set,
        release: () => {
          set.users--;
          if (set.retired && set.users === 0) {
            set.closeAll();
            retired.delete(set);
          }
        },
      };
    },
    current: () => live.relays,
    close() {
      live.closeAll();
      for (const g of retired) g.closeAll();
      retired.clear();
    },
  };
}
