import { readFileSync } from 'node:fs';
import path from 'node:path';
import nodemailer from 'nodemailer';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/log.js';
import {
  type BounceReceiver,
  handleInboundReport,
  startBounceReceiver,
} from '../../src/tracking/bounce-receiver.js';
import { projectRoot } from '../support/model-issue.js';
import { createTestDatabase, type TestDatabase } from '../support/test-db.js';
import { type SeededIssue, seedSentIssue } from './seed.js';

const DOMAIN = 'bounces.example.org';
type Delivery = SeededIssue['deliveries'][number];

function fixture(name: string, d: Delivery, opts: { deliveryId?: number; recipient?: string } = {}): string {
  const recipient = opts.recipient ?? d.email;
  return readFileSync(path.join(projectRoot, 'tests/fixtures/tracking', name), 'utf8')
    .replace(/\{\{DELIVERY_ID\}\}/g, String(opts.deliveryId ?? d.id))
    .replace(/\{\{MESSAGE_ID\}\}/g, d.messageId)
    .replace(/\{\{RECIPIENT_LOCAL\}\}/g, recipient.split('@')[0] as string)
    .replace(/\{\{RECIPIENT\}\}/g, recipient)
    .replace(/\r?\n/g, '\r\n');
}

let tdb: TestDatabase;
let issue: SeededIssue;
let receiver: BounceReceiver;

beforeAll(async () => {
  tdb = await createTestDatabase();
  issue = await seedSentIssue(tdb.db, { recipients: 12 });
  receiver = await startBounceReceiver({ db: tdb.db, log: silentLogger, bounceDomain: DOMAIN });
});

afterAll(async () => {
  await receiver?.close();
  await tdb?.drop();
});

function delivery(i: number): Delivery {
  return issue.deliveries[i] as Delivery;
}

async function sendToReceiver(raw: string, to: string) {
  const transport = nodemailer.createTransport({
    host: '127.0.0.1',
    port: receiver.port,
    secure: false,
    ignoreTLS: true,
  });
  try {
    return await transport.sendMail({ envelope: { from: '', to: [to] }, raw });
  } finally {
    transport.close();
  }
}

async function state(d: Delivery) {
  const sub = await tdb.db
    .selectFrom('subscribers')
    .select('status')
    .where('id', '=', d.subscriberId)
    .executeTakeFirstOrThrow();
  const suppression = await tdb.db
    .selectFrom('suppressions')
    .selectAll()
    .where('value', '=', d.email)
    .executeTakeFirst();
  const events = await tdb.db
    .selectFrom('events')
    .selectAll()
    .where('delivery_id', '=', d.id)
    .where('type', 'in', ['bounce', 'complaint'])
    .execute();
  return { status: sub.status, suppression, events };
}

describe('inbound bounce receiver over SMTP', () => {
  const hard = [
    ['Postfix', 'postfix-hard.eml', '5.1.1'],
    ['Exim (RFC 3464)', 'exim-hard.eml', '5.0.0'],
    ['Exchange / Outlook', 'exchange-hard.eml', '5.1.10'],
    ['Gmail', 'gmail-hard.eml', '5.1.1'],
  ] as const;

  hard.forEach(([mta, file, status], index) => {
    const i = index < 2 ? index : index + 1;
    it(`records a ${mta} hard bounce, marks the subscriber bounced and suppresses the address`, async () => {
      const d = delivery(i);
      const info = await sendToReceiver(fixture(file, d), `bounce+${d.id}@${DOMAIN}`);
      expect(info.response).toMatch(/^250 .*Recorded 1/);
      const s = await state(d);
      expect(s.status).toBe('bounced');
      expect(s.suppression).toMatchObject({ kind: 'address', reason: 'hard_bounce' });
      expect(s.events).toHaveLength(1);
      expect(s.events[0]).toMatchObject({ type: 'bounce', subtype: 'hard', issue_id: issue.issueId });
      expect(s.events[0]?.detail).toMatchObject({ channel: 'dsn', status });
    });
  });

  it('records a mailbox-full bounce (Exim text, 5.2.2) as soft, with its reason, and suppresses nobody', async () => {
    const d = delivery(2);
    const info = await sendToReceiver(fixture('exim-plain-legacy.eml', d), `bounce+${d.id}@${DOMAIN}`);
    expect(info.response).toMatch(/Recorded 1/);
    const s = await state(d);
    expect(s.events).toHaveLength(1);
    expect(s.events[0]).toMatchObject({ type: 'bounce', subtype: 'soft' });
    expect(s.events[0]?.detail).toMatchObject({ reason: 'mailbox_full', status: '5.2.2' });
    expect(s.status).toBe('active');
    expect(s.suppression).toBeUndefined();
  });

  it('takes a Postfix delay notice for what it is: no bounce, nothing suppressed', async () => {
    const d = delivery(5);
    const info = await sendToReceiver(fixture('postfix-delayed.eml', d), `bounce+${d.id}@${DOMAIN}`);
    expect(info.response).toMatch(/Recorded 0/);
    const s = await state(d);
    expect(s.events).toHaveLength(0);
    expect(s.status).toBe('active');
    expect(s.suppression).toBeUndefined();
  });

  it('records an ARF abuse report (Yahoo) sent to a non-VERP address by the original Message-ID', async () => {
    const d = delivery(6);
    await sendToReceiver(
      fixture('arf-yahoo-complaint.eml', d, { deliveryId: 0 }).replace(/bounce\+0@/g, 'x@'),
      `fbl@${DOMAIN}`,
    );
    const s = await state(d);
    expect(s.events).toHaveLength(1);
    expect(s.events[0]).toMatchObject({ type: 'complaint', subtype: 'abuse' });
    expect(s.status).toBe('complained');
    expect(s.suppression).toMatchObject({ reason: 'complaint' });
  });

  it('records an Outlook (JMRP) complaint from the VERP address when the recipient is redacted', async () => {
    const d = delivery(7);
    await sendToReceiver(fixture('arf-outlook-jmrp.eml', d), `bounce+${d.id}@${DOMAIN}`);
    const s = await state(d);
    expect(s.events.map((e) => e.type)).toEqual(['complaint']);
    expect(s.status).toBe('complained');
  });

  it('changes nothing when the same DSN or ARF report arrives again', async () => {
    const d = delivery(0);
    const raw = fixture('postfix-hard.eml', d);
    const before = await state(d);
    const info = await sendToReceiver(raw, `bounce+${d.id}@${DOMAIN}`);
    expect(info.response).toMatch(/Recorded 0/);
    const soft = delivery(2);
    await sendToReceiver(fixture('exim-plain-legacy.eml', soft), `bounce+${soft.id}@${DOMAIN}`);
    const complaint = delivery(7);
    await sendToReceiver(fixture('arf-outlook-jmrp.eml', complaint), `bounce+${complaint.id}@${DOMAIN}`);
    expect((await state(d)).events).toHaveLength(before.events.length);
    expect((await state(soft)).events).toHaveLength(1);
    expect((await state(complaint)).events).toHaveLength(1);
    const suppressions = await tdb.db.selectFrom('suppressions').select('value').execute();
    expect(new Set(suppressions.map((s) => s.value)).size).toBe(suppressions.length);
  });

  it('does not suppress anyone when a VERP id names a delivery for another recipient', async () => {
    const victim = delivery(8);
    const raw = fixture('postfix-hard.eml', victim, { recipient: 'someone-else@example.net' }).replace(
      new RegExp(victim.messageId.replace(/\./g, '\\.'), 'g'),
      'unrelated@example.net',
    );
    const outcomes = await handleInboundReport({ db: tdb.db, log: silentLogger, bounceDomain: DOMAIN }, raw, [
      `bounce+${victim.id}@${DOMAIN}`,
    ]);
    expect(outcomes).toEqual([{ result: 'unmatched', reason: expect.stringContaining('not the delivery') }]);
    const s = await state(victim);
    expect(s.status).toBe('active');
    expect(s.events).toHaveLength(0);
  });

  it('refuses mail for addresses outside the bounce domain', async () => {
    await expect(
      sendToReceiver(fixture('postfix-hard.eml', delivery(9)), 'postmaster@example.com'),
    ).rejects.toMatchObject({
      responseCode: 550,
    });
  });

  it('accepts and ignores a message that is not a report', async () => {
    const info = await sendToReceiver(
      'From: a@example.com\r\nTo: bounce+1@bounces.example.org\r\nSubject: out of office\r\n\r\nI am away.\r\n',
      `bounce+${delivery(9).id}@${DOMAIN}`,
    );
    expect(info.response).toMatch(/Recorded 0/);
    expect((await state(delivery(9))).events).toHaveLength(0);
  });
});
