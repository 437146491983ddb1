import { afterAll, beforeAll, beforeEach } from 'vitest';
import { waitForIssue } from '../../src/cli/wait-for-issue.js';
import type { Env } from '../../src/config/env.js';
import { startIssueSend } from '../../src/delivery/control.js';
import type { DeliveryContent, DeliveryDeps } from '../../src/delivery/deps.js';
import { createSendWorker, type SendWorker } from '../../src/delivery/send-worker.js';
import type { Logger } from '../../src/log.js';
import { type SmtpCatcher, type SmtpCatcherOptions, startSmtpCatcher } from '../../src/smtp/catcher.js';
import { type FaultSmtp, startFaultSmtp } from '../support/fault-smtp.js';
import { createTestDatabase, type TestDatabase } from '../support/test-db.js';
import { randomQueuePrefix, testEnv } from '../support/test-env.js';
import {
  addSubscribers,
  createIssue,
  deps,
  renderable,
  type SubscriberSpec,
  seedSections,
  standInContent,
} from './support.js';

/**
 * The setup the delivery test files share (vitest hooks; support.ts holds the stand-ins, which a
 * child process imports too).
 */

export interface DeliveryHarness {
  readonly tdb: TestDatabase;
  readonly env: Env;
  /** The delivery deps over this file's database (stand-in content, silent log unless given). */
  readonly base: DeliveryDeps;
  readonly sectionIds: Map<string, number>;
  /** Closed before the next test and at the end of the file. */
  own<T extends { close(): Promise<void> }>(thing: T): T;
  /** A send worker on a fresh queue prefix, relays fixed, no periodic scan. */
  worker(
    relays: string | string[],
    extra?: Partial<Parameters<typeof createSendWorker>[0]>,
  ): Promise<SendWorker>;
  /** An in-process SMTP peer that accepts everything, or answers as `respond` says. */
  catcher(respond?: SmtpCatcherOptions['respond']): Promise<SmtpCatcher>;
  /** An SMTP peer that injects faults (421-and-close, going down). */
  faultPeer(opts?: Parameters<typeof startFaultSmtp>[0]): Promise<FaultSmtp>;
  /** A new approved issue for `audience` (added now), sent through `w`: its id. */
  startSend(w: SendWorker, audience: SubscriberSpec[]): Promise<number>;
  /** Waits until the issue leaves 'sending' (the CLI's wait). */
  settled(issueId: number, timeoutMs?: number): ReturnType<typeof waitForIssue>;
}

/**
 * The setup every delivery test file shares: a fresh database with the model sections, an env,
 * stand-in content, and the workers and SMTP peers a test opens (closed before the next test).
 * Before each test every earlier subscriber leaves, so each test has its own audience.
 */
export function deliveryHarness(
  opts: {
    env?: Record<string, string>;
    content?: (compiled: string[]) => DeliveryContent;
    /** Defaults for every worker of the file (e.g. a short throttleMs). */
    workers?: Partial<Parameters<typeof createSendWorker>[0]>;
    log?: Logger;
  } = {},
): DeliveryHarness & { compiled: string[] } {
  let tdb: TestDatabase;
  let env: Env;
  let base: DeliveryDeps;
  let sectionIds: Map<string, number>;
  const compiled: string[] = [];
  const open: { close(): Promise<void> }[] = [];
  const closeAll = async () => {
    while (open.length) await open.pop()?.close();
  };
  beforeAll(async () => {
    tdb = await createTestDatabase();
    sectionIds = await seedSections(tdb.db);
    env = testEnv(opts.env ?? {});
    const content = opts.content?.(compiled) ?? standInContent((id) => renderable(id), compiled);
    base = { ...deps(tdb.db, env, content), ...(opts.log ? { log: opts.log } : {}) };
  });
  afterAll(async () => {
    await closeAll();
    await tdb.drop();
  });
  beforeEach(async () => {
    await tdb.db.updateTable('subscribers').set({ status: 'unsubscribed' }).execute();
    await closeAll();
  });
  const h: DeliveryHarness & { compiled: string[] } = {
    compiled,
    get tdb() {
      return tdb;
    },
    get env() {
      return env;
    },
    get base() {
      return base;
    },
    get sectionIds() {
      return sectionIds;
    },
    own(thing) {
      open.push(thing);
      return thing;
    },
    async worker(relays, extra = {}) {
      return h.own(
        await createSendWorker({
          ...base,
          connection: { url: env.REDIS_URL, prefix: randomQueuePrefix() },
          relays: Array.isArray(relays) ? relays : [relays],
          scanIntervalMs: 0,
          ...opts.workers,
          ...extra,
        }),
      );
    },
    async catcher(respond) {
      return h.own(await startSmtpCatcher(respond ? { respond } : {}));
    },
    async faultPeer(peerOpts) {
      return h.own(await startFaultSmtp(peerOpts));
    },
    async startSend(w, audience) {
      const issueId = await createIssue(tdb.db);
      await addSubscribers(tdb.db, sectionIds, audience);
      await startIssueSend({ ...base, queue: w.queue }, issueId);
      return issueId;
    },
    settled(issueId, timeoutMs = 25_000) {
      return waitForIssue(base, issueId, { timeoutMs, intervalMs: 100 });
    },
  };
  return h;
}

/** `n` addresses tagged so a test's recipients are its own. */
export function emails(n: number, tag: string, name?: (i: number) => string): SubscriberSpec[] {
  return Array.from({ length: n }, (_, i) => ({
    email: `reader${i}.${tag}@example.test`,
    ...(name ? { name: name(i) } : {}),
  }));
}
