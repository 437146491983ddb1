import type { Env } from '../config/env.js';
import type { Db } from '../db/schema.js';

/**
 * Who a message is from and where its bounces go, for every message Gazette sends: issues,
 * test sends and confirmation mails all take the publication's sender, the same Return-Path
 * scheme and the same DKIM key (mime.ts), so what an editor tests is what a subscriber gets.
 */
export interface Sender {
  /** RFC 5322 From: the publication's sender name and address (MAIL_FROM before one is saved). */
  from: string;
  fromAddress: string;
  domain: string;
  replyTo: string | null;
  listId: string;
  /** Feedback-ID's last field: 5–15 characters (Gmail's feedback loop). */
  feedbackSender: string;
  publicationId: number;
}

/** FEEDBACK_ID_SENDER, else the From domain's letters and digits, cut or padded to 5–15. */
export function feedbackSender(configured: string | undefined, domain: string): string {
  if (configured) return configured;
  const bare = domain.toLowerCase().replace(/[^a-z0-9]/g, '');
  return bare.length >= 5 ? bare.slice(0, 15) : bare.padEnd(5, '0');
}

/** Gmail's Feedback-ID: campaign:customer:type:sender. */
export function feedbackId(issueId: number, sender: Sender): string {
  return `${issueId}:${sender.publicationId}:newsletter:${sender.feedbackSender}`;
}

export function senderOf(
  pub:
    | {
        id: number;
        name: string;
        from_name: string;
        from_email: string;
        reply_to: string | null;
        list_id: string | null;
      }
    | undefined,
  env: Pick<Env, 'MAIL_FROM' | 'FEEDBACK_ID_SENDER'>,
): Sender {
  const from = pub ? `${pub.from_name} <${pub.from_email}>` : env.MAIL_FROM;
  const fromAddress = (/<([^>]+)>/.exec(from)?.[1] ?? from).trim();
  const domain = fromAddress.split('@')[1] ?? 'localhost';
  return {
    from,
    fromAddress,
    domain,
    replyTo: pub?.reply_to ?? null,
    listId: pub?.list_id
      ? `${pub.name} <${pub.list_id}>`
      : `${pub?.name ?? 'Gazette'} <newsletter.${domain}>`,
    feedbackSender: feedbackSender(env.FEEDBACK_ID_SENDER, domain),
    publicationId: pub?.id ?? 0,
  };
}

/** The sender as stored now (read at each one-off send and once per issue by a send worker). */
export async function loadSender(
  db: Db,
  env: Pick<Env, 'MAIL_FROM' | 'FEEDBACK_ID_SENDER'>,
): Promise<Sender> {
  const pub = await db.selectFrom('publication').selectAll().orderBy('id').limit(1).executeTakeFirst();
  return senderOf(pub, env);
}

/**
 * The envelope sender (Return-Path). With BOUNCE_DOMAIN, VERP: `bounce+<delivery>@` names the
 * delivery a bounce is about; mail that is no delivery uses `bounce+mail@`, which the receiver
 * takes in and logs. Without BOUNCE_DOMAIN, the From address.
 */
export function returnPath(env: Pick<Env, 'BOUNCE_DOMAIN'>, sender: Sender, deliveryId?: number): string {
  if (!env.BOUNCE_DOMAIN) return sender.fromAddress;
  return `bounce+${deliveryId ?? 'mail'}@${env.BOUNCE_DOMAIN}`;
}

/** The local part of the unsubscribe address the bounce receiver answers to. */
export const UNSUBSCRIBE_LOCAL_PART = 'unsubscribe';

/**
 * List-Unsubscribe's `mailto:` (RFC 2369): a mail to unsubscribe@BOUNCE_DOMAIN whose subject is
 * the one-click link's signed token; the bounce receiver unsubscribes on it. None without
 * BOUNCE_DOMAIN (nothing would receive it).
 */
export function unsubscribeMailto(env: Pick<Env, 'BOUNCE_DOMAIN'>, oneClickUrl: string): string | undefined {
  // The one-click link is …/u/<token> (security/recipient-links.ts).
  const token = /\/u\/([^/?#]+)/.exec(oneClickUrl)?.[1];
  if (!env.BOUNCE_DOMAIN || !token) return undefined;
  return `mailto:${UNSUBSCRIBE_LOCAL_PART}@${env.BOUNCE_DOMAIN}?subject=${encodeURIComponent(`unsubscribe ${token}`)}`;
}
