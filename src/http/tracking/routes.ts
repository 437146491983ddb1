import type { FastifyPluginAsync, FastifyReply } from 'fastify';
import type { SecretKeys } from '../../config/secret.js';
import type { Db } from '../../db/schema.js';
import { publicAccess } from '../auth/access.js';
import type { Logger } from '../../log.js';
import { verifyLinkToken } from '../../security/link-tokens.js';
import { EventWriter } from '../../tracking/event-writer.js';
import { type FeedbackOutcome, type MailFeedback, recordFeedback } from '../../tracking/feedback.js';
import { isHttpUrl } from '../../tracking/issue-links.js';
import { LinkCache } from '../../tracking/link-cache.js';
import { feedbackFromMailgun, feedbackFromSes, verifyMailgunSignature } from '../../tracking/providers.js';
import { detectMailProxy } from '../../tracking/proxy.js';
import {
  type CertificateFetcher,
  createSnsVerifier,
  fetchCertificateOverHttps,
  isAwsSnsUrl,
  parseSnsMessage,
  SnsVerificationError,
} from '../../tracking/sns.js';
import { issueStatistics } from '../../tracking/stats.js';

export interface TrackingRoutesOptions {
  db: Db;
  log: Logger;
  secrets: SecretKeys;
  /** Shared writer (so the owner can flush/close it); one is made and closed with the server if absent. */
  writer?: EventWriter;
  /** SES over SNS: the signing certificate fetcher (tests inject one) and the topics accepted (empty = any). */
  fetchCertificate?: CertificateFetcher;
  snsTopicArns?: string[];
  /** Visits SubscribeURL to confirm an SNS subscription; default a GET over https. */
  confirmSnsSubscription?: (url: string) => Promise<void>;
  /** Mailgun webhook signing key; the route answers 503 without it. */
  mailgunSigningKey?: string;
  now?: () => Date;
}

/** The smallest transparent GIF (1x1, 43 bytes). */
export const PIXEL_GIF = Buffer.from('R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7', 'base64');

const NO_STORE = 'no-store, no-cache, must-revalidate, private, max-age=0';

function page(reply: FastifyReply, code: number, title: string, text: string) {
  return reply
    .code(code)
    .header('cache-control', NO_STORE)
    .type('text/html; charset=utf-8')
    .send(
      `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="robots" content="noindex"><title>${title}</title></head><body><h1>${title}</h1><p>${text}</p></body></html>`,
    );
}

const defaultConfirm = async (url: string) => {
  const res = await fetch(url, { redirect: 'error', signal: AbortSignal.timeout(5000) });
  if (!res.ok) throw new Error(`SNS subscription confirmation failed: HTTP ${res.status}`);
};

/**
 * Open pixel, click redirect, provider webhooks and the statistics endpoint. The pixel and the
 * redirect never wait for the database on the hot path: the token is an HMAC check, links come
 * from an in-memory cache, and events go to the batched EventWriter.
 *
 * NOTE for the lead: GET /api/issues/:id/stats is an admin route and is not protected here.
 */
export const trackingRoutes: FastifyPluginAsync<TrackingRoutesOptions> = async (app, opts) => {
  const { db, log, secrets } = opts;
  const now = opts.now ?? (() => new Date());
  const writer = opts.writer ?? new EventWriter({ db, log });
  if (!opts.writer) app.addHook('onClose', async () => writer.close());
  const links = new LinkCache(db);

  app.get<{ Params: { file: string } }>('/t/o/:file', async (req, reply) => {
    reply.code(200).header('cache-control', NO_STORE).type('image/gif');
    const token = req.params.file.endsWith('.gif') ? req.params.file.slice(0, -4) : req.params.file;
    try {
      const t = verifyLinkToken(secrets, token, 'trk');
      const proxy = detectMailProxy(req.headers['user-agent'], req.ip);
      writer.add({
        type: 'open',
        subtype: null,
        deliveryId: t.d,
        issueId: t.i,
        subscriberId: t.s,
        dedupeKey: proxy ? `open:${t.d}:proxy` : `open:${t.d}`,
        proxied: proxy !== undefined,
        detail: proxy ? { proxy } : {},
        occurredAt: now(),
      });
    } catch {
      // A bad token still gets the image: the reader sees nothing wrong, and nothing is recorded.
    }
    return reply.send(PIXEL_GIF);
  });

  app.get<{ Params: { token: string; linkId: string } }>('/t/c/:token/:linkId', async (req, reply) => {
    let t: { d: number; s: number; i: number };
    try {
      t = verifyLinkToken(secrets, req.params.token, 'trk');
    } catch {
      return page(
        reply,
        400,
        'Link not valid',
        'This link was altered or was not issued by this newsletter.',
      );
    }
    if (!/^\d{1,9}$/.test(req.params.linkId)) {
      return page(
        reply,
        400,
        'Link not valid',
        'This link was altered or was not issued by this newsletter.',
      );
    }
    const linkId = Number(req.params.linkId);
    const link = await links.get(t.i, linkId);
    // Only a URL registered for this delivery's issue: never an open redirect.
    if (!link || link.issueId !== t.i || !isHttpUrl(link.url)) {
      return page(reply, 404, 'Link not found', 'This link does not belong to this newsletter issue.');
    }
    writer.add({
      type: 'click',
      deliveryId: t.d,
      issueId: t.i,
      subscriberId: t.s,
      linkId,
      dedupeKey: `click:${t.d}:${linkId}`,
      occurredAt: now(),
    });
    return reply
      .header('cache-control', NO_STORE)
      .header('referrer-policy', 'no-referrer')
      .redirect(link.url, 302);
  });

  app.get<{ Params: { id: string } }>('/api/issues/:id/stats', async (req, reply) => {
    if (!/^\d{1,9}$/.test(req.params.id)) return reply.code(400).send({ error: 'issue id must be a number' });
    const id = Number(req.params.id);
    const exists = await db.selectFrom('issues').select('id').where('id', '=', id).executeTakeFirst();
    if (!exists) return reply.code(404).send({ error: `issue ${id} not found` });
    await writer.flush(); // include what is still queued
    return reply.send(await issueStatistics(db, id));
  });

  await app.register(async (hooks) => {
    // Providers sign the exact bytes they send; take the body as text and parse it here.
    hooks.removeContentTypeParser(['application/json', 'text/plain']);
    hooks.addContentTypeParser(
      ['application/json', 'text/plain'],
      { parseAs: 'string', bodyLimit: 1024 * 1024 },
      (_req, body, done) => done(null, body),
    );

    const verifier = createSnsVerifier(opts.fetchCertificate ?? fetchCertificateOverHttps);
    const confirm = opts.confirmSnsSubscription ?? defaultConfirm;
    const topics = opts.snsTopicArns ?? [];

    async function record(all: MailFeedback[]) {
      const outcomes: FeedbackOutcome[] = [];
      for (const fb of all) outcomes.push(await recordFeedback(db, log, fb));
      return {
        recorded: outcomes.filter((o) => o.result === 'recorded').length,
        duplicates: outcomes.filter((o) => o.result === 'duplicate').length,
        unmatched: outcomes.filter((o) => o.result === 'unmatched').length,
      };
    }

    hooks.post(
      '/webhooks/ses',
      { config: { access: publicAccess('SNS signature verified') } },
      async (req, reply) => {
        let msg: ReturnType<typeof parseSnsMessage>;
        try {
          msg = parseSnsMessage(req.body);
        } catch (err) {
          return reply.code(400).send({ error: (err as Error).message });
        }
        if (topics.length && !topics.includes(msg.TopicArn)) {
          log.warn({ event: 'tracking.ses.topic_refused', topicArn: msg.TopicArn }, 'SNS topic not allowed');
          return reply.code(403).send({ error: 'topic not accepted' });
        }
        try {
          await verifier.verify(msg);
        } catch (err) {
          if (!(err instanceof SnsVerificationError))
            log.error(
              { event: 'tracking.ses.cert_failed', err: (err as Error).message },
              'certificate fetch failed',
            );
          log.warn(
            { event: 'tracking.ses.signature_refused', reason: (err as Error).message },
            'SNS message refused',
          );
          return reply.code(403).send({ error: 'signature not valid' });
        }
        if (msg.Type === 'SubscriptionConfirmation') {
          if (!isAwsSnsUrl(msg.SubscribeURL))
            return reply.code(400).send({ error: 'SubscribeURL is not an SNS URL' });
          await confirm(msg.SubscribeURL as string);
          log.info(
            { event: 'tracking.ses.subscribed', topicArn: msg.TopicArn },
            'SNS subscription confirmed',
          );
          return reply.send({ confirmed: true });
        }
        if (msg.Type !== 'Notification') return reply.send({ ignored: msg.Type });
        let payload: unknown;
        try {
          payload = JSON.parse(msg.Message);
        } catch {
          return reply.code(400).send({ error: 'SNS Message is not JSON' });
        }
        return reply.send(await record(feedbackFromSes(payload, msg.MessageId)));
      },
    );

    hooks.post(
      '/webhooks/mailgun',
      { config: { access: publicAccess('Mailgun HMAC signature verified') } },
      async (req, reply) => {
        if (!opts.mailgunSigningKey)
          return reply
            .code(503)
            .send({ error: 'Mailgun webhooks are not configured (MAILGUN_WEBHOOK_SIGNING_KEY)' });
        let body: Record<string, unknown>;
        try {
          body = JSON.parse(String(req.body)) as Record<string, unknown>;
        } catch {
          return reply.code(400).send({ error: 'body is not JSON' });
        }
        if (!verifyMailgunSignature(opts.mailgunSigningKey, body?.signature, { now: now() })) {
          log.warn({ event: 'tracking.mailgun.signature_refused' }, 'Mailgun webhook refused');
          return reply.code(403).send({ error: 'signature not valid' });
        }
        return reply.send(await record(feedbackFromMailgun(body['event-data'])));
      },
    );
  });
};
