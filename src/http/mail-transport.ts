import { join } from 'node:path';
import nodemailer, { type Transporter } from 'nodemailer';
import type { SendMail } from '../../subscribers/mail.js';
import type { Env } from '../config/env.js';
import { pickWeighted, type TransportSpec } from '../delivery/transports.js';
import { startSmtpCatcher } from '../smtp/catcher.js';

/**
 * The SendMail for one-off messages (confirmations, test sends): a relay from the settings while
 * any is enabled (`stored`, read at each send so a change applies at once), else the first
 * SMTP_URL relay, else the in-process catcher writing .eml files under DATA_DIR/outbox.
 */
export async function createSendMail(
  env: Env,
  stored: () => Promise<TransportSpec[]> = async () => [],
): Promise<{ sendMail: SendMail; close(): Promise<void> }> {
  const configured = env.SMTP_URL?.[0]?.replace(/#.*$/, '');
  let catcher: ReturnType<typeof startSmtpCatcher> | undefined;
  const transports = new Map<string, Transporter>();
  const transportFor = (url: string) => {
    let t = transports.get(url);
    if (!t) {
      t = nodemailer.createTransport(url);
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
      const info = await transportFor(await urlNow()).sendMail({ from: env.MAIL_FROM, ...msg });
      return { messageId: info.messageId };
    },
    async close() {
      // Transports are not pooled: each send opens its own connection, so closing holds nothing up.
      for (const t of transports.values()) t.close();
      if (catcher) await (await catcher).close();
    },
  };
}
