import nodemailer, { type Transporter } from 'nodemailer';
import SMTPConnection from 'nodemailer/lib/smtp-connection/index.js';
import type { RateGrant } from './rate-limit.js';
import { RelayLanes } from './relay-lanes.js';
import type { RelaySpec } from './relay-spec.js';

/** A relay opened for sending: its lanes, nodemailer's transport to it, and what its EHLO offered. */
export interface Relay {
  spec: RelaySpec;
  /** nodemailer's transport (the one object the word "transport" names, CONTEXT.md): probes. */
  mailer: Transporter;
  /** The connections newsletters go out on (relay-lanes.ts); null when opened for probes only. */
  lanes: RelayLanes | null;
  /** Whether the relay offers 8BITMIME (bodies go out unencoded) — learned by a probe. */
  eightBit: boolean;
  close(): void;
}

/** What the lanes of a relay ask the worker: whether the relay rests, and a slot in its per-second budget. */
export interface LaneHooks {
  resting(relay: string): boolean;
  /** One message's slot (only for relays with a per-second limit). */
  slot(relay: string, perSecond: number): Promise<RateGrant>;
}

/**
 * A relay: `connections` lanes (relay-lanes.ts) when `lanes` hooks are given, and a pooled
 * nodemailer transport (probes, tests), given finished (signed) messages only: signing is
 * mime.ts's job, so every message, newsletter or one-off, is signed the same way. maxRequeues: 0
 * so a message whose connection dropped is reported to us (and recorded as unknown) rather than
 * silently sent again (invariant 3).
 */
export async function openRelay(
  spec: RelaySpec,
  opts: { connections: number; probe?: boolean; lanes?: LaneHooks },
): Promise<Relay> {
  const mailer = nodemailer.createTransport({
    url: spec.url,
    pool: true,
    maxConnections: opts.connections,
    maxMessages: 1000,
    maxRequeues: 0,
  } as unknown as Parameters<typeof nodemailer.createTransport>[0]);
  const eightBit = opts.probe === false ? false : await probeEightBit(spec.url).catch(() => false);
  const hooks = opts.lanes;
  const lanes = hooks
    ? new RelayLanes({
        url: spec.url,
        connections: opts.connections,
        eightBit,
        resting: () => hooks.resting(spec.name),
        ...(spec.perSecond > 0 ? { slot: () => hooks.slot(spec.name, spec.perSecond) } : {}),
      })
    : null;
  return {
    spec,
    mailer,
    lanes,
    eightBit,
    close: () => {
      lanes?.close();
      mailer.close();
    },
  };
}

/** Opens one connection, reads the EHLO extensions, and says whether 8BITMIME is offered. */
export async function probeEightBit(url: string): Promise<boolean> {
  const u = new URL(url);
  const conn = new SMTPConnection({
    host: u.hostname,
    port: Number(u.port || (u.protocol === 'smtps:' ? 465 : 587)),
    secure: u.protocol === 'smtps:',
    connectionTimeout: 5000,
    greetingTimeout: 5000,
  });
  try {
    await new Promise<void>((ok, fail) => {
      conn.once('error', fail);
      conn.connect(() => ok());
    });
    const exts = (conn as unknown as { _supportedExtensions?: string[] })._supportedExtensions ?? [];
    return exts.includes('8BITMIME');
  } finally {
    conn.quit();
  }
}

/** The first of `relays` that accepts a connection and greets us (a probe without a message). */
export async function firstAnswering(relays: Relay[]): Promise<Relay | null> {
  for (const r of relays) {
    try {
      await r.mailer.verify();
      return r;
    } catch {
      // still down: try the next
    }
  }
  return null;
}
