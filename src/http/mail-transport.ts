import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import nodemailer, { type Transporter } from 'nodemailer';
import type { SendMail } from '../../subscribers/mail.js';
import type { Env } from '../config/env.js';
import { dkimFromEnv } from '../delivery/dkim.js';
import { buildMimeTemplate } from '../delivery/mime.js';
import { probeEightBit } from '../delivery/relay-connection.js';
import { pickWeighted } from '../delivery/relay-scheduler.js';
import type { RelaySpec } from '../delivery/relay-spec.js';
import { returnPath, type Sender, senderOf } from '../delivery/sender.js';
import { startSmtpCatcher } from '../smtp/catcher.js';

const NO_TOKENS = { name: '', unsubscribeUrl: '', preferencesUrl: '', webVersionUrl: '', trackingToken: '' };

/**
 * The SendMail for one-off messages (confirmations, test sends): a relay from the settings while
 * any is enabled (`stored`, read at each send so a change applies at once), else the first
 * SMTP_URL relay, else the in-process catcher writing .eml files under DATA_DIR/outbox.
 * Each message is built, signed and enveloped as an issue's are (mime.ts, sender.ts): from the
 * publication's sender (`sender`, read at each send), DKIM-signed, with the VERP Return-Path.
 */
export async function createSendMail(
  env: Env,
  stored: () => Promise<RelaySpec[]> = async () => [],
  sender: () => Promise<Sender> = async () => senderOf(undefined, env),
): Promise<{ sendMail: SendMail; close(): Promise<void> }> {
  const configured = env.SMTP_URL?.[0]?.replace(/#.*$/, '');
  const dkim = dkimFromEnv(env);
  let catcher: ReturnType<typeof startSmtpCatcher> | undefined;
  const transports = new Map<string, { mailer: Transporter; eightBit: Promise<boolean> }>();
  const transportFor = (url: string) => {
    let t = transports.get(url);
    if (!t) {
      // Signed mail is 7-bit whatever the relay offers (mime.ts), so only unsigned mail probes.
      const eightBit = dkim ? Promise.resolve(false) : probeEightBit(url).catch(() => false);
      t = { mailer: nodemailer.createTransport(url), eightBit };
      transports.set(url, t);
    }
    return t;
  };
  async function urlNow(): Promise<string> {
    const relays = await stored();
    if (relays.length) return pickWeighted(relays).url;
    if (configured) return configured;
    // Started on first use (and once, however many sends race for it).
    catcher ??= startSmtpCatcher({
      outboxDir: join(env.DATA_DIR, 'outbox'),
      port: env.SMTP_CATCHER_PORT,
      keepInMemory: false,
    });
    return (await catcher).url;
  }
  return {
    sendMail: async (msg) => {
      const from = await sender();
      const transport = transportFor(await urlNow());
      const eightBit = await transport.eightBit;
      const template = buildMimeTemplate(
        { variantKey: 'mail', subject: msg.subject, html: msg.html, text: msg.text },
        { issueId: 0, from: from.from, replyTo: from.replyTo, messageIdDomain: from.domain, eightBit, dkim },
      );
      const messageId = `m.${randomBytes(9).toString('hex')}@${from.domain}`;
      const { raw } = template.render({
        deliveryId: 0,
        address: msg.to,
        name: null,
        tokens: NO_TOKENS,
        messageId,
      });
      await transport.mailer.sendMail({
        envelope: { from: returnPath(env, from), to: [msg.to], use8BitMime: eightBit } as unknown as {
          from: string;
          to: string[];
        },
        raw,
      });
      return { messageId };
    },
    async close() {
      // Transports are not pooled: each send opens its own connection, so closing holds nothing up.
      for (const t of transports.values()) t.mailer.close();
      if (catcher) await (await catcher).close();
    },
  };
}
