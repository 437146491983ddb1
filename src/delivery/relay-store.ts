import type { Env } from '../config/env.js';
import type { SecretKeys } from '../config/secret.js';
import { isUniqueViolation } from '../db/errors.js';
import type { Db, RelaySecurity, SmtpRelaysTable } from '../db/schema.js';
import { checkRelayInput, type RelayInput, RelayInputError } from './relay-input.js';
import { sealPassword } from './relay-secret.js';
import { parseRelayUrls, type RelaySpec, specOfRow } from './relay-spec.js';

/**
 * SMTP relays an admin manages in the web app (table smtp_relays). While any is enabled they are
 * the relays; otherwise SMTP_URL is. Send workers re-read them between jobs (relay-pools.ts), so a
 * change needs no restart.
 */

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

/** The enabled relays of the table as specs (empty when none is enabled). */
export async function storedRelaySpecs(db: Db, secrets: SecretKeys): Promise<RelaySpec[]> {
  const rows = await db
    .selectFrom('smtp_relays')
    .selectAll()
    .where('enabled', '=', true)
    .orderBy('id')
    .execute();
  return rows.map((row) => specOfRow(row, secrets));
}

/** One stored relay (enabled or not) as a spec: what "verify connection" connects with. */
export async function relaySpec(db: Db, secrets: SecretKeys, id: number): Promise<RelaySpec> {
  const row = await db.selectFrom('smtp_relays').selectAll().where('id', '=', id).executeTakeFirst();
  if (!row) throw missing(id);
  return specOfRow(row, secrets);
}

/** The relays delivery uses now: the table's enabled ones, else SMTP_URL's. */
export async function currentRelaySpecs(deps: {
  db: Db;
  secrets: SecretKeys;
  env: Pick<Env, 'SMTP_URL' | 'SMTP_RATE_PER_SECOND' | 'SMTP_RATE_PER_HOUR'>;
}): Promise<{ source: 'settings' | 'env'; specs: RelaySpec[] }> {
  const stored = await storedRelaySpecs(deps.db, deps.secrets);
  if (stored.length) return { source: 'settings', specs: stored };
  return {
    source: 'env',
    specs: parseRelayUrls(deps.env.SMTP_URL ?? [], {
      perSecond: deps.env.SMTP_RATE_PER_SECOND,
      perHour: deps.env.SMTP_RATE_PER_HOUR,
    }),
  };
}
