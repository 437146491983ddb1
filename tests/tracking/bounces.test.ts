import { readFileSync } from 'node:fs';
import path from 'node:path';
import nodemailer from 'nodemailer';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/log.js';
import { ensurePublication, updatePublication } from '../../src/publication/publication.js';
import {
  type BounceReceiver,
  handleInboundReport,
  startBounceReceiver,
} from '../../src/tracking/bounce-receiver.js';
import { bounceStatistics } from '../../src/tracking/bounce-stats.js';
import { suppressionAudit, unsuppress } from '../../subscribers/suppression.js';
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

  it('suppresses a reader for soft bounces only after three issues in a row bounced, keeping the evidence; an editor can lift it, audited', async () => {
    const d = delivery(10);
    // Two later issues sent to the same reader.
    const later: Delivery[] = [];
    for (const period of ['2025-08', '2025-09']) {
      const next = await seedSentIssue(tdb.db, { recipients: 0, period });
      const row = await tdb.db
        .insertInto('deliveries')
        .values({
          issue_id: next.issueId,
          subscriber_id: d.subscriberId,
          variant_key: 'all',
          state: 'accepted',
        } as never)
        .returning('id')
        .executeTakeFirstOrThrow();
      const messageId = `g${next.issueId}.${row.id}.v1@example.org`;
      await tdb.db
        .updateTable('deliveries')
        .set({ message_id: messageId })
        .where('id', '=', row.id)
        .execute();
      later.push({ ...d, id: Number(row.id), messageId });
    }
    for (const [i, x] of [d, ...later].entries()) {
      await sendToReceiver(fixture('exim-plain-legacy.eml', x), `bounce+${x.id}@${DOMAIN}`);
      const s = await state(d);
      expect(s.suppression === undefined, `after ${i + 1} mailbox-full bounce(s)`).toBe(i < 2);
    }
    const s = await state(d);
    expect(s.status).toBe('bounced');
    expect(s.suppression).toMatchObject({
      reason: 'soft_bounce',
      bounce_reason: 'mailbox_full',
      evidence: { channel: 'text', reason: 'mailbox_full', status: '5.2.2' },
    });
    expect(
      await unsuppress(tdb.db, { kind: 'address', value: d.email, actor: 'user:editor@example.org' }),
    ).toBe(true);
    expect((await state(d)).suppression).toBeUndefined();
    expect(await suppressionAudit(tdb.db, 'address', d.email)).toMatchObject([
      {
        action: 'lift',
        reason: 'soft_bounce',
        bounce_reason: 'mailbox_full',
        actor: 'user:editor@example.org',
      },
    ]);
  });

  it('records a DMARC auth-failure report without suppressing the reader', async () => {
    const d = delivery(11);
    const raw = fixture('arf-yahoo-complaint.eml', d).replace(
      /Feedback-Type: abuse/,
      'Feedback-Type: auth-failure',
    );
    await sendToReceiver(raw, `bounce+${d.id}@${DOMAIN}`);
    const s = await state(d);
    expect(s.events.map((e) => [e.type, e.subtype])).toEqual([['complaint', 'auth-failure']]);
    expect(s.status).toBe('active');
    expect(s.suppression).toBeUndefined();
  });

  it("counts the issue's failures by reason and recipient domain, and reconciles its deliveries", async () => {
    const b = await bounceStatistics(tdb.db, issue.issueId);
    expect(b.byReason.find((r) => r.reason === 'user_unknown')).toMatchObject({ bounced: 4, hard: 4 });
    expect(b.byReason.find((r) => r.reason === 'mailbox_full')).toMatchObject({ bounced: 2, hard: 0 });
    expect(b.byDomain).toEqual([expect.objectContaining({ domain: 'example.com', bounced: 6, hard: 4 })]);
    expect(b.reconciliation).toMatchObject({
      prepared: 12,
      accepted: 12,
      failed: 0,
      unknown: 0,
      neverAttempted: 0,
    });
    expect(b.reconciliation.suppressedSince).toBeGreaterThanOrEqual(4);
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

describe('soft bounce settings per publication', () => {
  it('takes N and M from 1 to 50 with N at most M, and refuses anything else with the reason', async () => {
    await ensurePublication(tdb.db, {
      MAIL_FROM: 'Gazette <n@example.org>',
      DEFAULT_TIME_ZONE: 'Asia/Shanghai',
      DEFAULT_LOCALE: 'zh-CN',
    });
    expect(await updatePublication(tdb.db, { softBounceLimit: 2, softBounceIssues: 4 })).toMatchObject({
      soft_bounce_limit: 2,
      soft_bounce_issues: 4,
    });
    await expect(updatePublication(tdb.db, { softBounceLimit: 0 })).rejects.toThrow(/from 1 to 50/);
    await expect(updatePublication(tdb.db, { softBounceLimit: 5 })).rejects.toThrow(/cannot be larger/);
    await updatePublication(tdb.db, { softBounceLimit: 3, softBounceIssues: 3 });
  });
});
