import { join } from 'node:path';
import nodemailer from 'nodemailer';
import type { SendMail } from '../../subscribers/mail.js';
import type { Env } from '../config/env.js';
import { startSmtpCatcher } from '../smtp/catcher.js';

/**
 * The SendMail the web server uses when run on its own (`gazette serve`): the first SMTP_URL
 * relay, or the in-process catcher writing .eml files under DATA_DIR/outbox when none is set.
 */
export async function createSendMail(env: Env): Promise<{ sendMail: SendMail; close(): Promise<void> }> {
  let url = env.SMTP_URL?.[0]?.replace(/#.*$/, '');
  let closeCatcher: (() => Promise<void>) | undefined;
  if (!url) {
    const catcher = await startSmtpCatcher({
      outboxDir: join(env.DATA_DIR, 'outbox'),
      port: env.SMTP_CATCHER_PORT,
      keepInMemory: false,
    });
    url = catcher.url;
    closeCatcher = catcher.close;
  }
  const transport = nodemailer.createTransport(url);
  return {
    sendMail: async (msg) => {
      const info = await transport.sendMail({ from: env.MAIL_FROM, ...msg });
      return { messageId: info.messageId };
    },
    async close() {
      transport.close();
      await closeCatcher?.();
    },
  };
}
