import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';
import type { Env } from '../config/env.js';
import type { SecretKeys } from '../config/secret.js';
import { isUniqueViolation } from '../db/errors.js';
import { type Db, RELAY_SECURITY, type RelaySecurity, type SmtpRelaysTable } from '../db/schema.js';
import { ProblemError } from '../problem.js';
import { credentialsOverTls, parseTransportSpecs, type TransportSpec } from './transports.js';

/**
 * SMTP relays an admin manages in the web app (table smtp_relays). While any is enabled they are
 * the relays; otherwise SMTP_URL is. Send workers re-read them between jobs (see
 * createSendWorker), so a change needs no restart.
 */

export type RelayErrorCode =
  | 'relay-name'
  | 'relay-host'
  | 'relay-port'
  | 'relay-number'
  | 'relay-security'
  | 'relay-credentials'
  | 'relay-exists'
  | 'relay-missing'
  | 'relay-secret';

export class RelayInputError extends ProblemError<RelayErrorCode> {
  override name = 'RelayInputError';
  declare readonly code: RelayErrorCode;
}

export interface RelayInput {
  name: string;
  host: string;
  port: number;
  security: RelaySecurity;
  /** Empty: no authentication. */
  username?: string;
  /** Undefined or empty on an edit: keep the stored password. */
  password?: string;
  weight?: number;
  perSecond?: number;
  perHour?: number;
  enabled?: boolean;
}

/** What pages and the CLI show: everything but the password. */
export interface RelayView {
  id: number;
  name: string;
  host: string;
  port: number;
  security: RelaySecurity;
  username: string | null;
  hasPassword: boolean;
  weight: number;
  perSecond: number;
  perHour: number;
  enabled: boolean;
  updatedAt: Date;
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,62}$/;
const HOST = /^[A-Za-z0-9]([A-Za-z0-9.-]{0,251}[A-Za-z0-9])?$|^\[[0-9A-Fa-f:.]+\]$/;

/** Checks and normalises a relay (pure); the message names the field at fault. */
export function checkRelayInput(input: RelayInput): RelayInput {
  const name = input.name.trim();
  if (!NAME.test(name))
    throw new RelayInputError(
      `relay name "${name}" must be 1-63 letters, digits, ".", "_", ":" or "-"`,
      'relay-name',
      { name },
    );
  const host = input.host.trim();
  if (!HOST.test(host))
    throw new RelayInputError(`"${host}" is not a host name or address`, 'relay-host', { host });
  if (!Number.isInteger(input.port) || input.port < 1 || input.port > 65535)
    throw new RelayInputError(`port must be 1-65535 (got ${input.port})`, 'relay-port', {
      port: String(input.port),
    });
  if (!RELAY_SECURITY.includes(input.security))
    throw new RelayInputError(`security must be starttls or tls`, 'relay-security');
  const numbers = { weight: input.weight ?? 1, perSecond: input.perSecond ?? 0, perHour: input.perHour ?? 0 };
  for (const [field, value] of Object.entries(numbers)) {
    if (!Number.isInteger(value) || value < 0 || value > 1_000_000_000)
      throw new RelayInputError(`${field} must be a whole number ≥ 0 (got ${value})`, 'relay-number', {
        field,
        value: String(value),
      });
  }
  const username = input.username?.trim() ?? '';
  return {
    name,
    host: host.toLowerCase(),
    port: input.port,
    security: input.security,
    username,
    ...(input.password !== undefined ? { password: input.password } : {}),
    ...numbers,
    enabled: input.enabled ?? true,
  };
}

/* ---------- passwords at rest ---------- */

function keyOf(secret: string): Buffer {
  return Buffer.from(hkdfSync('sha256', secret, 'gazette', 'smtp-relay-password', 32));
}

/** AES-256-GCM under a key derived from SECRET_KEY: "v1.<iv>.<tag>.<ciphertext>" (base64url). */
export function sealPassword(secrets: SecretKeys, password: string): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', keyOf(secrets.current), iv);
  const body = Buffer.concat([cipher.update(password, 'utf8'), cipher.final()]);
  return ['v1', iv, cipher.getAuthTag(), body]
    .map((p) => (typeof p === 'string' ? p : p.toString('base64url')))
    .join('.');
}

/** The password, trying the current key and then the previous one (SECRET_KEY rotation). */
export function openPassword(secrets: SecretKeys, sealed: string): string {
  const [version, iv, tag, body] = sealed.split('.');
  if (version !== 'v1' || !iv || !tag || body === undefined)
    throw new RelayInputError('a stored SMTP password is not in a known format', 'relay-secret');
  for (const secret of [secrets.current, secrets.previous]) {
    if (!secret) continue;
    try {
      const decipher = createDecipheriv('aes-256-gcm', keyOf(secret), Buffer.from(iv, 'base64url'));
      decipher.setAuthTag(Buffer.from(tag, 'base64url'));
      return Buffer.concat([decipher.update(Buffer.from(body, 'base64url')), decipher.final()]).toString(
        'utf8',
      );
    } catch {}
  }
  throw new RelayInputError(
    'a stored SMTP password cannot be read with SECRET_KEY (was the key changed without SECRET_KEY_PREVIOUS?); enter it again',
    'relay-secret',
  );
}

/* ---------- the table ---------- */

type RelayRow = import('kysely').Selectable<SmtpRelaysTable>;

function view(row: RelayRow): RelayView {
  return {
    id: row.id,
    name: row.name,
    host: row.host,
    port: row.port,
    security: row.security,
    username: row.username,
    hasPassword: row.password_encrypted !== null,
    weight: row.weight,
    perSecond: row.per_second,
    perHour: row.per_hour,
    enabled: row.enabled,
    updatedAt: row.updated_at,
  };
}

const missing = (id: number) => new RelayInputError(`no SMTP relay with id ${id}`, 'relay-missing', { id });

export async function listRelays(db: Db): Promise<RelayView[]> {
  const rows = await db.selectFrom('smtp_relays').selectAll().orderBy('id').execute();
  return rows.map(view);
}

export async function getRelay(db: Db, id: number): Promise<RelayView> {
  const row = await db.selectFrom('smtp_relays').selectAll().where('id', '=', id).executeTakeFirst();
  if (!row) throw missing(id);
  return view(row);
}

function credentials(
  secrets: SecretKeys,
  input: RelayInput,
  stored: { username: string | null; password_encrypted: string | null } | null,
) {
  if (!input.username) return { username: null, password_encrypted: null };
  if (input.password)
    return { username: input.username, password_encrypted: sealPassword(secrets, input.password) };
  // An edit that leaves the password blank keeps the stored one (it is never shown).
  if (stored?.password_encrypted)
    return { username: input.username, password_encrypted: stored.password_encrypted };
  throw new RelayInputError(`relay "${input.name}" has a user name but no password`, 'relay-credentials', {
    name: input.name,
  });
}

/** The row a checked relay is stored as; `stored` holds the credentials an edit may keep. */
function columns(
  secrets: SecretKeys,
  input: RelayInput,
  stored: { username: string | null; password_encrypted: string | null } | null,
) {
  return {
    name: input.name,
    host: input.host,
    port: input.port,
    security: input.security,
    ...credentials(secrets, input, stored),
    weight: input.weight as number,
    per_second: input.perSecond as number,
    per_hour: input.perHour as number,
    enabled: input.enabled as boolean,
  };
}

/** Runs a write, saying a duplicate name in the relay's own terms. */
async function namedUniquely<T>(name: string, write: () => Promise<T>): Promise<T> {
  try {
    return await write();
  } catch (err) {
    if (isUniqueViolation(err))
      throw new RelayInputError(`an SMTP relay named "${name}" already exists`, 'relay-exists', { name });
    throw err;
  }
}

export async function addRelay(db: Db, secrets: SecretKeys, raw: RelayInput): Promise<RelayView> {
  const input = checkRelayInput(raw);
  const row = await namedUniquely(input.name, () =>
    db
      .insertInto('smtp_relays')
      .values(columns(secrets, input, null))
      .returningAll()
      .executeTakeFirstOrThrow(),
  );
  return view(row);
}

export async function updateRelay(
  db: Db,
  secrets: SecretKeys,
  id: number,
  raw: RelayInput,
): Promise<RelayView> {
  const input = checkRelayInput(raw);
  const stored = await db
    .selectFrom('smtp_relays')
    .select(['username', 'password_encrypted'])
    .where('id', '=', id)
    .executeTakeFirst();
  if (!stored) throw missing(id);
  const row = await namedUniquely(input.name, () =>
    db
      .updateTable('smtp_relays')
      .set({ ...columns(secrets, input, stored), updated_at: new Date() })
      .where('id', '=', id)
      .returningAll()
      .executeTakeFirstOrThrow(),
  );
  return view(row);
}

export async function setRelayEnabled(db: Db, id: number, enabled: boolean): Promise<void> {
  const result = await db
    .updateTable('smtp_relays')
    .set({ enabled, updated_at: new Date() })
    .where('id', '=', id)
    .executeTakeFirst();
  if (!Number(result.numUpdatedRows)) throw missing(id);
}

export async function removeRelay(db: Db, id: number): Promise<void> {
  const result = await db.deleteFrom('smtp_relays').where('id', '=', id).executeTakeFirst();
  if (!Number(result.numDeletedRows)) throw missing(id);
}

/* ---------- what delivery sends through ---------- */

/** A relay as nodemailer's URL, credentials included (pure). */
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

/** A stored relay as a transport spec, its password opened into the URL. */
function specOf(row: RelayRow, secrets: SecretKeys): TransportSpec {
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

/** The enabled relays of the table as transport specs (empty when none is enabled). */
export async function storedRelaySpecs(db: Db, secrets: SecretKeys): Promise<TransportSpec[]> {
  const rows = await db
    .selectFrom('smtp_relays')
    .selectAll()
    .where('enabled', '=', true)
    .orderBy('id')
    .execute();
  return rows.map((row) => specOf(row, secrets));
}

/** One stored relay (enabled or not) as a transport spec: what "verify connection" connects with. */
export async function relaySpec(db: Db, secrets: SecretKeys, id: number): Promise<TransportSpec> {
  const row = await db.selectFrom('smtp_relays').selectAll().where('id', '=', id).executeTakeFirst();
  if (!row) throw missing(id);
  return specOf(row, secrets);
}

/** The relays delivery uses now: the table's enabled ones, else SMTP_URL's. */
export async function currentRelaySpecs(deps: {
  db: Db;
  secrets: SecretKeys;
  env: Pick<Env, 'SMTP_URL' | 'SMTP_RATE_PER_SECOND' | 'SMTP_RATE_PER_HOUR'>;
}): Promise<{ source: 'settings' | 'env'; specs: TransportSpec[] }> {
  const stored = await storedRelaySpecs(deps.db, deps.secrets);
  if (stored.length) return { source: 'settings', specs: stored };
  return {
    source: 'env',
    specs: parseTransportSpecs(deps.env.SMTP_URL ?? [], {
      perSecond: deps.env.SMTP_RATE_PER_SECOND,
      perHour: deps.env.SMTP_RATE_PER_HOUR,
    }),
  };
}

/** Whether two relay lists send the same way (pure): a worker swaps its pools only when not. */
export function sameRelays(a: TransportSpec[], b: TransportSpec[]): boolean {
  const key = (list: TransportSpec[]) =>
    JSON.stringify(list.map((s) => [s.name, s.url, s.weight, s.perSecond, s.perHour]));
  return key(a) === key(b);
}
