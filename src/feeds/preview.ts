import type { Env } from '../config/env.js';
import type { SourceRule } from '../db/schema.js';
import { privatePolicy } from './address-guard.js';
import { decodeBody } from './charset.js';
import { fetchWithLimits, limitsFromEnv } from './fetch.js';
import { type FeedFormat, type NormalizedItem, parseFeed } from './parse.js';
import { applyRules, type RuleDecision } from './rules.js';

/**
 * What a feed would yield, without storing anything: the same fetch (limits, address guard),
 * decoding and parsing as a poll, and each item's rule decision (kept and into which section, or
 * filtered and why). Editors see this before adding a source or changing its rules.
 */

export interface FeedPreview {
  format: FeedFormat;
  title: string;
  /** The URL after redirects. */
  url: string;
  charset: string;
  items: { item: NormalizedItem; decision: RuleDecision }[];
}

export async function previewFeed(
  env: Env,
  input: { url: string; rules?: readonly SourceRule[]; allowPrivate?: boolean },
): Promise<FeedPreview> {
  const limits = limitsFromEnv(env, privatePolicy(env.FETCH_ALLOW_PRIVATE, input.allowPrivate ?? false));
  const res = await fetchWithLimits(input.url, limits);
  const decoded = decodeBody(res.body, res.headers['content-type']);
  const feed = await parseFeed(decoded.text, { feedUrl: res.url, defaultZone: env.DEFAULT_TIME_ZONE });
  return {
    format: feed.format,
    title: feed.title,
    url: res.url,
    charset: decoded.charset,
    items: feed.items.map((item) => ({ item, decision: applyRules(input.rules ?? [], item) })),
  };
}
