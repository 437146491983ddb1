import type { SecretKeys } from '../config/secret.js';
import { signToken } from './tokens.js';

export interface RecipientLinks {
  /** Page that asks for confirmation (GET) and unsubscribes on its form POST. */
  unsubscribeUrl: string;
  /** RFC 8058 target for List-Unsubscribe: POST `List-Unsubscribe=One-Click` unsubscribes; GET shows the page. */
  oneClickUnsubscribeUrl: string;
  preferencesUrl: string;
  webVersionUrl: string;
  /** Signed delivery reference for the open pixel and click redirects (tracking stage verifies it, purpose 'trk'). */
  trackingToken: string;
}

export interface RecipientLinkInput {
  subscriberId: number;
  issueId: number;
  deliveryId: number;
  /** When set, the unsubscribe links remove only this section. */
  sectionKey?: string;
}

const DAY = 86_400;

/**
 * Every per-recipient link for one message. Four HMACs, a few microseconds: cheap enough to
 * call per recipient at send time. Paths: /u/:token (one-click and page), /unsubscribe/:token
 * (page), /preferences/:token, /web/:token (the archive stage serves it; purpose 'web').
 */
export function recipientLinks(
  secrets: SecretKeys,
  publicUrl: string,
  input: RecipientLinkInput,
  opts: { linkTtlDays?: number; now?: Date } = {},
): RecipientLinks {
  const base = publicUrl.replace(/\/+$/, '');
  const sign = { expiresInSeconds: (opts.linkTtlDays ?? 400) * DAY, ...(opts.now ? { now: opts.now } : {}) };
  const unsub = signToken(
    secrets,
    {
      p: 'unsub',
      s: input.subscriberId,
      i: input.issueId,
      d: input.deliveryId,
      ...(input.sectionKey ? { k: input.sectionKey } : {}),
    },
    // No expiry: an unsubscribe link works from any message ever delivered (NEVER_EXPIRING).
  );
  const pref = signToken(secrets, { p: 'pref', s: input.subscriberId }, sign);
  const web = signToken(secrets, { p: 'web', i: input.issueId, s: input.subscriberId });
  const trackingToken = signToken(secrets, {
    p: 'trk',
    d: input.deliveryId,
    s: input.subscriberId,
    i: input.issueId,
  });
  return {
    unsubscribeUrl: `${base}/unsubscribe/${unsub}`,
    oneClickUnsubscribeUrl: `${base}/u/${unsub}`,
    preferencesUrl: `${base}/preferences/${pref}`,
    webVersionUrl: `${base}/web/${web}`,
    trackingToken,
  };
}

/** Links for mail outside an issue (e.g. the confirmation mail): no delivery or issue yet. */
export function subscriberLinks(
  secrets: SecretKeys,
  publicUrl: string,
  subscriberId: number,
  opts: { linkTtlDays?: number; now?: Date } = {},
): { unsubscribeUrl: string; oneClickUnsubscribeUrl: string; preferencesUrl: string } {
  const base = publicUrl.replace(/\/+$/, '');
  const sign = { expiresInSeconds: (opts.linkTtlDays ?? 400) * DAY, ...(opts.now ? { now: opts.now } : {}) };
  const unsub = signToken(secrets, { p: 'unsub', s: subscriberId });
  const pref = signToken(secrets, { p: 'pref', s: subscriberId }, sign);
  return {
    unsubscribeUrl: `${base}/unsubscribe/${unsub}`,
    oneClickUnsubscribeUrl: `${base}/u/${unsub}`,
    preferencesUrl: `${base}/preferences/${pref}`,
  };
}

/**
 * RFC 2369 + RFC 8058 headers for a message: mailbox providers show an unsubscribe button and
 * POST `List-Unsubscribe=One-Click` to the HTTPS URL.
 */
export function listUnsubscribeHeaders(
  links: Pick<RecipientLinks, 'oneClickUnsubscribeUrl'>,
): Record<string, string> {
  return {
    'List-Unsubscribe': `<${links.oneClickUnsubscribeUrl}>`,
    'List-Unsubscribe-Post': 'List-Unsubscribe=One-Click',
  };
}
