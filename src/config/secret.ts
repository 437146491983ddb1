import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Env } from './env.js';

export interface SecretKeys {
  current: string;
  previous?: string;
}

/**
 * SECRET_KEY signs every token in a link. Production must set it; in development a random key is
 * made once and kept in DATA_DIR, so links keep working across runs without a well-known default.
 */
export function resolveSecretKeys(env: Env): SecretKeys {
  const previous = env.SECRET_KEY_PREVIOUS ? { previous: env.SECRET_KEY_PREVIOUS } : {};
  if (env.SECRET_KEY) return { current: env.SECRET_KEY, ...previous };
  const path = join(env.DATA_DIR, 'secret.key');
  try {
    return { current: readFileSync(path, 'utf8').trim(), ...previous };
  } catch {
    mkdirSync(env.DATA_DIR, { recursive: true });
    const key = randomBytes(32).toString('base64url');
    writeFileSync(path, key, { mode: 0o600 });
    return { current: key, ...previous };
  }
}
