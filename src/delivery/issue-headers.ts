import type { Env } from '../config/env.js';
import { recipientName } from '../rendering/recipient-name.js';
import type { RecipientLinks } from './deps.js';
import type { DkimSigner } from './dkim.js';
import type { MimeTemplateOptions, RecipientValues } from './mime.js';
import { variantLocale } from './prepare.js';
import { feedbackId, type Sender, unsubscribeMailto } from './sender.js';

/**
 * The headers of an issue's messages (pure): those shared by every message of the issue, and the
 * values that differ per recipient. mime.ts builds and splices them; this says what they are.
 */

/** From, Reply-To, List-Id, Feedback-ID, the Message-ID domain and the signer: one set per issue and relay. */
export function issueHeaders(
  issueId: number,
  sender: Sender,
  opts: { eightBit: boolean; dkim: DkimSigner | undefined },
): MimeTemplateOptions {
  return {
    issueId,
    from: sender.from,
    replyTo: sender.replyTo,
    listId: sender.listId,
    feedbackId: feedbackId(issueId, sender),
    messageIdDomain: sender.domain,
    eightBit: opts.eightBit,
    dkim: opts.dkim,
  };
}

/** To, List-Unsubscribe (https and mailto) and the token values of one recipient's message. */
export function recipientHeaders(
  env: Pick<Env, 'BOUNCE_DOMAIN'>,
  row: { id: number; email: string; name: string | null; variantKey: string },
  links: RecipientLinks,
): RecipientValues {
  return {
    deliveryId: row.id,
    address: row.email,
    name: row.name,
    oneClickUnsubscribeUrl: links.oneClickUnsubscribeUrl,
    unsubscribeMailto: unsubscribeMailto(env, links.oneClickUnsubscribeUrl),
    tokens: {
      // 读者 / reader when no name is known, so the greeting never reads "，您好：".
      name: recipientName(row.name, variantLocale(row.variantKey)),
      unsubscribeUrl: links.unsubscribeUrl,
      preferencesUrl: links.preferencesUrl,
      webVersionUrl: links.webVersionUrl,
      trackingToken: links.trackingToken,
    },
  };
}
