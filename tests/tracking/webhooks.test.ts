import { execFile } from 'node:child_process';
import { createHmac, createSign } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/log.js';
import { trackingRoutes } from '../../src/http/tracking/routes.js';
import { isAwsSnsUrl, snsStringToSign } from '../../src/tracking/sns.js';
import { createTestDatabase, type TestDatabase } from '../support/test-db.js';
import { type SeededIssue, seedSentIssue } from './seed.js';

const CERT_URL = 'https://sns.us-east-1.amazonaws.com/SimpleNotificationService-0000000000000000000000.pem';
const TOPIC = 'arn:aws:sns:us-east-1:123456789012:gazette-ses';
const MAILGUN_KEY = 'key-0123456789abcdef0123456789abcdef';

let tdb: TestDatabase;
let app: FastifyInstance;
let issue: SeededIssue;
let keyPem: string;
let certPem: string;
let otherKeyPem: string;
let tmp: string;
const certFetches: string[] = [];
const confirmed: string[] = [];

beforeAll(async () => {
  // Our own signing certificate stands in for Amazon's; the fetcher serves it without network.
  tmp = mkdtempSync(join(tmpdir(), 'gazette-sns-'));
  for (const name of ['sns', 'other']) {
    // Not execFileSync: a worker blocked on a child starves vitest's RPC on a busy machine.
    await promisify(execFile)('openssl', [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-days',
      '2',
      '-subj',
      '/CN=sns.amazonaws.com',
      '-keyout',
      join(tmp, `${name}.key`),
      '-out',
      join(tmp, `${name}.crt`),
    ]);
  }
  keyPem = readFileSync(join(tmp, 'sns.key'), 'utf8');
  certPem = readFileSync(join(tmp, 'sns.crt'), 'utf8');
  otherKeyPem = readFileSync(join(tmp, 'other.key'), 'utf8');
  tdb = await createTestDatabase();
  issue = await seedSentIssue(tdb.db, { recipients: 6 });
  app = Fastify();
  await app.register(trackingRoutes, {
    db: tdb.db,
    log: silentLogger,
    secrets: { current: 'k'.repeat(40) },
    snsTopicArns: [TOPIC],
    mailgunSigningKey: MAILGUN_KEY,
    fetchCertificate: async (url) => {
      certFetches.push(url);
      return certPem;
    },
    confirmSnsSubscription: async (url) => {
      confirmed.push(url);
    },
  });
  await app.ready();
});

afterAll(async () => {
  await app?.close();
  await tdb?.drop();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

function d(i: number) {
  return issue.deliveries[i] as SeededIssue['deliveries'][number];
}

function signSns(msg: Record<string, string>, opts: { version?: '1' | '2'; key?: string } = {}) {
  const version = opts.version ?? '2';
  const full = { SigningCertURL: CERT_URL, ...msg, SignatureVersion: version } as Record<string, string>;
  const signature = createSign(version === '1' ? 'RSA-SHA1' : 'RSA-SHA256')
    .update(snsStringToSign(full as never))
    .sign(opts.key ?? keyPem, 'base64');
  return { ...full, Signature: signature } as Record<string, string>;
}

function sesBounce(
  delivery: SeededIssue['deliveries'][number],
  bounceType: 'Permanent' | 'Transient',
  snsId: string,
) {
  return signSns({
    Type: 'Notification',
    MessageId: snsId,
    TopicArn: TOPIC,
    Timestamp: '2025-07-15T01:12:44.000Z',
    Message: JSON.stringify({
      notificationType: 'Bounce',
      bounce: {
        bounceType,
        bounceSubType: bounceType === 'Permanent' ? 'General' : 'MailboxFull',
        feedbackId: `0100019-${snsId}`,
        timestamp: '2025-07-15T01:12:43.000Z',
        bouncedRecipients: [
          {
            emailAddress: delivery.email,
            action: 'failed',
            status: bounceType === 'Permanent' ? '5.1.1' : '4.2.2',
            diagnosticCode: 'smtp; 550 5.1.1 user unknown',
          },
        ],
      },
      mail: {
        messageId: '0100019-ses-own-id',
        source: 'bounce@example.org',
        commonHeaders: { messageId: `<${delivery.messageId}>` },
      },
    }),
  });
}

async function post(url: string, body: unknown, contentType = 'text/plain; charset=UTF-8') {
  return app.inject({
    method: 'POST',
    url,
    headers: { 'content-type': contentType },
    payload: JSON.stringify(body),
  });
}

async function statusOf(i: number) {
  const sub = await tdb.db
    .selectFrom('subscribers')
    .select('status')
    .where('id', '=', d(i).subscriberId)
    .executeTakeFirstOrThrow();
  const events = await tdb.db.selectFrom('events').selectAll().where('delivery_id', '=', d(i).id).execute();
  return { status: sub.status, events };
}

describe('Amazon SES over SNS', () => {
  it('accepts only https SigningCertURLs on an SNS amazonaws.com host', () => {
    expect(isAwsSnsUrl(CERT_URL)).toBe(true);
    expect(isAwsSnsUrl('http://sns.us-east-1.amazonaws.com/x.pem')).toBe(false);
    expect(isAwsSnsUrl('https://sns.us-east-1.amazonaws.com.evil.net/x.pem')).toBe(false);
    expect(isAwsSnsUrl('https://evil.net/sns.us-east-1.amazonaws.com/x.pem')).toBe(false);
    expect(isAwsSnsUrl('https://user@sns.us-east-1.amazonaws.com/x.pem')).toBe(false);
  });

  it('records a permanent bounce signed with SignatureVersion 2 (SHA256) and suppresses the address', async () => {
    const res = await post('/webhooks/ses', sesBounce(d(0), 'Permanent', 'sns-1'));
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ recorded: 1, duplicates: 0, unmatched: 0 });
    const s = await statusOf(0);
    expect(s.status).toBe('bounced');
    expect(s.events).toHaveLength(1);
    expect(s.events[0]).toMatchObject({ type: 'bounce', subtype: 'hard' });
    const sup = await tdb.db
      .selectFrom('suppressions')
      .selectAll()
      .where('value', '=', d(0).email)
      .executeTakeFirst();
    expect(sup?.reason).toBe('hard_bounce');
  });

  it('records a transient bounce signed with SignatureVersion 1 (SHA1) as soft', async () => {
    const v2 = await post('/webhooks/ses', sesBounce(d(1), 'Transient', 'sns-2'));
    expect(v2.statusCode).toBe(200);
    const v1 = signSns(sesBounce(d(1), 'Transient', 'sns-3'), { version: '1' });
    expect(v1.SignatureVersion).toBe('1');
    const res1 = await post('/webhooks/ses', v1, 'application/json');
    expect(res1.statusCode).toBe(200);
    const s = await statusOf(1);
    expect(s.status).toBe('active');
    expect(s.events.map((e) => e.subtype)).toEqual(['soft', 'soft']);
  });

  it('records a complaint', async () => {
    const res = await post(
      '/webhooks/ses',
      signSns({
        Type: 'Notification',
        MessageId: 'sns-4',
        TopicArn: TOPIC,
        Subject: 'Amazon SES Email Event Notification',
        Timestamp: '2025-07-16T01:00:00.000Z',
        Message: JSON.stringify({
          eventType: 'Complaint',
          complaint: {
            feedbackId: 'c-1',
            complaintFeedbackType: 'abuse',
            timestamp: '2025-07-16T00:59:00.000Z',
            complainedRecipients: [{ emailAddress: d(2).email }],
          },
          mail: { headers: [{ name: 'Message-ID', value: `<${d(2).messageId}>` }] },
        }),
      }),
    );
    expect(res.json()).toEqual({ recorded: 1, duplicates: 0, unmatched: 0 });
    expect((await statusOf(2)).status).toBe('complained');
  });

  it('changes nothing when SNS delivers the same notification again', async () => {
    const before = await statusOf(0);
    const res = await post('/webhooks/ses', sesBounce(d(0), 'Permanent', 'sns-1'));
    expect(res.json()).toEqual({ recorded: 0, duplicates: 1, unmatched: 0 });
    expect((await statusOf(0)).events).toHaveLength(before.events.length);
  });

  it('refuses a message whose content was altered after signing', async () => {
    const msg = sesBounce(d(3), 'Permanent', 'sns-5');
    const altered = { ...msg, Message: (msg.Message as string).replace(d(3).email, d(4).email) };
    const res = await post('/webhooks/ses', altered);
    expect(res.statusCode).toBe(403);
    expect((await statusOf(3)).events).toHaveLength(0);
    expect((await statusOf(4)).events).toHaveLength(0);
  });

  it('refuses a message signed by another key, a foreign certificate URL, an unknown topic or version', async () => {
    const byOther = sesBounce(d(3), 'Permanent', 'sns-6');
    const resigned = signSns({ ...byOther }, { key: otherKeyPem });
    expect((await post('/webhooks/ses', resigned)).statusCode).toBe(403);
    const fetchesBefore = certFetches.length;
    const foreignCert = {
      ...sesBounce(d(3), 'Permanent', 'sns-7'),
      SigningCertURL: 'https://evil.example.net/cert.pem',
    };
    expect((await post('/webhooks/ses', foreignCert)).statusCode).toBe(403);
    expect(certFetches.length).toBe(fetchesBefore); // never fetched from a foreign host
    const otherTopic = signSns({
      ...sesBounce(d(3), 'Permanent', 'sns-8'),
      TopicArn: 'arn:aws:sns:us-east-1:999:other',
    });
    expect((await post('/webhooks/ses', otherTopic)).statusCode).toBe(403);
    const v3 = { ...sesBounce(d(3), 'Permanent', 'sns-9'), SignatureVersion: '3' };
    expect((await post('/webhooks/ses', v3)).statusCode).toBe(403);
    expect((await post('/webhooks/ses', 'not json' as never)).statusCode).toBe(400);
    expect((await statusOf(3)).events).toHaveLength(0);
  });

  it('confirms a signed SubscriptionConfirmation by visiting its SubscribeURL', async () => {
    const subscribeUrl = `https://sns.us-east-1.amazonaws.com/?Action=ConfirmSubscription&TopicArn=${TOPIC}&Token=abc`;
    const msg = signSns({
      Type: 'SubscriptionConfirmation',
      MessageId: 'sub-1',
      TopicArn: TOPIC,
      Token: 'abc',
      Message: `You have chosen to subscribe to the topic ${TOPIC}.`,
      SubscribeURL: subscribeUrl,
      Timestamp: '2025-07-01T00:00:00.000Z',
    });
    const res = await post('/webhooks/ses', msg);
    expect(res.statusCode).toBe(200);
    expect(confirmed).toEqual([subscribeUrl]);
    const forged = { ...msg, SubscribeURL: 'https://evil.example.net/confirm' };
    expect((await post('/webhooks/ses', forged)).statusCode).toBe(403);
    expect(confirmed).toHaveLength(1);
  });

  it('fetches each signing certificate once', () => {
    expect(new Set(certFetches)).toEqual(new Set([CERT_URL]));
    expect(certFetches).toHaveLength(1);
  });
});

describe('Mailgun webhooks (HMAC-signed)', () => {
  function mailgun(eventData: Record<string, unknown>, opts: { key?: string; timestamp?: number } = {}) {
    const timestamp = String(opts.timestamp ?? Math.floor(Date.now() / 1000));
    const token = `tok${Math.random().toString(36).slice(2)}`;
    const signature = createHmac('sha256', opts.key ?? MAILGUN_KEY)
      .update(timestamp + token)
      .digest('hex');
    return { signature: { timestamp, token, signature }, 'event-data': eventData };
  }
  const failed = (i: number, severity: string, id: string) => ({
    id,
    event: 'failed',
    severity,
    recipient: d(i).email,
    timestamp: 1752541964.12,
    message: { headers: { 'message-id': d(i).messageId } },
    'delivery-status': { code: severity === 'permanent' ? 550 : 452, description: 'mailbox unavailable' },
  });

  it('records a permanent failure as a hard bounce and a replay as nothing new', async () => {
    const body = mailgun(failed(4, 'permanent', 'mg-1'));
    const res = await post('/webhooks/mailgun', body, 'application/json');
    expect(res.json()).toEqual({ recorded: 1, duplicates: 0, unmatched: 0 });
    expect((await statusOf(4)).status).toBe('bounced');
    const again = await post('/webhooks/mailgun', body, 'application/json');
    expect(again.json()).toEqual({ recorded: 0, duplicates: 1, unmatched: 0 });
    expect((await statusOf(4)).events).toHaveLength(1);
  });

  it('records a complaint', async () => {
    const res = await post(
      '/webhooks/mailgun',
      mailgun({
        id: 'mg-2',
        event: 'complained',
        recipient: d(5).email,
        timestamp: 1752541999,
        message: { headers: { 'message-id': d(5).messageId } },
      }),
      'application/json',
    );
    expect(res.json()).toMatchObject({ recorded: 1 });
    expect((await statusOf(5)).status).toBe('complained');
  });

  it('refuses a wrong signature or a stale timestamp', async () => {
    const wrong = mailgun(failed(3, 'permanent', 'mg-3'), { key: 'not-the-key' });
    expect((await post('/webhooks/mailgun', wrong, 'application/json')).statusCode).toBe(403);
    const stale = mailgun(failed(3, 'permanent', 'mg-4'), {
      timestamp: Math.floor(Date.now() / 1000) - 3600,
    });
    expect((await post('/webhooks/mailgun', stale, 'application/json')).statusCode).toBe(403);
    expect((await statusOf(3)).events).toHaveLength(0);
  });
});
