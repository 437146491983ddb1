import type { FastifyInstance } from 'fastify';
import { simpleParser } from 'mailparser';
import nodemailer from 'nodemailer';
import type { Env } from '../../src/config/env.js';
import { type AppContext, createContext } from '../../src/context.js';
import type { Db } from '../../src/db/schema.js';
import { buildServer } from '../../src/http/server.js';
import { silentLogger } from '../../src/log.js';
import { MODEL_SECTIONS, upsertSection } from '../../src/publication/index.js';
import { type SmtpCatcher, startSmtpCatcher } from '../../src/smtp/catcher.js';
import type { SendMail } from '../../subscribers/mail.js';
import { createTestDatabase, type TestDatabase } from '../support/test-db.js';
import { testEnv } from '../support/test-env.js';

/** The model newsletter's four sections, seeded the way the product stores them. */
export async function seedModelSections(db: Db): Promise<void> {
  for (const section of MODEL_SECTIONS) await upsertSection(db, section);
}

export interface Harness {
  testDb: TestDatabase;
  ctx: AppContext;
  env: Env;
  app: FastifyInstance;
  smtp: SmtpCatcher;
  sendMail: SendMail;
  /** A controllable clock: tests move it forward to expire links. */
  clock: { now: Date };
  /** Parsed messages the SMTP peer caught so far. */
  mails(): Promise<{ to: string; subject: string; text: string; html: string }[]>;
  close(): Promise<void>;
}

/** Real PostgreSQL schema, real SMTP peer via nodemailer, the real Fastify server. */
export async function startHarness(envOverrides: Record<string, string> = {}): Promise<Harness> {
  const testDb = await createTestDatabase();
  const env = testEnv({ PUBLIC_URL: 'https://news.example.org', ...envOverrides });
  const clock = { now: new Date() };
  const ctx = await createContext(env, { log: silentLogger, schema: testDb.schema, now: () => clock.now });
  await seedModelSections(ctx.db);
  const smtp = await startSmtpCatcher();
  const transport = nodemailer.createTransport({
    host: '127.0.0.1',
    port: smtp.port,
    secure: false,
    ignoreTLS: true,
  });
  const sendMail: SendMail = async (msg) => {
    const info = await transport.sendMail({ from: env.MAIL_FROM, ...msg });
    return { messageId: info.messageId };
  };
  const app = await buildServer({ ctx, sendMail });
  return {
    testDb,
    ctx,
    env,
    app,
    smtp,
    sendMail,
    clock,
    async mails() {
      return Promise.all(
        smtp.messages.map(async (m) => {
          const parsed = await simpleParser(m.raw);
          return {
            to: m.to.join(','),
            subject: parsed.subject ?? '',
            text: parsed.text ?? '',
            html: typeof parsed.html === 'string' ? parsed.html : '',
          };
        }),
      );
    },
    async close() {
      await app.close();
      transport.close();
      await smtp.close();
      await ctx.close();
      await testDb.drop();
    },
  };
}

export function form(fields: Record<string, string | string[]>): string {
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(fields)) for (const value of [v].flat()) params.append(k, value);
  return params.toString();
}

export const FORM = { 'content-type': 'application/x-www-form-urlencoded' };

/** The path of the first link in `text` that starts with PUBLIC_URL + prefix. */
export function linkPath(text: string, prefix: string): string {
  const match = text.match(new RegExp(`https://news\\.example\\.org(${prefix}[A-Za-z0-9_.\\-/]+)`));
  if (!match?.[1]) throw new Error(`no ${prefix} link in:\n${text}`);
  return match[1];
}
