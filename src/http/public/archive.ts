import type { FastifyPluginAsync } from 'fastify';
import { Feed } from 'feed';
import type { Env } from '../../config/env.js';
import type { Db, Locale } from '../../db/schema.js';
import { parseHttpUrl } from '../../feeds/canonical-url.js';
import { archiveText } from '../../issues/archive-strings.js';
import type { RenderFn } from '../../issues/check.js';
import { defaultSubject, loadRenderableIssue } from '../../issues/load.js';
import { legalLine } from '../../legal/format.js';
import type { Logger } from '../../log.js';
import { type PageBrand, pageBrand } from '../../publication/branding.js';
import { getPublication } from '../../publication/publication.js';
import { escapeHtml } from '../../rendering/escape.js';
import { summaryHtml } from '../../rendering/summary.js';
import type { RenderableIssue } from '../../rendering/types.js';
import { archiveSearchHtml, type SearchForm } from '../../search/archive-page.js';
import { snapshotPageHtml } from '../../snapshots/page.js';
import { readSnapshot } from '../../snapshots/store.js';
import { strings } from '../i18n.js';

/**
 * The public web archive: an index of sent issues, one page per sent issue and an Atom feed.
 * Only issues in state `sent` are public; anything else is a 404 so drafts never leak.
 */
export interface ArchiveRoutesOptions {
  ctx: { db: Db; env: Pick<Env, 'PUBLIC_URL'>; log?: Logger };
  /** Optional page renderer (e.g. the email layout with recipient tokens removed). */
  render?: RenderFn;
}

function safeHref(url: string): string | null {
  return parseHttpUrl(url)?.toString() ?? null;
}

/** The archive's page frame: the subscriber pages' stylesheet (/pages.css), brand and footer. */
function page(title: string, lang: string, body: string, feedUrl: string, brand: PageBrand): string {
  const t = strings(lang === 'en' ? 'en' : 'zh-CN');
  const logo = brand.logo
    ? `<img src="${escapeHtml(brand.logo.url)}" alt="${escapeHtml(brand.logo.alt)}" width="${brand.logo.width}"${brand.logo.height ? ` height="${brand.logo.height}"` : ''}>`
    : `<a class="name" href="/archive">${escapeHtml(brand.name)}</a>`;
  const footer = [
    brand.postalAddress ? `<p>${escapeHtml(brand.name)} · ${escapeHtml(brand.postalAddress)}</p>` : '',
    brand.contact ? `<p>${escapeHtml(t.contactLabel)}${escapeHtml(brand.contact)}</p>` : '',
  ].join('');
  return `<!doctype html>
<html lang="${escapeHtml(lang)}"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title><link rel="alternate" type="application/atom+xml" href="${escapeHtml(feedUrl)}">
<link rel="stylesheet" href="/pages.css">
</head><body><div class="page"><header class="brand">${logo}</header><main>${body}</main><footer>${footer}</footer></div></body></html>`;
}

/** The issue as a plain public web page (no tracking, no per-recipient links). */
export function archivePageHtml(issue: RenderableIssue, feedUrl: string, brand: PageBrand): string {
  const subject = issue.subject || defaultSubject(issue.title, issue.period);
  const parts: string[] = [`<p><a href="./">←</a></p><h1>${escapeHtml(subject)}</h1>`];
  if (issue.intro) parts.push(`<p>${escapeHtml(issue.intro)}</p>`);
  for (const section of issue.sections) {
    if (!section.items.length) continue;
    const name = section.names[issue.locale] ?? section.names['zh-CN'] ?? section.key;
    parts.push(`<h2>${escapeHtml(name)}</h2>`);
    section.items.forEach((item, i) => {
      parts.push(`<h3 id="item-${item.id}">${i + 1}. ${escapeHtml(item.title)}</h3>`);
      const legal = legalLine(item.legal ?? {}, issue.locale);
      if (legal) parts.push(`<p class="legal">${escapeHtml(legal)}</p>`);
      for (const dead of item.deadSources ?? [])
        parts.push(
          `<p class="dead"><a href="${escapeHtml(dead.snapshotUrl)}">${escapeHtml(archiveText(issue.locale, 'sourceDead'))}</a></p>`,
        );
      if (item.summary.trim()) parts.push(summaryHtml(item.summary));
      const links = item.sources
        .map((s) => ({ href: safeHref(s.url), label: s.label ?? s.url }))
        .filter((s): s is { href: string; label: string } => s.href !== null)
        .map((s) => `<a href="${escapeHtml(s.href)}" rel="noopener">${escapeHtml(s.label)}</a>`);
      if (links.length) parts.push(`<p class="src">${links.join(' · ')}</p>`);
    });
  }
  return page(subject, issue.locale, parts.join('\n'), feedUrl, brand);
}

/** Marks each item's sources found dead by the link check, with the archived copy to read instead. */
async function withDeadSources(db: Db, issue: RenderableIssue, base: string): Promise<RenderableIssue> {
  const dead = await db
    .selectFrom('source_snapshots')
    .select(['id', 'url'])
    .where('issue_id', '=', issue.id)
    .where('link_state', '=', 'dead')
    .execute();
  if (!dead.length) return issue;
  const byUrl = new Map(dead.map((d) => [d.url, `${base}/archive/sources/${d.id}`]));
  return {
    ...issue,
    sections: issue.sections.map((s) => ({
      ...s,
      items: s.items.map((item) => {
        const deadSources = item.sources
          .filter((src) => byUrl.has(src.url))
          .map((src) => ({ url: src.url, snapshotUrl: byUrl.get(src.url) as string }));
        return deadSources.length ? { ...item, deadSources } : item;
      }),
    })),
  };
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

  app.get<{ Querystring: SearchForm }>('/archive', async (req, reply) => {
    const [issues, publication] = await Promise.all([sentIssues(), getPublication(db)]);
    const name = publication?.name ?? 'Archive';
    const locale: Locale = publication?.locale ?? 'zh-CN';
    const search = await archiveSearchHtml(db, req.query ?? {}, locale);
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
      `<h1>${escapeHtml(name)}</h1><p><a href="/archive/feed.atom">Atom</a></p>${search}<h2>${escapeHtml(archiveText(locale, 'issues'))}</h2><ul class="issues">${list}</ul>`,
      feedUrl,
      pageBrand(publication),
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
    const issue = await withDeadSources(db, await loadRenderableIssue(db, id), base);
    reply.type('text/html; charset=utf-8');
    if (opts.render) {
      const keys = issue.sections.map((s) => s.key);
      return (await opts.render(issue, keys, issue.locale)).html;
    }
    return archivePageHtml(issue, feedUrl, pageBrand(await getPublication(db)));
  });

  // The archived copy of a cited source, public once its issue is (sent), like the issue itself.
  app.get<{ Params: { id: string } }>('/archive/sources/:id', async (req, reply) => {
    const id = Number(req.params.id);
    const snap = Number.isSafeInteger(id) && id > 0 ? await readSnapshot(db, id) : null;
    const issue = snap
      ? await db
          .selectFrom('issues')
          .select(['state', 'locale'])
          .where('id', '=', snap.issue_id)
          .executeTakeFirst()
      : undefined;
    if (!snap || issue?.state !== 'sent') {
      reply.code(404).type('text/plain; charset=utf-8');
      return 'No such archived source';
    }
    if (snap.pdf && (req.query as { pdf?: string }).pdf !== undefined) {
      return reply.type('application/pdf').header('content-disposition', 'inline').send(snap.pdf);
    }
    reply
      .type('text/html; charset=utf-8')
      .header(
        'content-security-policy',
        "default-src 'none'; img-src https: http:; style-src 'self' 'unsafe-inline'",
      );
    const body = snapshotPageHtml(snap, issue.locale, `/archive/sources/${snap.id}?pdf`);
    return page(snap.title ?? snap.url, issue.locale, body, feedUrl, pageBrand(await getPublication(db)));
  });
};
