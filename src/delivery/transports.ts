import { readFileSync } from 'node:fs';
import nodemailer, { type Transporter } from 'nodemailer';
import SMTPConnection from 'nodemailer/lib/smtp-connection/index.js';
import type { Env } from '../config/env.js';

/** One SMTP relay from SMTP_URL: `smtp://user:pass@host:port#weight=3&perSecond=50&perHour=10000`. */
export interface TransportSpec {
  /** Stable name (host:port) stored in deliveries.transport and used for rate-limit keys. */
  name: string;
  url: string;
  weight: number;
  perSecond: number;
  perHour: number;
}

export class TransportConfigError extends Error {
  override name = 'TransportConfigError';
}

/** Parses the relay list; weights and limits come from each URL's fragment. */
export function parseTransportSpecs(
  urls: string[],
  defaults: { perSecond: number; perHour: number } = { perSecond: 0, perHour: 0 },
): TransportSpec[] {
  const seen = new Set<string>();
  return urls.map((raw) => {
    const u = new URL(raw);
    const params = new URLSearchParams(u.hash.replace(/^#/, ''));
    const num = (key: string, fallback: number) => {
      const v = params.get(key);
      if (v === null) return fallback;
      const n = Number(v);
      if (!Number.isFinite(n) || n < 0)
        throw new TransportConfigError(`SMTP_URL ${u.host}: ${key} must be a number ≥ 0 (got "${v}")`);
      return n;
    };
    const weight = num('weight', 1);
    credentialsOverTls(u);
    let name = `${u.hostname}:${u.port || (u.protocol === 'smtps:' ? 465 : 587)}`;
    while (seen.has(name)) name = `${name}'`;
    seen.add(name);
    u.hash = '';
    return {
      name,
      url: u.toString(),
      weight,
      perSecond: num('perSecond', defaults.perSecond),
      perHour: num('perHour', defaults.perHour),
    };
  });
}

/**
 * A relay that signs in must do so over TLS: on smtp:// with a user name or password, nodemailer
 * is told `requireTLS`, so a server that offers no STARTTLS (or strips it) gets no password; it
 * fails instead (a TLS error, which pauses a send). A URL that asks for clear text is refused.
 */
export function credentialsOverTls(u: URL): URL {
  if (u.protocol !== 'smtp:' || (!u.username && !u.password)) return u;
  const q = u.searchParams;
  if (q.get('ignoreTLS') === 'true' || q.get('requireTLS') === 'false' || q.get('opportunisticTLS') === 'true') {
    throw new TransportConfigError(
      `SMTP_URL ${u.host}: a relay with a user name and password must use TLS; remove ignoreTLS, requireTLS=false or opportunisticTLS (or use smtps://)`,
    );
  }
  q.set('requireTLS', 'true');
  return u;
}

/** Weighted random choice; transports with weight 0 are never chosen unless all are 0. */
export function pickWeighted<T extends { weight: number }>(
  items: T[],
  random: () => number = Math.random,
): T {
  const total = items.reduce((sum, t) => sum + t.weight, 0);
  if (total <= 0) return items[Math.floor(random() * items.length)] as T;
  let r = random() * total;
  for (const item of items) {
    r -= item.weight;
    if (r < 0) return item;
  }
  return items[items.length - 1] as T;
}

/**
 * All items in weighted random order (each next one picked by weight from those left), so a
 * caller tries its first choice by weight and falls back to the others; weight-0 items come last.
 */
export function weightedOrder<T extends { spec: { weight: number } }>(
  items: T[],
  random: () => number = Math.random,
): T[] {
  const left = items.map((t) => ({ weight: t.spec.weight, t }));
  const out: T[] = [];
  while (left.length) {
    const pick = pickWeighted(left, random);
    out.push(pick.t);
    left.splice(left.indexOf(pick), 1);
  }
  return out;
}

export interface DkimConfig {
  domainName: string;
  keySelector: string;
  privateKey: string;
}

export function dkimFromEnv(env: Env): DkimConfig | undefined {
  if (!env.DKIM_DOMAIN || !env.DKIM_SELECTOR || !env.DKIM_PRIVATE_KEY) return undefined;
  const key = env.DKIM_PRIVATE_KEY.includes('-----BEGIN')
    ? env.DKIM_PRIVATE_KEY.replace(/\\n/g, '\n')
    : readFileSync(env.DKIM_PRIVATE_KEY, 'utf8');
  return { domainName: env.DKIM_DOMAIN, keySelector: env.DKIM_SELECTOR, privateKey: key };
}

export interface Transport {
  spec: TransportSpec;
  mailer: Transporter;
  /** Whether the relay offers 8BITMIME (bodies go out unencoded) — learned by a probe. */
  eightBit: boolean;
  close(): void;
}

/**
 * A pooled nodemailer transport. maxRequeues: 0 so a message whose connection dropped is reported
 * to us (and recorded as unknown) rather than silently sent again (invariant 3).
 */
export async function openTransport(
  spec: TransportSpec,
  opts: { connections: number; dkim?: DkimConfig | undefined; probe?: boolean },
): Promise<Transport> {
  const mailer = nodemailer.createTransport({
    url: spec.url,
    pool: true,
    maxConnections: opts.connections,
    maxMessages: 1000,
    maxRequeues: 0,
    ...(opts.dkim ? { dkim: opts.dkim } : {}),
  } as unknown as Parameters<typeof nodemailer.createTransport>[0]);
  const eightBit = opts.probe === false ? false : await probeEightBit(spec.url).catch(() => false);
  return { spec, mailer, eightBit, close: () => mailer.close() };
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
