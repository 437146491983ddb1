import type { FastifyPluginAsync } from 'fastify';
import { Feed } from 'feed';
import type { Env } from '../config/env.js';
import type { Db } from '../db/schema.js';
import { parseHttpUrl } from '../feeds/canonical-url.js';
import type { Logger } from '../log.js';
import { getPublication } from '../publication/publication.js';
import type { RenderableIssue } from '../rendering/types.js';
import type { RenderFn } from './check.js';
import { defaultSubject, loadRenderableIssue } from './load.js';

/**
 * The public web archive: an index of sent issues, one page per sent issue and an Atom feed.
 * Only issues in state `sent` are public; anything else is a 404 so drafts never leak.
 */
export interface ArchiveRoutesOptions {
  ctx: { db: Db; env: Pick<Env, 'PUBLIC_URL'>; log?: Logger };
  /** Optional page renderer (e.g. the email layout with recipient tokens removed). */
  render?: RenderFn;
}

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`);
}

function safeHref(url: string): string | null {
  return parseHttpUrl(url)?.toString() ?? null;
}

function page(title: string, lang: string, body: string, feedUrl: string): string {
  return `<!doctype html>
<html lang="${escapeHtml(lang)}"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title><link rel="alternate" type="application/atom+xml" href="${escapeHtml(feedUrl)}">
<style>body{font-family:system-ui,"PingFang SC","Microsoft YaHei",sans-serif;max-width:46rem;margin:2rem auto;padding:0 1rem;line-height:1.7;color:#222}h1{font-size:1.6rem}h2{border-bottom:1px solid #ddd;margin-top:2rem}h3{font-size:1.1rem}.src{font-size:.9rem;word-break:break-all}</style>
</head><body>${body}</body></html>`;
}

/** The issue as a plain public web page (no tracking, no per-recipient links). */
export function archivePageHtml(issue: RenderableIssue, feedUrl: string): string {
  const subject = issue.subject || defaultSubject(issue.title, issue.period);
  const parts: string[] = [`<p><a href="./">←</a></p><h1>${escapeHtml(subject)}</h1>`];
  if (issue.intro) parts.push(`<p>${escapeHtml(issue.intro)}</p>`);
  for (const section of issue.sections) {
    if (!section.items.length) continue;
    const name = section.names[issue.locale] ?? section.names['zh-CN'] ?? section.key;
    parts.push(`<h2>${escapeHtml(name)}</h2>`);
    section.items.forEach((item, i) => {
      parts.push(`<h3>${i + 1}. ${escapeHtml(item.title)}</h3>`);
      for (const p of item.summary.split(/\n{2,}/).filter(Boolean)) parts.push(`<p>${escapeHtml(p)}</p>`);
      const links = item.sources
        .map((s) => ({ href: safeHref(s.url), label: s.label ?? s.url }))
        .filter((s): s is { href: string; label: string } => s.href !== null)
        .map((s) => `<a href="${escapeHtml(s.href)}" rel="noopener">${escapeHtml(s.label)}</a>`);
      if (links.length) parts.push(`<p class="src">${links.join(' · ')}</p>`);
    });
  }
  return page(subject, issue.locale, parts.join('\n'), feedUrl);
}

export const archiveRoutes: FastifyPluginAsync<ArchiveRoutesOptions> = async (app, opts) => {
  const { db, env } = opts.ctx;
  const base = env.PUBLIC_URL.replace(/\/$/, '');
  const feedUrl = `${base}/archive/feed.atom`;

  const sentIssues = () =>
    db
      .selectFrom('issues')
      .select(['id', 'title', 'subject', 'period', 'sent_at', 'updated_at', 'locale'])
      .where('state', '=', 'sent')
      .orderBy('sent_at', 'desc')
      .orderBy('id', 'desc')
      .limit(500)
      .execute();

  app.get('/archive', async (_req, reply) => {
    const [issues, publication] = await Promise.all([sentIssues(), getPublication(db)]);
    const name = publication?.name ?? 'Archive';
    const list = issues
      .map(
        (i) =>
          `<li><a href="/archive/${i.id}">${escapeHtml(i.subject ?? defaultSubject(i.title, i.period))}</a> <small>${escapeHtml(i.period)}</small></li>`,
      )
      .join('\n');
    reply.type('text/html; charset=utf-8');
    return page(
      name,
      publication?.locale ?? 'zh-CN',
      `<h1>${escapeHtml(name)}</h1><p><a href="/archive/feed.atom">Atom</a></p><ul>${list}</ul>`,
      feedUrl,
    );
  });

  app.get('/archive/feed.atom', async (_req, reply) => {
    const [issues, publication] = await Promise.all([sentIssues(), getPublication(db)]);
    const feed = new Feed({
      id: `${base}/archive`,
      title: publication?.name ?? 'Archive',
      link: `${base}/archive`,
      language: publication?.locale ?? 'zh-CN',
      updated: issues[0]?.sent_at ?? new Date(0),
      feedLinks: { atom: feedUrl },
      copyright: publication?.name ?? '',
      generator: 'Gazette',
    });
    for (const i of issues.slice(0, 50)) {
      feed.addItem({
        id: `${base}/archive/${i.id}`,
        // The feed library writes entry titles as type="html": the subject is text, so escape it.
        title: escapeHtml(i.subject ?? defaultSubject(i.title, i.period)),
        link: `${base}/archive/${i.id}`,
        date: i.sent_at ?? i.updated_at,
        published: i.sent_at ?? i.updated_at,
      });
    }
    reply.type('application/atom+xml; charset=utf-8');
    return feed.atom1();
  });

  app.get<{ Params: { id: string } }>('/archive/:id', async (req, reply) => {
    const id = Number(req.params.id);
    const row = Number.isSafeInteger(id)
      ? await db.selectFrom('issues').select('state').where('id', '=', id).executeTakeFirst()
      : undefined;
    if (row?.state !== 'sent') {
      reply.code(404).type('text/plain; charset=utf-8');
      return 'No such issue in the archive';
    }
    const issue = await loadRenderableIssue(db, id);
    reply.type('text/html; charset=utf-8');
    if (opts.render) {
      const keys = issue.sections.map((s) => s.key);
      return (await opts.render(issue, keys, issue.locale)).html;
    }
    return archivePageHtml(issue, feedUrl);
  });
};
