import type { SecretKeys } from '../src/config/secret.js';
import type { Db, Locale } from '../src/db/schema.js';
import type { Logger } from '../src/log.js';
import { type ConfirmToken, verifyLinkToken } from '../src/security/link-tokens.js';
import { subscriberLinks } from '../src/security/recipient-links.js';
import { signToken } from '../src/security/tokens.js';
import { alreadySubscribedMail, confirmationMail } from './confirmation-mail.js';
import { emailHash, normalizeEmail } from './email.js';
import type { SendMail } from './mail.js';
import { sectionIdsForKeys } from './sections.js';
import { cleanName, setSubscriberSections } from './store.js';
import { isSuppressed } from './suppression.js';

export interface OptInDeps {
  db: Db;
  secrets: SecretKeys;
  publicUrl: string;
  sendMail: SendMail;
  log: Logger;
  now: () => Date;
  confirmTtlHours: number;
  linkTtlDays: number;
  publicationName: string;
}

export interface SubscriptionRequest {
  email: string;
  name?: string;
  locale: Locale;
  /** Omitted or empty: every section. */
  sectionKeys?: string[];
}

export type RequestOutcome =
  | 'confirmation-sent'
  | 'already-subscribed'
  | 'suppressed'
  | 'ignored'
  | 'throttled';

/** At most one mail from the subscribe form per address in this window, however many clients ask. */
export const OPT_IN_MAIL_INTERVAL_MS = 10 * 60 * 1000;

/**
 * Claims the address's one mail of the window by conditional update (safe across processes); false
 * when one went out less than OPT_IN_MAIL_INTERVAL_MS ago. The caller's answer does not change.
 */
async function claimOptInMail(deps: Pick<OptInDeps, 'db' | 'log'>, subscriberId: number, now: Date) {
  const since = new Date(now.getTime() - OPT_IN_MAIL_INTERVAL_MS);
  const claimed = await deps.db
    .updateTable('subscribers')
    .set({ opt_in_mailed_at: now })
    .where('id', '=', subscriberId)
    .where((eb) => eb.or([eb('opt_in_mailed_at', 'is', null), eb('opt_in_mailed_at', '<=', since)]))
    .returning('id')
    .executeTakeFirst();
  if (!claimed)
    deps.log.info({ event: 'subscribe.throttled', subscriberId }, 'opt-in mail to this address throttled');
  return !!claimed;
}

export function confirmUrl(deps: Pick<OptInDeps, 'publicUrl'>, token: string): string {
  return `${deps.publicUrl.replace(/\/+$/, '')}/confirm/${token}`;
}

/**
 * The subscribe form's work. Input errors (bad address, unknown section) throw before anything
 * is read, so they say nothing about who is subscribed. Everything after that ends the same way
 * for the caller; only the mail (which only the address owner reads) differs.
 */
export async function requestSubscription(
  deps: OptInDeps,
  input: SubscriptionRequest,
): Promise<RequestOutcome> {
  const normalized = normalizeEmail(input.email);
  const sectionKeys = input.sectionKeys?.length ? input.sectionKeys : undefined;
  if (sectionKeys) await sectionIdsForKeys(deps.db, sectionKeys);
  const now = deps.now();
  if (await isSuppressed(deps.db, normalized)) {
    deps.log.info({ event: 'subscribe.suppressed' }, 'subscribe request for a suppressed address ignored');
    return 'suppressed';
  }
  const existing = await deps.db
    .selectFrom('subscribers')
    .select(['id', 'status', 'locale'])
    .where('email_normalized', '=', normalized)
    .executeTakeFirst();

  let subscriberId: number;
  let extra: Pick<ConfirmToken, 'k' | 'l'> = {};
  if (!existing) {
    const row = await deps.db.transaction().execute(async (trx) => {
      const inserted = await trx
        .insertInto('subscribers')
        .values({
          email: input.email.trim(),
          email_normalized: normalized,
          name: cleanName(input.name),
          locale: input.locale,
          status: 'pending',
          consent_source: 'form',
          created_at: now,
          updated_at: now,
        })
        .onConflict((oc) => oc.column('email_normalized').doNothing())
        .returning('id')
        .executeTakeFirst();
      if (inserted && sectionKeys) await setSubscriberSections(trx, Number(inserted.id), sectionKeys);
      return inserted;
    });
    if (!row) return 'ignored'; // a concurrent request made it; that one sends the mail
    subscriberId = Number(row.id);
  } else if (existing.status === 'pending') {
    subscriberId = Number(existing.id);
    await deps.db.transaction().execute(async (trx) => {
      await trx
        .updateTable('subscribers')
        .set({ name: cleanName(input.name), locale: input.locale, updated_at: now })
        .where('id', '=', subscriberId)
        .execute();
      await setSubscriberSections(trx, subscriberId, sectionKeys ?? 'all');
    });
  } else if (existing.status === 'active') {
    if (!(await claimOptInMail(deps, Number(existing.id), now))) return 'throttled';
    const links = subscriberLinks(deps.secrets, deps.publicUrl, Number(existing.id), {
      linkTtlDays: deps.linkTtlDays,
      now,
    });
    const mail = alreadySubscribedMail(existing.locale, deps.publicationName, links.preferencesUrl);
    await deps.sendMail({ to: normalized, ...mail });
    deps.log.info({ event: 'subscribe.already_active', subscriberId: existing.id }, 'reminder sent');
    return 'already-subscribed';
  } else if (existing.status === 'unsubscribed') {
    // Their data changes only when they confirm: the token carries what they asked for.
    subscriberId = Number(existing.id);
    extra = { k: sectionKeys ?? [], l: input.locale };
  } else {
    deps.log.info(
      { event: 'subscribe.ignored', subscriberId: existing.id, status: existing.status },
      'ignored',
    );
    return 'ignored';
  }

  if (!(await claimOptInMail(deps, subscriberId, now))) return 'throttled';
  const token = signToken(
    deps.secrets,
    { p: 'confirm', s: subscriberId, iat: Math.floor(now.getTime() / 1000), ...extra },
    { expiresInSeconds: deps.confirmTtlHours * 3600, now },
  );
  const mail = confirmationMail(
    input.locale,
    deps.publicationName,
    confirmUrl(deps, token),
    deps.confirmTtlHours,
  );
  await deps.sendMail({ to: normalized, ...mail });
  deps.log.info({ event: 'subscribe.confirmation_sent', subscriberId }, 'confirmation mail sent');
  return 'confirmation-sent';
}

export type ConfirmOutcome = 'confirmed' | 'already-confirmed' | 'stale' | 'confirmable';

/**
 * Confirms from the mailed link (TokenError when tampered or expired). Confirming twice is
 * harmless; a link issued before the person last unsubscribed does nothing.
 */
export async function confirmSubscription(
  deps: Pick<OptInDeps, 'db' | 'secrets' | 'now' | 'log'>,
  token: string,
  opts: { dryRun?: boolean } = {},
): Promise<{ outcome: ConfirmOutcome; subscriberId: number; locale?: Locale }> {
  const now = deps.now();
  const claim = verifyLinkToken(deps.secrets, token, 'confirm', { now });
  const sub = await deps.db
    .selectFrom('subscribers')
    .select(['id', 'status', 'email_normalized', 'unsubscribed_at', 'locale'])
    .where('id', '=', claim.s)
    .executeTakeFirst();
  if (!sub) return { outcome: 'stale', subscriberId: claim.s };
  const base = { subscriberId: Number(sub.id), locale: sub.locale };
  if (sub.status === 'active') return { outcome: 'already-confirmed', ...base };
  if (await isSuppressed(deps.db, sub.email_normalized)) return { outcome: 'stale', ...base };
  const issuedAfterLeaving =
    sub.status === 'unsubscribed' && sub.unsubscribed_at && sub.unsubscribed_at.getTime() <= claim.iat * 1000;
  if (sub.status !== 'pending' && !issuedAfterLeaving) return { outcome: 'stale', ...base };
  // dryRun: what the confirmation page shows before the person presses the button.
  if (opts.dryRun) return { outcome: 'confirmable', ...base };

  const locale = claim.l === 'en' || claim.l === 'zh-CN' ? claim.l : undefined;
  const changed = await deps.db.transaction().execute(async (trx) => {
    const res = await trx
      .updateTable('subscribers')
      .set({
        status: 'active',
        confirmed_at: now,
        unsubscribed_at: null,
        updated_at: now,
        ...(locale ? { locale } : {}),
      })
      .where('id', '=', sub.id)
      .where('status', '=', sub.status)
      .executeTakeFirst();
    if (Number(res.numUpdatedRows) === 0) return false;
    if (claim.k) await setSubscriberSections(trx, Number(sub.id), claim.k.length ? claim.k : 'all');
    // The person chose to come back: a hash left by an earlier erasure no longer applies.
    await trx
      .deleteFrom('erased_subscribers')
      .where('email_hash', '=', emailHash(sub.email_normalized))
      .execute();
    return true;
  });
  deps.log.info({ event: 'subscribe.confirmed', subscriberId: sub.id }, 'subscription confirmed');
  return {
    outcome: changed ? 'confirmed' : 'already-confirmed',
    subscriberId: Number(sub.id),
    locale: locale ?? sub.locale,
  };
}
