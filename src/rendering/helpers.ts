import type Handlebars from 'handlebars';
import type { HelperOptions } from 'handlebars';
import type { Locale } from '../db/schema.js';
import { escapeHtml, escapeTextContent, urlForText } from './escape.js';
import { formatPeriod, itemNumber, sectionNumber } from './locale-format.js';
import { inlineText, type SummaryBlock, summaryHtml } from './summary.js';
import type { Strings } from './template-store.js';
import { TEXT_COLUMNS, wrapText } from './text-wrap.js';
import { isRecipientTokenKey } from './tokens.js';

type Hb = typeof Handlebars;

interface RootData {
  locale: Locale;
  theme?: { link: string };
  _links: string[];
}

const root = (options: HelperOptions): RootData => options.data.root as RootData;
const SAFE_SCHEMES = /^(?:https?:\/\/|mailto:)/i;

/**
 * Helpers for the email (html) and plain-text templates. In html, everything returned is
 * already escaped (content braces included); in text, nothing is escaped but content braces are
 * broken up. Either way no content can turn into a `{{token}}`.
 */
export function registerHelpers(hb: Hb, mode: 'html' | 'text', strings: Record<Locale, Strings>): void {
  const isHtml = mode === 'html';
  const out = (s: string) => (isHtml ? new hb.SafeString(s) : s);
  const esc = (v: unknown) => {
    if (v instanceof hb.SafeString) return v.toString();
    const s = v === undefined || v === null ? '' : String(v);
    // Text content arrives already escaped from the view model (see view-model.ts).
    return isHtml ? escapeHtml(s) : s;
  };

  /** {{token "unsubscribeUrl"}} writes the per-recipient placeholder, filled at send time. */
  hb.registerHelper('token', (key: string) => {
    if (!isRecipientTokenKey(key)) throw new Error(`unknown recipient token "${key}"`);
    return out(`{{${key}}}`);
  });

  /** {{t "key" name=value}}: the locale's string with {name} placeholders filled. */
  hb.registerHelper('t', function (this: unknown, key: string, options: HelperOptions) {
    const locale = root(options).locale;
    const params = options.hash as Record<string, unknown>;
    // "{key}One" is the singular form where a locale has one (English "1 item").
    const oneKey = params.count === 1 && strings[locale]?.[`${key}One`] !== undefined ? `${key}One` : key;
    const template = strings[locale]?.[oneKey] ?? strings.en[key];
    if (template === undefined) throw new Error(`no string "${key}" for ${locale}`);
    const parts = template.split(/(\{\w+\})/);
    const result = parts
      .map((part) => {
        const m = /^\{(\w+)\}$/.exec(part);
        if (m && m[1] !== undefined && m[1] in params) return esc(params[m[1]]);
        return isHtml ? escapeHtml(part) : part;
      })
      .join('');
    return out(result);
  });

  hb.registerHelper('periodLabel', (period: string, kind: 'month' | 'week', options: HelperOptions) =>
    out(esc(formatPeriod(String(period), kind, root(options).locale))),
  );
  hb.registerHelper('sectionNumber', (index: number, options: HelperOptions) =>
    out(esc(sectionNumber(index, root(options).locale))),
  );
  hb.registerHelper('itemNumber', (index: number) => out(itemNumber(index)));

  /** {{link url label}}: an anchor for http(s)/mailto only; anything else prints as text. */
  hb.registerHelper('link', (url: unknown, label: unknown, options: HelperOptions) => {
    const href = String(url ?? '');
    const shown = label instanceof hb.SafeString || (typeof label === 'string' && label) ? label : href;
    if (!isHtml) return esc(shown);
    if (!SAFE_SCHEMES.test(href)) return out(esc(shown));
    const color = root(options).theme?.link ?? '#1f4e79';
    return out(`<a href="${escapeHtml(href)}" style="color:${color};word-break:break-all">${esc(shown)}</a>`);
  });

  // Plain-text helpers.
  /** {{wrap a b sep=" · " prefix="1. " indent=3}}: joins the non-empty parts, wraps by display width. */
  hb.registerHelper('wrap', (...args: unknown[]) => {
    const options = args.pop() as HelperOptions;
    const hash = options.hash as { sep?: string; prefix?: unknown; indent?: number };
    const parts = args.map((a) => esc(a)).filter((s) => s !== '');
    const prefix = hash.prefix === undefined ? '' : esc(hash.prefix);
    return wrapText(parts.join(hash.sep ?? ' '), { prefix, indent: hash.indent ?? 0 });
  });

  /** {{refs sources}}: numbers each source URL once per message; the list is printed at the end. */
  hb.registerHelper('refs', (sources: { url: string }[], options: HelperOptions) => {
    const links = root(options)._links;
    return sources.map(({ url }) => `[${linkNumber(links, url)}]`).join(' ');
  });

  /**
   * {{summaryBlock block}}: one block of an item's summary (rendering/summary.ts). html: the block's
   * markup, every text and URL escaped there; text: wrapped like a paragraph (`indent=`), list
   * items with their marker, each link as "text [n]" numbered with the sources.
   */
  hb.registerHelper('summaryBlock', (block: SummaryBlock, options: HelperOptions) => {
    if (isHtml) {
      const color = root(options).theme?.link ?? '#1f4e79';
      return out(summaryHtml([block], { linkColor: color, email: true }));
    }
    const indent = (options.hash as { indent?: number }).indent ?? 0;
    const links = root(options)._links;
    const text = (nodes: Parameters<typeof inlineText>[0]) =>
      escapeTextContent(inlineText(nodes, (href, label) => `${label} [${linkNumber(links, href)}]`));
    // A hard line break stays one; wrapText joins everything else into one paragraph.
    const wrap = (s: string, prefix = '', extra = 0) =>
      s
        .split('\n')
        .map((line, i) =>
          wrapText(line, { prefix: i === 0 ? prefix : ' '.repeat(prefix.length), indent: indent + extra }),
        )
        .join('\n');
    const render = (b: SummaryBlock, extra: number): string => {
      if (b.t === 'p') return wrap(text(b.c), '', extra);
      return b.items
        .map((item, i) => {
          const marker = b.t === 'ol' ? `${b.start + i}. ` : '- ';
          return item
            .map((inner, j) =>
              inner.t === 'p'
                ? wrap(text(inner.c), j === 0 ? marker : ' '.repeat(marker.length), extra)
                : render(inner, extra + marker.length),
            )
            .join(b.tight ? '\n' : '\n\n');
        })
        .join(b.tight ? '\n' : '\n\n');
    };
    return render(block, 0);
  });

  hb.registerHelper('rule', (ch: string) => String(ch).repeat(TEXT_COLUMNS));
}

/** The number of `url` in the text part's link list, adding it at the end the first time. */
function linkNumber(links: string[], url: string): number {
  const shown = urlForText(url);
  const n = links.findIndex((l) => l.slice(l.indexOf(' ') + 1) === shown) + 1;
  if (n > 0) return n;
  links.push(`[${links.length + 1}] ${shown}`);
  return links.length;
}
