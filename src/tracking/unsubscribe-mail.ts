import { simpleParser } from 'mailparser';
import { unsubscribeAll, unsubscribeFromSection } from '../../subscribers/unsubscribe.js';
import type { SecretKeys } from '../config/secret.js';
import type { Db } from '../db/schema.js';
import { UNSUBSCRIBE_LOCAL_PART } from '../delivery/sender.js';
import type { Logger } from '../log.js';
import { type UnsubscribeToken, verifyLinkToken } from '../security/link-tokens.js';
import { TokenError } from '../security/tokens.js';

export type UnsubscribeMailOutcome = 'unsubscribed' | 'unchanged' | 'no-token' | 'bad-token';

/** Whether an envelope recipient is the List-Unsubscribe `mailto:` address (delivery/sender.ts). */
export function isUnsubscribeAddress(address: string, bounceDomain: string | undefined): boolean {
  const addr = address.trim().replace(/^<|>$/g, '').toLowerCase();
  const at = addr.lastIndexOf('@');
  if (addr.slice(0, at) !== UNSUBSCRIBE_LOCAL_PART) return false;
  return !bounceDomain || addr.slice(at + 1) === bounceDomain.toLowerCase();
}

/** The signed token in "unsubscribe <token>" (the subject List-Unsubscribe's mailto: sets). */
export function tokenFromSubject(subject: string | undefined): string | undefined {
  return /(?:^|\s)unsubscribe\s+([A-Za-z0-9_-]+\.[A-Za-z0-9_.-]+)/i.exec(subject ?? '')?.[1];
}

/**
 * A mail to the unsubscribe address: its subject carries the one-click link's signed token,
 * and it unsubscribes exactly as a POST to that link would (all, or the token's section). A
 * message without a valid token changes nothing; it is accepted and logged, so a forger learns
 * nothing from the reply.
 */
export async function handleUnsubscribeMail(
  deps: { db: Db; log: Logger; secrets: SecretKeys; now?: () => Date },
  raw: Buffer | string,
): Promise<UnsubscribeMailOutcome> {
  const parsed = await simpleParser(raw, {
    skipHtmlToText: true,
    skipTextToHtml: true,
    skipImageLinks: true,
  });
  const token = tokenFromSubject(parsed.subject);
  if (!token) {
    deps.log.info({ event: 'tracking.unsubscribe_mail.no_token' }, 'unsubscribe mail without a token');
    return 'no-token';
  }
  const now = deps.now?.() ?? new Date();
  let claim: UnsubscribeToken;
  try {
    claim = verifyLinkToken(deps.secrets, token, 'unsub', { now });
  } catch (err) {
    if (!(err instanceof TokenError)) throw err;
    deps.log.warn(
      { event: 'tracking.unsubscribe_mail.bad_token', reason: err.reason },
      'unsubscribe mail refused',
    );
    return 'bad-token';
  }
  const context = {
    via: 'mailto',
    now,
    ...(claim.i ? { issueId: claim.i } : {}),
    ...(claim.d ? { deliveryId: claim.d } : {}),
  };
  const changed = claim.k
    ? (await unsubscribeFromSection(deps.db, claim.s, claim.k, context)) !== 'unchanged'
    : await unsubscribeAll(deps.db, claim.s, context);
  deps.log.info(
    { event: 'unsubscribe.mailto', subscriberId: claim.s, changed, ...(claim.k ? { section: claim.k } : {}) },
    'unsubscribed by mail',
  );
  return changed ? 'unsubscribed' : 'unchanged';
}
