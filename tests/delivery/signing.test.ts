import { generateKeyPairSync } from 'node:crypto';
import { simpleParser } from 'mailparser';
import { beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, parseEnv } from '../../src/config/env.js';
import { createDkimSigner, type DkimSigner, headerFields } from '../../src/delivery/dkim.js';
import { buildMimeTemplate, encodeHeaderText, type RecipientValues } from '../../src/delivery/mime.js';
import { feedbackSender } from '../../src/delivery/sender.js';
import { type CompiledVariant, compileVariant } from '../../src/rendering/index.js';
import { loadModelIssue } from '../support/model-issue.js';
import { checkAllWithPython, checkWithPython, pythonDkimReady } from '../support/python-mail.js';
import { MODEL_DOCUMENT, sharedFixture } from '../support/shared.js';

const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const PEM = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
const signer: DkimSigner = createDkimSigner({
  domainName: 'example.org',
  keySelector: 'gz',
  privateKey: PEM,
});
const hasDkim = pythonDkimReady();

const recipient: RecipientValues = {
  deliveryId: 42,
  address: 'reader@example.net',
  name: '张三',
  oneClickUnsubscribeUrl: 'https://n.example/u/tok.sig',
  unsubscribeMailto: 'mailto:unsubscribe@bounces.example.org?subject=unsubscribe%20tok.sig',
  tokens: {
    name: '张三',
    unsubscribeUrl: 'https://n.example/unsubscribe/tok.sig',
    preferencesUrl: 'https://n.example/preferences/p.sig',
    webVersionUrl: 'https://n.example/web/w.sig',
    trackingToken: 'trk.sig',
  },
};
const opts = {
  issueId: 7,
  from: '数字科技与人工智能专业委员会 <news@example.org>',
  messageIdDomain: 'example.org',
  listId: 'Digest <digest.example.org>',
  feedbackId: '7:1:newsletter:exampleorg',
};

let zh: CompiledVariant;
let en: CompiledVariant;
const modelDocument = sharedFixture(MODEL_DOCUMENT);

beforeAll(async () => {
  if (!modelDocument.present) return;
  const issue = loadModelIssue();
  const keys = issue.sections.map((s) => s.key);
  zh = await compileVariant(issue, { sectionKeys: keys, locale: 'zh-CN', publicUrl: 'https://n.example' });
  en = await compileVariant(issue, { sectionKeys: keys, locale: 'en', publicUrl: 'https://n.example' });
});

const headOf = (raw: Buffer) => raw.toString('latin1').split('\r\n\r\n')[0] as string;
const hTag = (raw: Buffer) =>
  (/h=([^;]+);/.exec(headOf(raw).replace(/\r\n[ \t]/g, ' '))?.[1] ?? '').replace(/\s/g, '').split(':');

describe.skipIf(!modelDocument.present)('signed mail (RFC 6376)', () => {
  it('is 7-bit safe even when the relay offers 8BITMIME, taking the smaller of base64 and QP per part', () => {
    for (const v of [zh, en]) {
      const t = buildMimeTemplate(v, { ...opts, eightBit: true, dkim: signer });
      const { raw } = t.render(recipient);
      expect(t.eightBit).toBe(false);
      expect([...raw].every((b) => b < 0x80)).toBe(true);
      const unsigned7 = buildMimeTemplate(v, { ...opts, eightBit: false }).render(recipient).raw;
      // The same bytes as an unsigned 7-bit message, plus the signature header.
      expect(raw.length - unsigned7.length).toBeLessThan(1200);
    }
    const zhRaw = buildMimeTemplate(zh, { ...opts, eightBit: true, dkim: signer }).render(recipient).raw;
    const enRaw = buildMimeTemplate(en, { ...opts, eightBit: true, dkim: signer }).render(recipient).raw;
    expect(headOf(zhRaw)).not.toContain('quoted-printable');
    expect(zhRaw.toString('latin1')).toMatch(
      /Content-Type: text\/html; charset=utf-8\r\nContent-Transfer-Encoding: base64/,
    );
    expect(enRaw.toString('latin1')).toMatch(/Content-Transfer-Encoding: (base64|quoted-printable)/);
  });

  it('unsigned mail to an 8BITMIME relay stays 8bit (no signature to break)', () => {
    const t = buildMimeTemplate(zh, { ...opts, eightBit: true });
    expect(t.eightBit).toBe(true);
  });

  it('signs Feedback-ID and over-signs From, Subject, List-Unsubscribe and List-Unsubscribe-Post', () => {
    const { raw } = buildMimeTemplate(zh, { ...opts, eightBit: false, dkim: signer }).render(recipient);
    const h = hTag(raw);
    const count = (n: string) => h.filter((x) => x === n).length;
    expect(count('from')).toBe(2);
    expect(count('subject')).toBe(2);
    expect(count('list-unsubscribe')).toBe(2);
    expect(count('list-unsubscribe-post')).toBe(2);
    expect(count('feedback-id')).toBe(1);
    for (const n of ['to', 'date', 'message-id', 'mime-version', 'content-type', 'list-id'])
      expect(count(n)).toBe(1);
    const fields = headerFields(headOf(raw));
    expect(fields.find((f) => f.name === 'list-unsubscribe')?.raw).toBe(
      `List-Unsubscribe: <${recipient.unsubscribeMailto}>,\r\n <${recipient.oneClickUnsubscribeUrl}>`,
    );
  });

  it.runIf(hasDkim)(
    'verifies with dkimpy, also after a relay without 8BITMIME re-encodes it; a second Subject or List-Unsubscribe breaks it',
    () => {
      const signed = [zh, en].map(
        (v) => buildMimeTemplate(v, { ...opts, eightBit: true, dkim: signer }).render(recipient).raw,
      );
      const tampered = signed.flatMap((raw) => {
        const text = raw.toString('latin1');
        const at = text.indexOf('\r\nTo: ') + 2;
        return ['Subject: Win a prize\r\n', 'List-Unsubscribe: <https://evil.example/u>\r\n'].map((extra) =>
          Buffer.from(text.slice(0, at) + extra + text.slice(at), 'latin1'),
        );
      });
      const ok = { verified: true, defects: [], downgraded: false };
      const broken = { verified: false, defects: [], downgraded: false };
      expect(checkAllWithPython([...signed, ...tampered], publicKey)).toEqual([
        ok,
        ok,
        broken,
        broken,
        broken,
        broken,
      ]);
      // Nothing 8bit to re-encode: the relay passes it on as signed.
      expect(checkAllWithPython(signed, publicKey, { downgrade: true })).toEqual([ok, ok]);
    },
    120_000,
  );

  it.runIf(hasDkim)(
    'control: the same message signed as 8bit fails after the relay re-encodes it',
    () => {
      const eightBit = buildMimeTemplate(zh, { ...opts, eightBit: true }).render(recipient).raw;
      const signed = signer.sign(eightBit);
      expect(checkWithPython(signed, publicKey).verified).toBe(true);
      const after = checkWithPython(signed, publicKey, { downgrade: true });
      expect(after.downgraded).toBe(true);
      expect(after.verified).toBe(false);
    },
    120_000,
  );
});

describe.skipIf(!modelDocument.present)('headers', () => {
  it('folds RFC 2047 encoded words at 75 characters, whole characters per word', async () => {
    const subject = `${zh.subject} ${'数字科技与人工智能每月资讯'.repeat(4)} 🎉 end`;
    const value = encodeHeaderText(subject);
    const lines = `Subject: ${value}`.split('\r\n');
    expect(lines.length).toBeGreaterThan(2);
    for (const line of lines) expect(line.length).toBeLessThanOrEqual(76);
    for (const word of value.match(/=\?[^?]+\?B\?[^?]*\?=/g) ?? []) {
      expect(word.length).toBeLessThanOrEqual(75);
      // Each word decodes to valid UTF-8 on its own.
      const bytes = Buffer.from(word.slice(10, -2), 'base64');
      expect(bytes.toString('utf8')).not.toContain('\uFFFD');
    }
    const { raw } = buildMimeTemplate({ ...zh, subject }, { ...opts, eightBit: false }).render(recipient);
    expect((await simpleParser(raw)).subject).toBe(subject);
  });

  it('keeps the Feedback-ID sender within 5–15 characters', () => {
    expect(feedbackSender(undefined, 'example.org')).toBe('exampleorg');
    expect(feedbackSender(undefined, 'lawyers-association-of-shanghai.org.cn')).toHaveLength(15);
    expect(feedbackSender(undefined, 'a.cn')).toHaveLength(5);
    expect(feedbackSender('gazette1', 'example.org')).toBe('gazette1');
  });
});

describe('DKIM configuration', () => {
  const base = { MAIL_FROM: 'Gazette <news@example.org>' };
  const problems = (env: Record<string, string>) => {
    try {
      parseEnv(env);
      return [];
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      return err.problems;
    }
  };

  it('refuses a partial setup, naming each missing variable', () => {
    const p = problems({ ...base, DKIM_DOMAIN: 'example.org' });
    expect(p.some((l) => l.startsWith('DKIM_SELECTOR: required'))).toBe(true);
    expect(p.some((l) => l.startsWith('DKIM_PRIVATE_KEY: required'))).toBe(true);
    expect(problems({ ...base, DKIM_SELECTOR: 'gz', DKIM_PRIVATE_KEY: PEM })).toEqual([
      expect.stringMatching(/^DKIM_DOMAIN: required because DKIM_SELECTOR and DKIM_PRIVATE_KEY are set/),
    ]);
  });

  it('refuses a DKIM domain that does not align with From, and accepts one that does', () => {
    const full = { DKIM_SELECTOR: 'gz', DKIM_PRIVATE_KEY: PEM };
    expect(problems({ ...base, ...full, DKIM_DOMAIN: 'other.example' })).toEqual([
      expect.stringMatching(/^DKIM_DOMAIN: does not align with MAIL_FROM's domain example.org/),
    ]);
    expect(problems({ ...base, ...full, DKIM_DOMAIN: 'example.org' })).toEqual([]);
    expect(problems({ MAIL_FROM: 'news@mail.example.org', ...full, DKIM_DOMAIN: 'example.org' })).toEqual([]);
  });

  it('does not echo the private key in its messages, and checks FEEDBACK_ID_SENDER', () => {
    const p = problems({ ...base, DKIM_PRIVATE_KEY: PEM });
    expect(p.join('\n')).not.toContain('BEGIN');
    expect(problems({ ...base, FEEDBACK_ID_SENDER: 'abc' })).toEqual([
      expect.stringMatching(/^FEEDBACK_ID_SENDER: must be 5–15/),
    ]);
  });
});
