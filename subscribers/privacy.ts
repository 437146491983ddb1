import type { Db } from '../src/db/schema.js';
import { emailHash } from './email.js';
import { getSubscriber } from './store.js';

/** Everything held about one subscriber, as plain JSON (data-subject access request). */
export async function exportSubscriberData(db: Db, subscriberId: number) {
  const subscriber = await getSubscriber(db, subscriberId);
  if (!subscriber) return undefined;
  const [deliveries, events, suppressions] = await Promise.all([
    db.selectFrom('deliveries').selectAll().where('subscriber_id', '=', subscriberId).orderBy('id').execute(),
    db.selectFrom('events').selectAll().where('subscriber_id', '=', subscriberId).orderBy('id').execute(),
    db
      .selectFrom('suppressions')
      .selectAll()
      .where((eb) =>
        eb.or([
          eb.and([eb('kind', '=', 'address'), eb('value', '=', subscriber.email_normalized)]),
          eb.and([
            eb('kind', '=', 'domain'),
            eb('value', '=', subscriber.email_normalized.split('@')[1] ?? ''),
          ]),
        ]),
      )
      .execute(),
  ]);
  return {
    exportedAt: new Date().toISOString(),
    subscriber: {
      id: subscriber.id,
      email: subscriber.email,
      name: subscriber.name,
      locale: subscriber.locale,
      status: subscriber.status,
      consentSource: subscriber.consent_source,
      sections: subscriber.all_sections ? 'all' : subscriber.sectionKeys,
      createdAt: subscriber.created_at,
      confirmedAt: subscriber.confirmed_at,
      unsubscribedAt: subscriber.unsubscribed_at,
      updatedAt: subscriber.updated_at,
    },
    deliveries,
    events,
    suppressions,
  };
}

/**
 * Erases a subscriber: their row, section choices, deliveries, events and address suppression
 * go; only a SHA-256 of the normalised address stays, so an import cannot re-add them by accident.
 */
export async function eraseSubscriber(db: Db, subscriberId: number): Promise<boolean> {
  return db.transaction().execute(async (trx) => {
    const sub = await trx
      .selectFrom('subscribers')
      .select(['id', 'email_normalized'])
      .where('id', '=', subscriberId)
      .forUpdate()
      .executeTakeFirst();
    if (!sub) return false;
    await trx
      .insertInto('erased_subscribers')
      .values({ email_hash: emailHash(sub.email_normalized) })
      .onConflict((oc) => oc.column('email_hash').doNothing())
      .execute();
    await trx.deleteFrom('events').where('subscriber_id', '=', subscriberId).execute();
    await trx
      .deleteFrom('events')
      .where(
        'delivery_id',
        'in',
        trx.selectFrom('deliveries').select('id').where('subscriber_id', '=', subscriberId),
      )
      .execute();
    await trx.deleteFrom('deliveries').where('subscriber_id', '=', subscriberId).execute();
    await trx
      .deleteFrom('suppressions')
      .where('kind', '=', 'address')
      .where('value', '=', sub.email_normalized)
      .execute();
    await trx.deleteFrom('subscribers').where('id', '=', subscriberId).execute();
    return true;
  });
}
