import type { SecretKeys } from '../config/secret.js';
import { TokenError, verifyToken } from './tokens.js';

/**
 * The purposes a link token can have. Each token names its purpose (`p`) so a token made for one
 * page cannot be replayed against another.
 */
export interface UnsubscribeToken {
  p: 'unsub';
  s: number;
  i?: number;
  d?: number;
  /** Section key when the link removes only that section. */
  k?: string;
}
export interface PreferencesToken {
  p: 'pref';
  s: number;
}
export interface ConfirmToken {
  p: 'confirm';
  s: number;
  /** Issued at (seconds): a confirmation older than the last unsubscribe does nothing. */
  iat: number;
  /** Sections and locale asked for, applied when an unsubscribed person re-confirms. */
  k?: string[];
  l?: string;
}
export interface WebVersionToken {
  p: 'web';
  i: number;
  s: number;
}
export interface TrackingToken {
  p: 'trk';
  d: number;
  s: number;
  i: number;
}
export type LinkToken = UnsubscribeToken | PreferencesToken | ConfirmToken | WebVersionToken | TrackingToken;

/**
 * Purposes whose links never expire: any email ever delivered can unsubscribe (CAN-SPAM, RFC
 * 8058). Links signed before this rule carry an `exp`; it is ignored for these, the signature not.
 */
export const NEVER_EXPIRING: ReadonlySet<LinkToken['p']> = new Set(['unsub']);

/** Verifies and checks the purpose; a token for another purpose counts as tampered. */
export function verifyLinkToken<P extends LinkToken['p']>(
  secrets: SecretKeys,
  token: string,
  purpose: P,
  opts: { now?: Date } = {},
): Extract<LinkToken, { p: P }> {
  const payload = verifyToken<Record<string, unknown>>(secrets, token, {
    ...opts,
    ignoreExpiry: NEVER_EXPIRING.has(purpose),
  });
  if (payload.p !== purpose || typeof payload.s !== 'number') {
    throw new TokenError('bad-signature');
  }
  return payload as unknown as Extract<LinkToken, { p: P }>;
}
