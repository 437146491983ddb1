import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Db } from '../../src/db/schema.js';
import {
  addSubscriber,
  emailHash,
  eraseSubscriber,
  exportSubscriberData,
  getSubscriber,
  isSuppressed,
  markBounced,
  markComplained,
  notSuppressed,
  notSuppressedAs,
  SubscriberError,
  suppress,
  unsuppress,
  updateSubscriber,
} from '../../subscribers/api.js';
import { seedModelSections } from '../http/support.js';
import type { TestDatabase } from '../support/test-db.js';
import { createTestDatabase } from '../support/test-db.js';

let t: TestDatabase;
let db: Db;
beforeAll(async () => {
  t = await createTestDatabase();
  db = t.db;
  await seedModelSections(db);
});
afterAll(async () => t?.drop());

describe('suppression list', () => {
  it('suppresses single addresses and whole domains, case-insensitively', async () => {
    await suppress(db, {
      kind: 'address',
      value: 'Blocked@Example.com',
      reason: 'manual',
      note: 'asked by phone',
    });
    await suppress(db, { kind: 'domain', value: '@Spam.Example', reason: 'manual' });
    expect(await isSuppressed(db, 'blocked@example.com')).toBe(true);
    expect(await isSuppressed(db, 'anyone@spam.example')).toBe(true);
    expect(await isSuppressed(db, 'anyone@sub.spam.example')).toBe(false);
    expect(await isSuppressed(db, 'fine@example.com')).toBe(false);
    expect(await unsuppress(db, { kind: 'domain', value: 'spam.example' })).toBe(true);
    expect(await unsuppress(db, { kind: 'domain', value: 'spam.example' })).toBe(false);
    expect(await isSuppressed(db, 'anyone@spam.example')).toBe(false);
  });

  it('refuses to add a suppressed address as a subscriber', async () => {
    await expect(
      addSubscriber(db, { email: 'blocked@example.com', consentSource: 'editor' }),
    ).rejects.toMatchObject({
      code: 'suppressed',
    });
  });

  it('gives the delivery stage a SQL condition that leaves out suppressed addresses and domains', async () => {
    await suppress(db, { kind: 'domain', value: 'blocked-domain.example', reason: 'manual' });
    const kept = await addSubscriber(db, { email: 'kept@example.org', consentSource: 'editor' });
    const byDomain = await addSubscriber(db, { email: 'x@example.net', consentSource: 'editor' });
    await db
      .updateTable('subscribers')
      .set({ email_normalized: 'x@blocked-domain.example' })
      .where('id', '=', byDomain.id)
      .execute();
    const byAddress = await addSubscriber(db, { email: 'later@example.org', consentSource: 'editor' });
    await suppress(db, { kind: 'address', value: 'later@example.org', reason: 'smtp_rejected' });
    const ids = (
      await db
        .selectFrom('subscribers')
        .select('id')
        .where('status', '=', 'active')
        .where(notSuppressed)
        .execute()
    ).map((r) => Number(r.id));
    expect(ids).toContain(kept.id);
    expect(ids).not.toContain(byDomain.id);
    expect(ids).not.toContain(byAddress.id);
    const aliased = (
      await db
        .selectFrom('subscribers as s')
        .select('s.id')
        .where(notSuppressedAs('s') as never)
        .execute()
    ).map((r) => Number(r.id));
    expect(aliased).toContain(kept.id);
    expect(aliased).not.toContain(byAddress.id);
  });

  it('marks hard bounces and complaints, suppressing the address; a complaint is never downgraded', async () => {
    const a = await addSubscriber(db, { email: 'bounce@example.org', consentSource: 'import' });
    expect(await markBounced(db, a.id)).toBe(true);
    expect((await getSubscriber(db, a.id))?.status).toBe('bounced');
    const row = await db
      .selectFrom('suppressions')
      .selectAll()
      .where('value', '=', 'bounce@example.org')
      .executeTakeFirst();
    expect(row?.reason).toBe('hard_bounce');

    const b = await addSubscriber(db, { email: 'complain@example.org', consentSource: 'import' });
    await markComplained(db, b.id);
    await markBounced(db, b.id);
    expect((await getSubscriber(db, b.id))?.status).toBe('complained');
    expect(await isSuppressed(db, 'complain@example.org')).toBe(true);
    expect(await markBounced(db, 9_999_999)).toBe(false);
  });

  it('never lets an editor or the API re-activate someone who left', async () => {
    const a = await addSubscriber(db, {
      email: 'gone-for-good@example.org',
      consentSource: 'form',
      status: 'active',
    });
    await updateSubscriber(db, a.id, { status: 'unsubscribed' });
    await expect(updateSubscriber(db, a.id, { status: 'active' })).rejects.toBeInstanceOf(SubscriberError);
    expect((await getSubscriber(db, a.id))?.status).toBe('unsubscribed');
  });
});

describe('privacy', () => {
  async function withHistory(email: string) {
    const sub = await addSubscriber(db, {
      email,
      name: '私人',
      locale: 'zh-CN',
      sectionKeys: ['case-studies'],
      consentSource: 'form',
      status: 'active',
    });
    const issue = await db
      .insertInto('issues')
      .values({ period: '2025-07', title: 'July' })
      .returning('id')
      .executeTakeFirstOrThrow();
    const delivery = await db
      .insertInto('deliveries')
      .values({ issue_id: issue.id, subscriber_id: sub.id, state: 'accepted' })
      .returning('id')
      .executeTakeFirstOrThrow();
    await db
      .insertInto('events')
      .values({ type: 'open', delivery_id: delivery.id, issue_id: issue.id, subscriber_id: sub.id })
      .execute();
    return { sub, issueId: issue.id, deliveryId: Number(delivery.id) };
  }

  it('exports everything held about one subscriber, including deliveries and events', async () => {
    const { sub, deliveryId } = await withHistory('Private.Person@Example.org');
    const data = await exportSubscriberData(db, sub.id);
    expect(data?.subscriber).toMatchObject({
      email: 'Private.Person@Example.org',
      name: '私人',
      sections: ['case-studies'],
      consentSource: 'form',
    });
    expect(data?.deliveries.map((d) => Number(d.id))).toEqual([deliveryId]);
    expect(data?.events.map((e) => e.type)).toEqual(['open']);
    expect(JSON.parse(JSON.stringify(data))).toBeTruthy();
  });

  it('erases a subscriber and their history, keeping only a hash of the address', async () => {
    const { sub, deliveryId } = await withHistory('Erase.Me@Example.org');
    await suppress(db, { kind: 'address', value: 'erase.me@example.org', reason: 'manual' });
    expect(await eraseSubscriber(db, sub.id)).toBe(true);
    expect(await getSubscriber(db, sub.id)).toBeUndefined();
    expect(await db.selectFrom('deliveries').select('id').where('id', '=', deliveryId).execute()).toEqual([]);
    expect(await db.selectFrom('events').select('id').where('subscriber_id', '=', sub.id).execute()).toEqual(
      [],
    );
    const kept = await db.selectFrom('erased_subscribers').select('email_hash').execute();
    expect(kept.map((k) => k.email_hash)).toContain(emailHash('erase.me@example.org'));
    // Nothing readable is left anywhere in the subscriber tables.
    const hits = await db
      .selectFrom('suppressions')
      .select('id')
      .where('value', '=', 'erase.me@example.org')
      .execute();
    expect(hits).toEqual([]);
    // And an editor or import cannot re-add the address by accident.
    await expect(
      addSubscriber(db, { email: 'erase.me@example.org', consentSource: 'import' }),
    ).rejects.toMatchObject({
      code: 'erased',
    });
    expect(await eraseSubscriber(db, sub.id)).toBe(false);
  });
});
