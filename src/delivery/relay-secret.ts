import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';
import type { SecretKeys } from '../config/secret.js';
import { RelayInputError } from './relay-input.js';

/** Relay passwords at rest: sealed under a key derived from SECRET_KEY, never stored in clear. */

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
