import { createVerify } from 'node:crypto';

/**
 * Amazon SNS message verification, following AWS's "Verifying the signatures of Amazon SNS
 * messages": rebuild the canonical string from the named fields, fetch the signing certificate
 * only from an https URL on an SNS host, and check the RSA signature (SignatureVersion 1 = SHA1,
 * 2 = SHA256).
 */

export interface SnsMessage {
  Type: 'Notification' | 'SubscriptionConfirmation' | 'UnsubscribeConfirmation' | string;
  MessageId: string;
  TopicArn: string;
  Message: string;
  Timestamp: string;
  SignatureVersion: string;
  Signature: string;
  SigningCertURL: string;
  Subject?: string;
  Token?: string;
  SubscribeURL?: string;
  UnsubscribeURL?: string;
}

export class SnsVerificationError extends Error {
  override name = 'SnsVerificationError';
}

/** Fetches a PEM certificate; injected so tests need no network. */
export type CertificateFetcher = (url: string) => Promise<string>;

const SNS_HOST = /^sns\.[a-z0-9-]+\.amazonaws\.com(?:\.cn)?$/;

/** The signing certificate (and the subscribe URL) must be https on an SNS host of amazonaws.com. */
export function isAwsSnsUrl(value: string | undefined): boolean {
  if (!value) return false;
  try {
    const u = new URL(value);
    return (
      u.protocol === 'https:' &&
      SNS_HOST.test(u.hostname) &&
      !u.username &&
      !u.password &&
      (u.port === '' || u.port === '443')
    );
  } catch {
    return false;
  }
}

const NOTIFICATION_FIELDS = ['Message', 'MessageId', 'Subject', 'Timestamp', 'TopicArn', 'Type'] as const;
const SUBSCRIPTION_FIELDS = [
  'Message',
  'MessageId',
  'SubscribeURL',
  'Timestamp',
  'Token',
  'TopicArn',
  'Type',
] as const;

export function snsStringToSign(msg: SnsMessage): string {
  const fields = msg.Type === 'Notification' ? NOTIFICATION_FIELDS : SUBSCRIPTION_FIELDS;
  let out = '';
  for (const f of fields) {
    const v = (msg as unknown as Record<string, unknown>)[f];
    if (v === undefined || v === null) continue; // Subject is optional and then left out
    out += `${f}\n${String(v)}\n`;
  }
  return out;
}

/** Shape check before anything else: every field the signature covers must be a string. */
export function parseSnsMessage(body: unknown): SnsMessage {
  let obj: unknown = body;
  if (typeof body === 'string' || Buffer.isBuffer(body)) {
    try {
      obj = JSON.parse(String(body));
    } catch {
      throw new SnsVerificationError('body is not JSON');
    }
  }
  if (!obj || typeof obj !== 'object') throw new SnsVerificationError('body is not an SNS message');
  const m = obj as Record<string, unknown>;
  for (const f of [
    'Type',
    'MessageId',
    'TopicArn',
    'Message',
    'Timestamp',
    'SignatureVersion',
    'Signature',
    'SigningCertURL',
  ]) {
    if (typeof m[f] !== 'string') throw new SnsVerificationError(`SNS message lacks ${f}`);
  }
  if (m.Type !== 'Notification' && (typeof m.Token !== 'string' || typeof m.SubscribeURL !== 'string')) {
    throw new SnsVerificationError('subscription message lacks Token or SubscribeURL');
  }
  return m as unknown as SnsMessage;
}

export interface SnsVerifier {
  verify(msg: SnsMessage): Promise<void>;
}

/** Certificates are cached by URL (AWS rotates them rarely; each fetch would slow every webhook). */
export function createSnsVerifier(
  fetchCertificate: CertificateFetcher,
  opts: { maxCached?: number } = {},
): SnsVerifier {
  const cache = new Map<string, Promise<string>>();
  const maxCached = opts.maxCached ?? 20;
  return {
    async verify(msg) {
      if (!isAwsSnsUrl(msg.SigningCertURL)) {
        throw new SnsVerificationError('SigningCertURL is not an https URL on an SNS amazonaws.com host');
      }
      const algorithm =
        msg.SignatureVersion === '1' ? 'RSA-SHA1' : msg.SignatureVersion === '2' ? 'RSA-SHA256' : undefined;
      if (!algorithm) throw new SnsVerificationError(`unsupported SignatureVersion ${msg.SignatureVersion}`);
      let pem = cache.get(msg.SigningCertURL);
      if (!pem) {
        pem = fetchCertificate(msg.SigningCertURL);
        if (cache.size >= maxCached) cache.delete(cache.keys().next().value as string);
        cache.set(msg.SigningCertURL, pem);
        pem.catch(() => cache.delete(msg.SigningCertURL));
      }
      const cert = await pem;
      if (!cert.includes('-----BEGIN CERTIFICATE-----'))
        throw new SnsVerificationError('signing certificate is not a PEM certificate');
      const ok = createVerify(algorithm)
        .update(snsStringToSign(msg), 'utf8')
        .verify(cert, msg.Signature, 'base64');
      if (!ok) throw new SnsVerificationError('SNS signature does not verify');
    },
  };
}

/** Default fetcher: https only (checked again here), a size cap and a timeout. */
export const fetchCertificateOverHttps: CertificateFetcher = async (url) => {
  if (!isAwsSnsUrl(url)) throw new SnsVerificationError('refusing to fetch a certificate from a non-SNS URL');
  const res = await fetch(url, { redirect: 'error', signal: AbortSignal.timeout(5000) });
  if (!res.ok) throw new SnsVerificationError(`certificate fetch failed: HTTP ${res.status}`);
  const text = await res.text();
  if (text.length > 20_000) throw new SnsVerificationError('certificate too large');
  return text;
};
