import { RELAY_SECURITY, type RelaySecurity } from '../db/schema.js';
import { ProblemError } from '../problem.js';

/** What an admin types for a relay, checked and normalised (pure); the message names the field at fault. */

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

const NAME = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,62}$/;
const HOST = /^[A-Za-z0-9]([A-Za-z0-9.-]{0,251}[A-Za-z0-9])?$|^\[[0-9A-Fa-f:.]+\]$/;

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
