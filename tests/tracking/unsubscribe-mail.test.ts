import nodemailer from 'nodemailer';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { unsubscribeMailto } from '../../src/delivery/sender.js';
import { silentLogger } from '../../src/log.js';
import { recipientLinks } from '../../src/security/recipient-links.js';
import { type BounceReceiver, startBounceReceiver } from '../../src/tracking/bounce-receiver.js';
import { createTestDatabase, type TestDatabase } from '../support/test-db.js';
import { type SeededIssue, seedSentIssue } from './seed.js';

/**
 * List-Unsubscribe's mailto: (RFC 2369) beside the https link: a mail to unsubscribe@<bounce
 * domain>, as a mail client sends it from that header, unsubscribes like the one-click POST.
 */
const DOMAIN = 'bounces.example.org';
const SECRETS = { current: 's'.repeat(64) };
const env = { BOUNCE_DOMAIN: DOMAIN };
let tdb: TestDatabase;
let issue: SeededIssue;
let receiver: BounceReceiver;

beforeAll(async () => {
  tdb = await createTestDatabase();
  issue = await seedSentIssue(tdb.db, { recipients: 3 });
  receiver = await startBounceReceiver({
    db: tdb.db,
    log: silentLogger,
    bounceDomain: DOMAIN,
    secrets: SECRETS,
  });
});

afterAll(async () => {
  await receiver?.close();
  await tdb?.drop();
});

/** What a mail client does with `mailto:addr?subject=…`: a message to addr with that subject. */
async function followMailto(mailto: string, from: string) {
  const u = new URL(mailto);
  const transport = nodemailer.createTransport({ host: '127.0.0.1', port: receiver.port, ignoreTLS: true });
  try {
    return await transport.sendMail({
      from,
      to: u.pathname,
      subject: u.searchParams.get('subject') ?? '',
      text: 'Unsubscribe',
    });
  } finally {
    transport.close();
  }
}

const statusOf = async (id: number) =>
  (await tdb.db.selectFrom('subscribers').select('status').where('id', '=', id).executeTakeFirstOrThrow())
    .status;

describe('mailto: unsubscribe', () => {
  it('unsubscribes the reader named by the signed token, and records how', async () => {
    const d = issue.deliveries[0] as SeededIssue['deliveries'][number];
    const links = recipientLinks(SECRETS, 'https://n.example', {
      subscriberId: d.subscriberId,
      issueId: issue.issueId,
      deliveryId: d.id,
    });
    const mailto = unsubscribeMailto(env, links.oneClickUnsubscribeUrl) as string;
    expect(mailto).toMatch(/^mailto:unsubscribe@bounces\.example\.org\?subject=unsubscribe%20/);
    expect((await followMailto(mailto, d.email)).response).toMatch(/^250 .*Accepted/);
    expect(await statusOf(d.subscriberId)).toBe('unsubscribed');
    const events = () =>
      tdb.db
        .selectFrom('events')
        .select(['type', 'delivery_id', 'detail'])
        .where('subscriber_id', '=', d.subscriberId)
        .where('type', '=', 'unsubscribe')
        .execute();
    expect(await events()).toMatchObject([{ delivery_id: d.id, detail: { via: 'mailto' } }]);
    // Sent twice (a client retrying): nothing more changes.
    await followMailto(mailto, d.email);
    expect(await events()).toHaveLength(1);
  });

  it('changes nothing for a missing or forged token, and answers as for any mail', async () => {
    const d = issue.deliveries[1] as SeededIssue['deliveries'][number];
    const forged = recipientLinks({ current: 'x'.repeat(64) }, 'https://n.example', {
      subscriberId: d.subscriberId,
      issueId: issue.issueId,
      deliveryId: d.id,
    });
    const bad = await followMailto(unsubscribeMailto(env, forged.oneClickUnsubscribeUrl) as string, d.email);
    const none = await followMailto(`mailto:unsubscribe@${DOMAIN}?subject=hello`, d.email);
    expect(bad.response).toBe(none.response);
    expect(bad.response).toMatch(/^250 .*Accepted/);
    expect(await statusOf(d.subscriberId)).toBe('active');
  });

  it('has no mailto: without a bounce domain (nothing would receive it)', () => {
    expect(unsubscribeMailto({ BOUNCE_DOMAIN: undefined }, 'https://n.example/u/a.b')).toBeUndefined();
  });
});
