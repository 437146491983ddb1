import { generateKeyPairSync } from 'node:crypto';
import { simpleParser } from 'mailparser';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Env } from '../../src/config/env.js';
import { loadSender } from '../../src/delivery/sender.js';
import { createSendMail } from '../../src/http/mail-transport.js';
import { ensurePublication, updatePublication } from '../../src/publication/index.js';
import { type SmtpCatcher, startSmtpCatcher } from '../../src/smtp/catcher.js';
import { confirmationMail } from '../../subscribers/confirmation-mail.js';
import { checkWithPython, pythonDkimReady } from '../support/python-mail.js';
import { createTestDatabase, type TestDatabase } from '../support/test-db.js';
import { testEnv } from '../support/test-env.js';

/**
 * Mail that is no delivery (confirmations, "send a test to me") goes out as an issue does: from
 * the publication's sender as saved in the settings, DKIM-signed, with the VERP Return-Path.
 */
const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const hasDkim = pythonDkimReady();
let tdb: TestDatabase;
let sink: SmtpCatcher;
let env: Env;

beforeAll(async () => {
  tdb = await createTestDatabase();
  sink = await startSmtpCatcher({ keepInMemory: true });
  env = testEnv({
    SMTP_URL: sink.url,
    MAIL_FROM: 'Env Default <env-default@example.org>',
    BOUNCE_DOMAIN: 'bounces.example.org',
    DKIM_DOMAIN: 'example.org',
    DKIM_SELECTOR: 'gz',
    DKIM_PRIVATE_KEY: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
  });
  await ensurePublication(tdb.db, env);
  await updatePublication(tdb.db, {
    fromName: '数字科技与人工智能专业委员会',
    fromEmail: 'news@example.org',
  });
});

afterAll(async () => {
  await sink.close();
  await tdb.drop();
});

describe('one-off mail', () => {
  it('a confirmation mail: publication sender, VERP Return-Path, DKIM that dkimpy verifies, no MIME defects', async () => {
    const mail = await createSendMail(
      env,
      async () => [],
      () => loadSender(tdb.db, env),
    );
    try {
      const msg = confirmationMail('zh-CN', '数字科技月报', 'https://n.example/confirm/tok.sig', 48);
      const { messageId } = await mail.sendMail({ to: 'new.reader@example.net', ...msg });
      const caught = sink.messages.find((m) => m.to.includes('new.reader@example.net'));
      expect(caught?.from).toBe('bounce+mail@bounces.example.org');
      const parsed = await simpleParser(caught?.raw as Buffer);
      expect(parsed.from?.value[0]).toEqual({
        name: '数字科技与人工智能专业委员会',
        address: 'news@example.org',
      });
      expect(parsed.messageId).toBe(`<${messageId}>`);
      expect(parsed.subject).toBe(msg.subject);
      expect(parsed.text).toContain('https://n.example/confirm/tok.sig');
      // No list headers on a confirmation: it is not list mail.
      expect(parsed.headers.has('list')).toBe(false);
      expect(caught?.raw.toString('latin1')).toMatch(
        /^DKIM-Signature: v=1; a=rsa-sha256; c=relaxed\/relaxed; d=example.org;/,
      );
      if (hasDkim) {
        expect(checkWithPython(caught?.raw as Buffer, publicKey)).toEqual({
          verified: true,
          defects: [],
          downgraded: false,
        });
        expect(checkWithPython(caught?.raw as Buffer, publicKey, { downgrade: true }).verified).toBe(true);
      }
    } finally {
      await mail.close();
    }
  });

  it('follows the sender saved in the settings at each send', async () => {
    const mail = await createSendMail(
      env,
      async () => [],
      () => loadSender(tdb.db, env),
    );
    try {
      await updatePublication(tdb.db, { fromName: 'Test Desk', fromEmail: 'desk@example.org' });
      await mail.sendMail({ to: 'editor@example.net', subject: '[TEST] 月报', text: 'x', html: '<p>x</p>' });
      const caught = sink.messages.find((m) => m.to.includes('editor@example.net'));
      const parsed = await simpleParser(caught?.raw as Buffer);
      expect(parsed.from?.value[0]).toEqual({ name: 'Test Desk', address: 'desk@example.org' });
      expect(caught?.from).toBe('bounce+mail@bounces.example.org');
    } finally {
      await mail.close();
    }
  });
});
