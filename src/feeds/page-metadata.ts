import { load } from 'cheerio';
import { parseFeedDate } from './dates.js';
import { plainTextLine } from './sanitize.js';

/**
 * What an article page says about itself, for an item an editor adds by URL: title, description
 * and date from JSON-LD, Open Graph and meta tags (in that order of trust), then <title>, the first
 * heading and <time>. Every value is plain text.
 */

export interface PageMetadata {
  title: string | null;
  description: string | null;
  publishedAt: string | null;
  publishedOffset: string | null;
  author: string | null;
  canonicalUrl: string | null;
  siteName: string | null;
}

type Json = Record<string, unknown>;

function jsonLdObjects($: ReturnType<typeof load>): Json[] {
  const out: Json[] = [];
  const visit = (node: unknown) => {
    if (Array.isArray(node)) node.forEach(visit);
    else if (node && typeof node === 'object') {
      out.push(node as Json);
      const graph = (node as Json)['@graph'];
      if (graph) visit(graph);
    }
  };
  $('script[type="application/ld+json"]').each((_, el) => {
    try {
      visit(JSON.parse($(el).text()));
    } catch {
      // A broken JSON-LD block is common; the other sources of metadata remain.
    }
  });
  return out;
}

const ARTICLE_TYPES = /Article|BlogPosting|Report|NewsArticle|WebPage|Legislation/i;

function text(v: unknown): string | null {
  if (typeof v === 'string') return plainTextLine(v) || null;
  if (Array.isArray(v)) return text(v[0]);
  if (v && typeof v === 'object' && 'name' in (v as Json)) return text((v as Json).name);
  return null;
}

export function extractPageMetadata(html: string, pageUrl: string, defaultZone?: string): PageMetadata {
  const $ = load(html);
  const meta = (...names: string[]) => {
    for (const name of names) {
      const v = $(`meta[property="${name}"], meta[name="${name}"], meta[itemprop="${name}"]`)
        .first()
        .attr('content');
      if (v?.trim()) return plainTextLine(v);
    }
    return null;
  };
  const ld = jsonLdObjects($).find((o) => ARTICLE_TYPES.test(String(o['@type'] ?? ''))) ?? {};
  const title =
    text(ld.headline) ??
    meta('og:title', 'twitter:title', 'ArticleTitle', 'title') ??
    (plainTextLine($('title').first().text()) || null) ??
    (plainTextLine($('h1').first().text()) || null);
  const description =
    text(ld.description) ?? meta('og:description', 'description', 'twitter:description', 'Description');
  const rawDate =
    text(ld.datePublished) ??
    meta(
      'article:published_time',
      'og:published_time',
      'datePublished',
      'pubdate',
      'publishdate',
      'PubDate',
      'date',
      'dc.date',
      'DC.date',
    ) ??
    ($('time[datetime]').first().attr('datetime') || null);
  const date = parseFeedDate(rawDate, defaultZone);
  const canonicalHref = $('link[rel="canonical"]').attr('href') ?? meta('og:url');
  let canonical: string | null = null;
  try {
    canonical = canonicalHref ? new URL(canonicalHref, pageUrl).href : null;
  } catch {
    canonical = null;
  }
  return {
    title,
    description,
    publishedAt: date ? date.utc.toISOString() : null,
    publishedOffset: date?.offset ?? null,
    author: text(ld.author) ?? meta('author', 'article:author'),
    canonicalUrl: canonical,
    siteName: meta('og:site_name', 'SiteName'),
  };
}
