import MarkdownIt, { type Token } from 'markdown-it';
import { escapeHtml } from './escape.js';
import { isCjk } from './text-join.js';

/**
 * An item's summary is Markdown, limited to what a newsletter summary needs: paragraphs (blank
 * lines), links (`[text](https://…)`, `<https://…>`, mailto:), emphasis (`*em*`, `**strong**`)
 * and lists (`- a`, `1. a`). Raw HTML, images, headings, quotes and code are not part of it: they
 * stay as the text typed. markdown-it (CommonMark) parses; this file turns its tokens into a small
 * tree and renders that tree itself, escaping every piece of text and every URL with the one
 * content escaper (escape.ts), so no markup reaches a reader that this file did not write.
 *
 * A single line break inside a paragraph joins the two lines as the plain-text summaries always
 * did (text-join.ts): nothing between Chinese characters, one space between Latin words.
 */

export type SummaryInline =
  | { t: 'text'; v: string }
  | { t: 'em' | 'strong'; c: SummaryInline[] }
  | { t: 'link'; href: string; c: SummaryInline[] }
  | { t: 'soft' }
  | { t: 'br' };

export type SummaryBlock =
  | { t: 'p'; c: SummaryInline[] }
  | { t: 'ul'; items: SummaryBlock[][]; tight: boolean }
  | { t: 'ol'; start: number; items: SummaryBlock[][]; tight: boolean };

const md = new MarkdownIt('zero', { html: false, linkify: false, breaks: false }).enable([
  'list',
  'emphasis',
  'link',
  'autolink',
  'escape',
  'newline',
]);

/** Only these become links; anything else (javascript:, data:, relative paths) stays as its text. */
export function safeHref(href: string): string | null {
  if (/^mailto:[^\s]+$/i.test(href)) return href;
  if (!/^https?:\/\//i.test(href) || !URL.canParse(href)) return null;
  return href;
}

function inlineTree(tokens: Token[]): SummaryInline[] {
  const root: SummaryInline[] = [];
  const stack: SummaryInline[][] = [root];
  const top = () => stack[stack.length - 1] as SummaryInline[];
  for (const tok of tokens) {
    switch (tok.type) {
      case 'text':
        if (tok.content) top().push({ t: 'text', v: tok.content });
        break;
      case 'softbreak':
        top().push({ t: 'soft' });
        break;
      case 'hardbreak':
        top().push({ t: 'br' });
        break;
      case 'em_open':
      case 'strong_open': {
        const node = { t: tok.type === 'em_open' ? 'em' : 'strong', c: [] } as SummaryInline & {
          c: SummaryInline[];
        };
        top().push(node);
        stack.push(node.c);
        break;
      }
      case 'link_open': {
        const node = { t: 'link', href: tok.attrGet('href') ?? '', c: [] } as SummaryInline & {
          c: SummaryInline[];
        };
        top().push(node);
        stack.push(node.c);
        break;
      }
      case 'em_close':
      case 'strong_close':
      case 'link_close':
        if (stack.length > 1) stack.pop();
        break;
      default:
        // Nothing else is enabled; keep any text a future token carries rather than lose it.
        if (tok.content) top().push({ t: 'text', v: tok.content });
    }
  }
  return root;
}

/** The summary's blocks (pure). An empty summary has none. */
export function parseSummary(markdown: string): SummaryBlock[] {
  const tokens = md.parse(markdown ?? '', {});
  let i = 0;
  function blocks(until: string | null): SummaryBlock[] {
    const out: SummaryBlock[] = [];
    while (i < tokens.length) {
      const tok = tokens[i] as Token;
      if (until && tok.type === until) {
        i++;
        return out;
      }
      i++;
      if (tok.type === 'paragraph_open') {
        const inline = tokens[i];
        const c = inline?.type === 'inline' ? inlineTree(inline.children ?? []) : [];
        i++; // inline
        i++; // paragraph_close
        if (c.length) out.push({ t: 'p', c });
      } else if (tok.type === 'bullet_list_open' || tok.type === 'ordered_list_open') {
        const ordered = tok.type === 'ordered_list_open';
        const close = ordered ? 'ordered_list_close' : 'bullet_list_close';
        const items: SummaryBlock[][] = [];
        let tight = true;
        while (i < tokens.length && (tokens[i] as Token).type !== close) {
          if ((tokens[i] as Token).type === 'list_item_open') {
            i++;
            const start = i;
            items.push(blocks('list_item_close'));
            // markdown-it hides the paragraphs of a tight list.
            for (let j = start; j < i; j++)
              if (tokens[j]?.type === 'paragraph_open' && !tokens[j]?.hidden) tight = false;
          } else i++;
        }
        i++; // list close
        const start = Number(tok.attrGet('start') ?? 1);
        out.push(
          ordered
            ? { t: 'ol', start: Number.isSafeInteger(start) ? start : 1, items, tight }
            : { t: 'ul', items, tight },
        );
      }
    }
    return out;
  }
  return blocks(null);
}

function edgeChar(nodes: SummaryInline[], last: boolean): string | undefined {
  const list = last ? [...nodes].reverse() : nodes;
  for (const n of list) {
    if (n.t === 'text') return last ? n.v.at(-1) : n.v[0];
    if (n.t === 'em' || n.t === 'strong' || n.t === 'link') {
      const ch = edgeChar(n.c, last);
      if (ch !== undefined) return ch;
    }
    if (n.t === 'br') return undefined;
  }
  return undefined;
}

/** What a line break inside a paragraph becomes: nothing beside CJK text, else one space. */
function softJoin(nodes: SummaryInline[], index: number): string {
  const before = edgeChar(nodes.slice(0, index), true);
  const after = edgeChar(nodes.slice(index + 1), false);
  return isCjk(before) || isCjk(after) ? '' : ' ';
}

export interface SummaryHtmlOptions {
  /** The email's link colour (inline styles: mail clients ignore stylesheets). */
  linkColor?: string;
  /** Inline styles for lists in email; pages style them with their stylesheet. */
  email?: boolean;
}

function inlineHtml(nodes: SummaryInline[], opts: SummaryHtmlOptions): string {
  return nodes
    .map((n, i) => {
      switch (n.t) {
        case 'text':
          return escapeHtml(n.v);
        case 'soft':
          return softJoin(nodes, i);
        case 'br':
          return '<br>';
        case 'em':
          return `<em>${inlineHtml(n.c, opts)}</em>`;
        case 'strong':
          return `<strong>${inlineHtml(n.c, opts)}</strong>`;
        case 'link': {
          const href = safeHref(n.href);
          const inner = inlineHtml(n.c, opts);
          if (!href) return inner;
          const style = opts.linkColor ? ` style="color:${escapeHtml(opts.linkColor)}"` : '';
          return `<a href="${escapeHtml(href)}"${style}>${inner}</a>`;
        }
        default:
          return '';
      }
    })
    .join('');
}

function blockHtml(block: SummaryBlock, opts: SummaryHtmlOptions): string {
  if (block.t === 'p') return `<p>${inlineHtml(block.c, opts)}</p>`;
  const tag = block.t;
  const style = opts.email ? ' style="margin:0 0 12px;padding-left:24px"' : '';
  const start = block.t === 'ol' && block.start !== 1 ? ` start="${block.start}"` : '';
  const items = block.items
    .map((item) => {
      const inner = item
        .map((b) => (block.tight && b.t === 'p' ? inlineHtml(b.c, opts) : blockHtml(b, opts)))
        .join('');
      return `<li>${inner}</li>`;
    })
    .join('');
  return `<${tag}${start}${style}>${items}</${tag}>`;
}

/** The summary as HTML: the email, the web archive and the editor's preview all use this. */
export function summaryHtml(summary: string | SummaryBlock[], opts: SummaryHtmlOptions = {}): string {
  const blocks = typeof summary === 'string' ? parseSummary(summary) : summary;
  return blocks.map((b) => blockHtml(b, opts)).join('');
}

/** One inline run as plain text; `link` decides what a link prints (the email numbers them). */
export function inlineText(nodes: SummaryInline[], link: (href: string, label: string) => string): string {
  return nodes
    .map((n, i) => {
      switch (n.t) {
        case 'text':
          return n.v;
        case 'soft':
          return softJoin(nodes, i);
        case 'br':
          return '\n';
        case 'em':
        case 'strong':
          return inlineText(n.c, link);
        case 'link': {
          const label = inlineText(n.c, link);
          const href = safeHref(n.href);
          return href ? link(href, label) : label;
        }
        default:
          return '';
      }
    })
    .join('');
}

/**
 * The summary as plain text without markup: paragraphs and list items separated by blank lines,
 * links as their text. For search, legal metadata rules and excerpts (not for the email's text
 * part, which numbers its links: see the `summary` template helper).
 */
export function summaryPlain(summary: string): string {
  const out: string[] = [];
  const walk = (blocks: SummaryBlock[]) => {
    for (const b of blocks) {
      if (b.t === 'p') out.push(inlineText(b.c, (_href, label) => label));
      else for (const item of b.items) walk(item);
    }
  };
  walk(parseSummary(summary));
  return out.join('\n\n');
}

/**
 * Plain text written as Markdown that reads back as the same text: the characters the summary
 * Markdown would take as syntax are escaped, a line that would start a list keeps its marker as
 * text, and spaces at line ends (a hard break in Markdown, nothing in plain text) go. Used for
 * summaries stored before they were Markdown (migration 0029) and for text from feeds.
 */
export function plainToMarkdown(plain: string): string {
  return (
    (plain ?? '')
      .replace(/\r\n/g, '\n')
      // A lone CR was whitespace inside a line; Markdown would read it as a line break.
      .replace(/\r/g, ' ')
      .split('\n')
      // Spaces (any Unicode space, the ideographic one too) at a line's ends never showed.
      .map((line) =>
        line
          .trim()
          .replace(/[\\*_[\]<`]/g, (ch) => `\\${ch}`)
          .replace(/^([-+])(?=\s|$)/, '\\$1')
          .replace(/^(\d{1,9})([.)])(?=\s|$)/, '$1\\$2'),
      )
      .join('\n')
  );
}
