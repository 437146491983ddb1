import { createHash } from 'node:crypto';
import type { SecretKeys } from '../config/secret.js';
import type { Db, Publication } from '../db/schema.js';
import { signToken, TokenError, verifyToken } from '../security/tokens.js';

/**
 * Whether the publication's sender can go on an issue. Mail from a local name (localhost, a
 * name without a dot, an address literal) never reaches a reader's inbox, so the checklist
 * blocks it; a sender typed in the web app is verified by a link mailed to that address
 * (what Ghost and Mailchimp do), and one the operator configured (MAIL_FROM, `gazette
 * publication set`) counts as verified by whoever runs the server.
 */
export type SenderState = 'local' | 'unverified' | 'verified';

/** Names that resolve only on this machine or network (RFC 6761, RFC 8375, mDNS) or none at all. */
const LOCAL_NAMES = /(^|\.)(localhost|localdomain|local|internal|invalid|home\.arpa|lan)$/;

/** True when mail from this address cannot reach anyone outside this machine (pure). */
export function isLocalSender(email: string): boolean {
  const at = email.lastIndexOf('@');
  const domain = (at >= 0 ? email.slice(at + 1) : '').trim().toLowerCase().replace(/\.$/, '');
  if (!domain || !domain.includes('.')) return true;
  if (domain.startsWith('[') || /^\d+(\.\d+){3}$/.test(domain)) return true;
  return LOCAL_NAMES.test(domain);
}

const sameAddress = (a: string | null, b: string) => !!a && a.trim().toLowerCase() === b.trim().toLowerCase();

/** The sender's state for a stored publication (pure). */
export function senderState(
  pub: Pick<Publication, 'from_email' | 'sender_verified_email'> | undefined,
): SenderState {
  if (!pub || isLocalSender(pub.from_email)) return 'local';
  return sameAddress(pub.sender_verified_email, pub.from_email) ? 'verified' : 'unverified';
}

/** Records that this address is the publication's verified sender, if it still is the sender. */
export async function markSenderVerified(db: Db, email: string, at: Date): Promise<boolean> {
  const res = await db
    .updateTable('publication')
    .set({ sender_verified_email: email, sender_verified_at: at })
    .where('id', '=', 1)
    .where((eb) => eb(eb.fn('lower', ['from_email']), '=', email.trim().toLowerCase()))
    .executeTakeFirst();
  return Number(res.numUpdatedRows) > 0;
}

/** Three days: long enough for a shared mailbox to be read, short enough not to linger. */
export const SENDER_TOKEN_SECONDS = 3 * 24 * 3600;

/** Tokens carry ids and purposes, never addresses (security/tokens.ts): a digest of the address. */
function addressDigest(email: string): string {
  return createHash('sha256').update(email.trim().toLowerCase()).digest('base64url').slice(0, 22);
}

/** The signed token of a verification link for this sender address. */
export function senderVerificationToken(secrets: SecretKeys, email: string, now: Date): string {
  return signToken(
    secrets,
    { p: 'sender', a: addressDigest(email) },
    { expiresInSeconds: SENDER_TOKEN_SECONDS, now },
  );
}

/**
 * Verifies the publication's current sender with a token from a verification link. Returns
 * what happened: `verified`, `other-address` (the sender changed since the link was mailed), or
 * throws TokenError for a bad or expired link.
 */
export async function verifySender(
  db: Db,
  secrets: SecretKeys,
  token: string,
  now: Date,
): Promise<'verified' | 'other-address'> {
  const payload = verifyToken<{ p?: string; a?: string }>(secrets, token, { now });
  const pub = await db
    .selectFrom('publication')
    .select(['from_email'])
    .where('id', '=', 1)
    .executeTakeFirst();
  if (payload.p !== 'sender') throw new TokenError('malformed');
  if (!pub || payload.a !== addressDigest(pub.from_email)) return 'other-address';
  await markSenderVerified(db, pub.from_email, now);
  return 'verified';
}
