import type { SecretKeys } from '../config/secret.js';
import type { Locale } from '../db/schema.js';
import { buildMimeTemplate } from '../delivery/mime.js';
import { compileVariant } from '../rendering/index.js';
import type { RenderableIssue } from '../rendering/types.js';
import { recipientLinks } from '../security/recipient-links.js';
import { rewriteLinksForTracking } from '../tracking/links.js';

// Realistic, not minimal: ids as long as a large list's, a signed token per link (the HMAC's
// length does not depend on the key, so a throwaway one measures the same).
const SAMPLE_SECRETS: SecretKeys = { current: 'wire-size-sample-key-'.padEnd(64, 'x') };
const SAMPLE = { subscriberId: 99_999_999, deliveryId: 999_999_999, linkId: 9_999_999 };

/**
 * The bytes of a variant's HTML part as they go on the wire: compiled with the issue's tracking
 * setting, links rewritten to the click redirect, tokens filled with realistic signed links and
 * a long name, then encoded by the same MIME builder the send workers use (8bit where the relay
 * offers 8BITMIME). The pre-send Gmail clipping check measures this, not the bare compile.
 */
export async function wireHtmlBytes(
  issue: RenderableIssue,
  sectionKeys: string[],
  locale: Locale,
  publicUrl: string,
  opts: { eightBit?: boolean } = {},
): Promise<number> {
  const compiled = await compileVariant(issue, { sectionKeys, locale, publicUrl });
  const html = issue.trackingEnabled
    ? rewriteLinksForTracking(compiled.html, { issueId: issue.id, publicUrl, linkIdFor: () => SAMPLE.linkId })
    : compiled.html;
  const links = recipientLinks(SAMPLE_SECRETS, publicUrl, {
    subscriberId: SAMPLE.subscriberId,
    issueId: issue.id,
    deliveryId: SAMPLE.deliveryId,
  });
  const mime = buildMimeTemplate(
    { variantKey: compiled.variantKey, subject: compiled.subject, html, text: compiled.text },
    {
      issueId: issue.id,
      from: 'Gazette <newsletter@example.org>',
      messageIdDomain: 'example.org',
      eightBit: opts.eightBit ?? true,
    },
  );
  const name = locale === 'zh-CN' ? '欧阳明月律师' : 'Alexandra Montgomery-Smith';
  const raw = mime
    .render({
      deliveryId: SAMPLE.deliveryId,
      address: 'reader.with.a.long.address@law-firm.example.com.cn',
      name,
      oneClickUnsubscribeUrl: links.oneClickUnsubscribeUrl,
      tokens: { ...links, name },
    })
    .raw.toString('latin1');
  return htmlPartBytes(raw);
}

/** Length of the text/html part's body (between its blank line and the next boundary). */
export function htmlPartBytes(raw: string): number {
  const boundary = /boundary="([^"]+)"/i.exec(raw)?.[1];
  const head = raw.search(/\r\nContent-Type: text\/html/i);
  if (!boundary || head < 0) throw new Error('message has no text/html part');
  const start = raw.indexOf('\r\n\r\n', head) + 4;
  const end = raw.indexOf(`\r\n--${boundary}`, start);
  return (end < 0 ? raw.length : end) - start;
}
