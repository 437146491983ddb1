import type { Locale } from '../db/schema.js';
import { compileTokens, compileVariant, recipientName } from '../rendering/index.js';
import type { RenderableIssue } from '../rendering/types.js';
import { wireHtmlBytes } from './wire-size.js';

/**
 * Renders an issue for a person who is not a subscriber: test sends, the pre-send checklist and
 * the public archive. Same templates and compile as a real send; the recipient tokens are filled
 * with neutral values (links to the public pages, no tracking).
 */
export function previewRenderer(publicUrl: string) {
  const base = publicUrl.replace(/\/$/, '');
  return async (issue: RenderableIssue, sectionKeys: string[], locale: Locale) => {
    const compiled = await compileVariant(
      { ...issue, trackingEnabled: false },
      { sectionKeys, locale, publicUrl },
    );
    const filled = compileTokens(compiled).fill({
      name: recipientName(null, locale),
      unsubscribeUrl: `${base}/subscribe`,
      preferencesUrl: `${base}/subscribe`,
      webVersionUrl: `${base}/archive/${issue.id}`,
      trackingToken: '',
    });
    return {
      subject: compiled.subject,
      html: filled.html,
      text: filled.text,
      // Measured only when asked (the pre-send check): a second compile with tracking, as sent.
      wireHtmlBytes: () => wireHtmlBytes(issue, sectionKeys, locale, publicUrl),
    };
  };
}

/** Keeps the last few rendered archive pages: a page view must not cost an MJML compile each time. */
export function cachedRenderer(render: ReturnType<typeof previewRenderer>, size = 20) {
  const cache = new Map<string, ReturnType<ReturnType<typeof previewRenderer>>>();
  return (issue: RenderableIssue, sectionKeys: string[], locale: Locale) => {
    const key = `${issue.id}/${issue.revision}/${locale}/${sectionKeys.join(',')}`;
    let hit = cache.get(key);
    if (!hit) {
      hit = render(issue, sectionKeys, locale);
      hit.catch(() => cache.delete(key));
      cache.set(key, hit);
      if (cache.size > size) cache.delete(cache.keys().next().value as string);
    }
    return hit;
  };
}
