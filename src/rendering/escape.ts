const HTML_ESCAPES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
  '`': '&#96;',
  '=': '&#61;',
  '{': '&#123;',
  '}': '&#125;',
  '\\': '&#92;',
};

/**
 * The HTML escaper, for text and attribute values in every page, message and feed Gazette writes
 * (XML reads the same numeric references). Beyond & < > " ' it turns ` and = into entities (as
 * Handlebars does), and braces and backslashes, so no content can be read as a per-recipient
 * `{{token}}` (or a Handlebars escape) when a variant is filled.
 */
export function escapeHtml(s: string): string {
  return s.replace(/[&<>"'`={}\\]/g, (c) => HTML_ESCAPES[c] as string);
}

/**
 * Plain text has no entities: a zero-width space on the inner side of each brace keeps "{{" and
 * "}}" from ever appearing in content, and before a backslash-brace pair, while reading the same.
 */
export function escapeTextContent(s: string): string {
  return s.replace(/\{/g, '{\u200b').replace(/\}/g, '\u200b}').replace(/\\/g, '\\\u200b');
}

/** A URL for the text part: braces and backslashes percent-encoded (same URL, cannot read as a token). */
export function urlForText(url: string): string {
  return url.replace(/[{}\\]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}
