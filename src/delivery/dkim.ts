import { createHash, createPrivateKey, createSign, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { ConfigError, type Env } from '../config/env.js';

/**
 * DKIM signing (RFC 6376, rsa-sha256, relaxed/relaxed) of a finished message. Our own signer
 * rather than nodemailer's because nodemailer cannot over-sign: h= must name From, Subject,
 * List-Unsubscribe and List-Unsubscribe-Post once more than they occur, so a copy added on the
 * way (a second Subject, a forged List-Unsubscribe) breaks the signature (§5.4.2, §8.15).
 */

export interface DkimConfig {
  domainName: string;
  keySelector: string;
  /** PEM text. */
  privateKey: string;
}

export interface DkimSigner {
  domain: string;
  /** The message with a DKIM-Signature header in front. */
  sign(raw: Buffer, now?: Date): Buffer;
}

/** Signed when present, in this order. */
const SIGNED = [
  'from',
  'reply-to',
  'to',
  'subject',
  'date',
  'message-id',
  'mime-version',
  'content-type',
  'list-id',
  'list-unsubscribe',
  'list-unsubscribe-post',
  'feedback-id',
];
/** Listed once more than they occur: nobody may add one. */
const OVERSIGNED = new Set(['from', 'subject', 'list-unsubscribe', 'list-unsubscribe-post']);

interface HeaderField {
  name: string;
  /** The whole field as sent, folds included, without the final CRLF. */
  raw: string;
}

/** Splits the header block (latin1, so bytes stay bytes) into fields, folds kept. */
export function headerFields(head: string): HeaderField[] {
  const out: HeaderField[] = [];
  for (const line of head.split('\r\n')) {
    if (/^[ \t]/.test(line) && out.length) (out[out.length - 1] as HeaderField).raw += `\r\n${line}`;
    else if (line) out.push({ name: line.slice(0, line.indexOf(':')).trim().toLowerCase(), raw: line });
  }
  return out;
}

/** §3.4.2 relaxed header canonicalization, without the CRLF. */
export function relaxedHeader(field: string): string {
  const colon = field.indexOf(':');
  const name = field.slice(0, colon).trim().toLowerCase();
  const value = field
    .slice(colon + 1)
    .replace(/\r\n/g, '')
    .replace(/[ \t]+/g, ' ')
    .trim();
  return `${name}:${value}`;
}

/** §3.4.4 relaxed body canonicalization. */
export function relaxedBody(body: string): string {
  const lines = body.split('\r\n').map((l) => l.replace(/[ \t]+/g, ' ').replace(/ $/, ''));
  while (lines.length && lines[lines.length - 1] === '') lines.pop();
  return lines.length ? `${lines.join('\r\n')}\r\n` : '';
}

/** The h= list: each signed name as often as it occurs (over-signed names once more). */
export function signedNames(fields: HeaderField[]): string[] {
  const names: string[] = [];
  for (const name of SIGNED) {
    const count = fields.filter((f) => f.name === name).length + (OVERSIGNED.has(name) ? 1 : 0);
    for (let i = 0; i < count; i++) names.push(name);
  }
  return names;
}

function fold(tags: string[]): string {
  // Folded between tags; relaxed canonicalization turns each fold into the one space it replaces.
  const lines: string[] = [];
  let line = 'DKIM-Signature:';
  for (const tag of tags) {
    if (line.length + tag.length + 1 > 76) {
      lines.push(line);
      line = '';
    }
    line += ` ${tag}`;
  }
  lines.push(line);
  return lines.join('\r\n');
}

export function createDkimSigner(cfg: DkimConfig): DkimSigner {
  const key: KeyObject = createPrivateKey(cfg.privateKey);
  return {
    domain: cfg.domainName,
    sign(raw, now = new Date()) {
      const text = raw.toString('latin1');
      const split = text.indexOf('\r\n\r\n');
      const head = split < 0 ? text : text.slice(0, split);
      const body = split < 0 ? '' : text.slice(split + 4);
      const fields = headerFields(head);
      const names = signedNames(fields);
      const bh = createHash('sha256').update(relaxedBody(body), 'latin1').digest('base64');
      const header = fold([
        'v=1;',
        'a=rsa-sha256;',
        'c=relaxed/relaxed;',
        `d=${cfg.domainName};`,
        `s=${cfg.keySelector};`,
        `t=${Math.floor(now.getTime() / 1000)};`,
        `h=${names.join(':')};`,
        `bh=${bh};`,
        'b=',
      ]);
      // Each listed name takes the next instance from the bottom (§5.4.2); an over-signed
      // name with none left contributes nothing.
      const used = new Set<HeaderField>();
      let data = '';
      for (const name of names) {
        const field = fields.filter((f) => f.name === name && !used.has(f)).pop();
        if (!field) continue;
        used.add(field);
        data += `${relaxedHeader(field.raw)}\r\n`;
      }
      data += relaxedHeader(header);
      const b = createSign('RSA-SHA256').update(data, 'latin1').sign(key, 'base64');
      const folded = b.replace(/.{1,72}/g, (chunk, at: number) => (at === 0 ? chunk : `\r\n ${chunk}`));
      return Buffer.concat([Buffer.from(`${header}${folded}\r\n`, 'latin1'), raw]);
    },
  };
}

/**
 * The signer DKIM_* configure, or none when they are unset (env.ts refuses a partial set). The
 * key is PEM text (`\n` escapes allowed) or a path to a PEM file; a key that cannot be read or
 * parsed stops the start, naming the variable.
 */
export function dkimFromEnv(env: Env): DkimSigner | undefined {
  if (!env.DKIM_DOMAIN || !env.DKIM_SELECTOR || !env.DKIM_PRIVATE_KEY) return undefined;
  let pem: string;
  try {
    pem = env.DKIM_PRIVATE_KEY.includes('-----BEGIN')
      ? env.DKIM_PRIVATE_KEY.replace(/\\n/g, '\n')
      : readFileSync(env.DKIM_PRIVATE_KEY, 'utf8');
  } catch (err) {
    throw new ConfigError([
      `DKIM_PRIVATE_KEY: not PEM text and not a readable file (${(err as Error).message})`,
    ]);
  }
  try {
    return createDkimSigner({ domainName: env.DKIM_DOMAIN, keySelector: env.DKIM_SELECTOR, privateKey: pem });
  } catch {
    throw new ConfigError(['DKIM_PRIVATE_KEY: not a PEM private key']);
  }
}
