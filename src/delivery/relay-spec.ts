import type { SecretKeys } from '../config/secret.js';
import type { SmtpRelaysTable } from '../db/schema.js';
import { openPassword } from './relay-secret.js';

/**
 * What delivery needs to know of a relay (pure): its name, nodemailer URL, weight and limits,
 * read from SMTP_URL (`smtp://user:pass@host:port#weight=3&perSecond=50&perHour=10000`) or from a
 * relay saved in the settings.
 */
export interface RelaySpec {
  /** Stable name (host:port, or the saved relay's name) stored in deliveries.relay and used for rate-limit keys. */
  name: string;
  url: string;
  weight: number;
  perSecond: number;
  perHour: number;
  /**
   * Connections each worker process opens to the relay (default SMTP_POOL_CONNECTIONS). The rule
   * (README "Connections per relay"): the relay's limit on concurrent connections divided by the
   * worker processes, and for a relay `rtt` seconds away no fewer than the rate wanted × 2 × rtt.
   */
  connections?: number;
}

export class RelayConfigError extends Error {
  override name = 'RelayConfigError';
}

/** Connections per relay and worker process, at most (SMTP_POOL_CONNECTIONS has the same bound). */
export const MAX_CONNECTIONS = 100;

/** Parses SMTP_URL's relay list; weights and limits come from each URL's fragment. */
export function parseRelayUrls(
  urls: string[],
  defaults: { perSecond: number; perHour: number } = { perSecond: 0, perHour: 0 },
): RelaySpec[] {
  const seen = new Set<string>();
  return urls.map((raw) => {
    const u = new URL(raw);
    const params = new URLSearchParams(u.hash.replace(/^#/, ''));
    const num = (key: string, fallback: number) => {
      const v = params.get(key);
      if (v === null) return fallback;
      const n = Number(v);
      if (!Number.isFinite(n) || n < 0)
        throw new RelayConfigError(`SMTP_URL ${u.host}: ${key} must be a number ≥ 0 (got "${v}")`);
      return n;
    };
    const weight = num('weight', 1);
    credentialsOverTls(u);
    let name = `${u.hostname}:${u.port || (u.protocol === 'smtps:' ? 465 : 587)}`;
    while (seen.has(name)) name = `${name}'`;
    seen.add(name);
    u.hash = '';
    const connections = params.get('connections') === null ? undefined : num('connections', 0);
    if (
      connections !== undefined &&
      (!Number.isInteger(connections) || connections < 1 || connections > MAX_CONNECTIONS)
    )
      throw new RelayConfigError(
        `SMTP_URL ${u.host}: connections must be a whole number from 1 to ${MAX_CONNECTIONS} (got "${params.get('connections')}")`,
      );
    return {
      name,
      url: u.toString(),
      weight,
      perSecond: num('perSecond', defaults.perSecond),
      perHour: num('perHour', defaults.perHour),
      ...(connections !== undefined ? { connections } : {}),
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
  if (
    q.get('ignoreTLS') === 'true' ||
    q.get('requireTLS') === 'false' ||
    q.get('opportunisticTLS') === 'true'
  ) {
    throw new RelayConfigError(
      `SMTP_URL ${u.host}: a relay with a user name and password must use TLS; remove ignoreTLS, requireTLS=false or opportunisticTLS (or use smtps://)`,
    );
  }
  q.set('requireTLS', 'true');
  return u;
}

type RelayRow = import('kysely').Selectable<SmtpRelaysTable>;

/** A relay as nodemailer's URL, credentials included. */
export function relayUrl(
  relay: Pick<RelayRow, 'host' | 'port' | 'security'>,
  auth?: { user: string; pass: string },
): string {
  const u = new URL(`${relay.security === 'tls' ? 'smtps' : 'smtp'}://placeholder`);
  u.hostname = relay.host;
  u.port = String(relay.port);
  if (auth) {
    u.username = encodeURIComponent(auth.user);
    u.password = encodeURIComponent(auth.pass);
  }
  return credentialsOverTls(u).toString();
}

/** A saved relay as a spec, its password opened into the URL. */
export function specOfRow(row: RelayRow, secrets: SecretKeys): RelaySpec {
  const auth =
    row.username && row.password_encrypted
      ? { user: row.username, pass: openPassword(secrets, row.password_encrypted) }
      : undefined;
  return {
    name: row.name,
    url: relayUrl(row, auth),
    weight: row.weight,
    perSecond: row.per_second,
    perHour: row.per_hour,
  };
}

/** Whether two relay lists send the same way: a worker swaps its pools only when not. */
export function sameRelays(a: RelaySpec[], b: RelaySpec[]): boolean {
  const key = (list: RelaySpec[]) =>
    JSON.stringify(list.map((s) => [s.name, s.url, s.weight, s.perSecond, s.perHour, s.connections ?? null]));
  return key(a) === key(b);
}
