import { createHmac, timingSafeEqual } from 'node:crypto';
import type { SecretKeys } from '../config/secret.js';

/**
 * Compact signed tokens for links: `base64url(JSON payload).base64url(HMAC-SHA256)`.
 * Signed, not encrypted: payloads carry ids and purposes, never addresses.
 * Verification accepts the previous key so links in mail already sent survive a key rotation.
 */

export type TokenErrorReason = 'malformed' | 'bad-signature' | 'expired';

export class TokenError extends Error {
  override name = 'TokenError';
  constructor(readonly reason: TokenErrorReason) {
    super(
      reason === 'expired'
        ? 'The link has expired'
        : reason === 'bad-signature'
          ? 'The link was altered or was not issued by this server'
          : 'The link is not a valid Gazette token',
    );
  }
}

export interface SignOptions {
  expiresInSeconds?: number;
  /** Clock for tests; defaults to now. */
  now?: Date;
}

function mac(key: string, body: string): Buffer {
  return createHmac('sha256', key).update(body).digest();
}

export function signToken(secrets: SecretKeys, payload: object, opts: SignOptions = {}): string {
  const nowSeconds = Math.floor((opts.now ?? new Date()).getTime() / 1000);
  const full =
    opts.expiresInSeconds !== undefined ? { ...payload, exp: nowSeconds + opts.expiresInSeconds } : payload;
  const body = Buffer.from(JSON.stringify(full)).toString('base64url');
  return `${body}.${mac(secrets.current, body).toString('base64url')}`;
}

/** Returns the payload (including `exp` when set) or throws TokenError; never returns unverified data. */
export function verifyToken<T extends object = Record<string, unknown>>(
  secrets: SecretKeys,
  token: string,
  opts: {
    now?: Date /** Accept a past `exp` (the signature still must hold). */;
    ignoreExpiry?: boolean;
  } = {},
): T & { exp?: number } {
  if (typeof token !== 'string' || token.length > 2048) throw new TokenError('malformed');
  const dot = token.indexOf('.');
  if (dot <= 0 || dot !== token.lastIndexOf('.')) throw new TokenError('malformed');
  const body = token.slice(0, dot);
  const given = Buffer.from(token.slice(dot + 1), 'base64url');
  if (given.length !== 32) throw new TokenError('bad-signature');
  const keys = secrets.previous ? [secrets.current, secrets.previous] : [secrets.current];
  if (!keys.some((key) => timingSafeEqual(mac(key, body), given))) throw new TokenError('bad-signature');
  let payload: unknown;
  try {
    payload = JSON.parse(Buffer.from(body, 'base64url').toString('utf8'));
  } catch {
    throw new TokenError('malformed');
  }
  if (!payload || typeof payload !== 'object' || Array.isArray(payload)) throw new TokenError('malformed');
  const exp = (payload as { exp?: unknown }).exp;
  if (exp !== undefined) {
    if (typeof exp !== 'number') throw new TokenError('malformed');
    if (!opts.ignoreExpiry && Math.floor((opts.now ?? new Date()).getTime() / 1000) >= exp)
      throw new TokenError('expired');
  }
  return payload as T & { exp?: number };
}
