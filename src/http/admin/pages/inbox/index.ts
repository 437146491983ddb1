import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { DateTime } from 'luxon';
import type { Locale } from '../../../../db/schema.js';
import {
  groupNearDuplicates,
  type InboxItem,
  listInboxCandidates,
  loadInboxItems,
  setItemsStatus,
} from '../../../../feeds/inbox.js';
import { listSources } from '../../../../feeds/sources.js';
import { type Acceptance, acceptItems, newestDraft } from '../../../../issues/accept-items.js';
import { assembleDraft } from '../../../../issues/assemble.js';
import type { EditorialDeps } from '../../../../issues/store.js';
import { getPublication } from '../../../../publication/publication.js';
import { listSections } from '../../../../publication/sections.js';
import type { WebDeps } from '../../deps.js';
import { auditActor, requestLocale, sendAdminPage, setFlash } from '../../respond.js';
import { stageErrorText } from '../../stage-errors.js';
import { interpolate } from '../../strings.js';
import { sectionName } from '../send-shared.js';
import { idsFrom, inboxFilter, inboxHref, readInboxQuery, safeInboxBack } from './filters.js';
import { INBOX_STRINGS } from './strings.js';

/** Groups of near-duplicates per page; a group is never split across pages. */
const GROUPS_PER_PAGE = 25;
/** Items considered at once (newest first); past this the page asks for narrower filters. */
const CANDIDATE_CAP = 2000;
const SUMMARY_CHARS = 280;

const httpLink = (url: string | null | undefined): string | null =>
  url && /^https?:\/\//i.test(url) ? url : null;

function shorten(text: string, max: number): string {
  const chars = [...text.replace(/\s+/g, ' ').trim()];
  return chars.length > max ? `${chars.slice(0, max).join('')}…` : chars.join('');
}

/**
 * GET /admin/inbox: new items from every source, filtered by source, section, date and text,
 * near-duplicates shown together, each acceptable into the current draft under a section,
 * dismissable (with undo) and openable. POST /admin/inbox/act does every action of the list
 * form (one item's button or the checked ones); POST /admin/inbox/draft creates this month's
 * draft when there is none.
 */
export function inboxPages(deps: WebDeps): FastifyPluginAsync {
  const { ctx } = deps;
  const editorial: EditorialDeps = { db: ctx.db, log: ctx.log, env: ctx.env, now: ctx.now };

  async function timeZone(): Promise<string> {
    return (await getPublication(ctx.db))?.time_zone ?? ctx.env.DEFAULT_TIME_ZONE;
  }

  async function strings(req: FastifyRequest) {
    return INBOX_STRINGS[await requestLocale(deps, req)];
  }

  function itemView(
    item: InboxItem,
    sections: { key: string; name: string }[],
    locale: Locale,
  ): Record<string, unknown> {
    const link = httpLink(item.link) ?? httpLink(item.canonical_url) ?? item.urls.map(httpLink).find(Boolean);
    return {
      id: item.id,
      title: item.title,
      summary: shorten(item.summary_text, SUMMARY_CHARS),
      link: link ?? null,
      sourceName: item.source_name,
      sectionName: item.section_key
        ? (sections.find((s) => s.key === item.section_key)?.name ?? item.section_key)
        : null,
      publishedAt: item.published_at,
      fetchedAt: item.fetched_at,
      sightings: item.sightings,
      sectionOptions: sections.map((s) => ({ ...s, selected: s.key === item.section_key })),
      hasSection: item.section_key !== null,
      locale,
    };
  }

  return async (app) => {
    app.get('/admin/inbox', async (req, reply) => {
      const locale = await requestLocale(deps, req);
      const t = INBOX_STRINGS[locale];
      const query = readInboxQuery(req.query as Record<string, unknown>);
      const tz = await timeZone();
      const [sections, sources, draft] = await Promise.all([
        listSections(ctx.db),
        listSources(ctx.db),
        newestDraft(ctx.db),
      ]);
      const { rows, truncated } = await listInboxCandidates(ctx.db, inboxFilter(query, tz), CANDIDATE_CAP);
      const groups = groupNearDuplicates(rows);
      const pages = Math.max(1, Math.ceil(groups.length / GROUPS_PER_PAGE));
      const page = Math.min(query.page, pages);
      const shown = groups.slice((page - 1) * GROUPS_PER_PAGE, page * GROUPS_PER_PAGE);
      const items = new Map(
        (
          await loadInboxItems(
            ctx.db,
            shown.flat().map((r) => r.id),
          )
        ).map((i) => [i.id, i]),
      );
      const sectionList = sections.map((s) => ({ key: s.key, name: sectionName(s.names, locale, s.key) }));
      const view = (id: number) => {
        const item = items.get(id);
        return item ? itemView(item, sectionList, locale) : null;
      };
      const undo = idsFrom((req.query as Record<string, unknown>).dismissed);
      const current = inboxHref({ ...query, page });
      return sendAdminPage(deps, req, reply, {
        page: 'inbox-list',
        title: query.view === 'dismissed' ? 'inboxDismissedTitle' : 'inboxTitle',
        strings: INBOX_STRINGS,
        scripts: ['inbox.js'],
        data: {
          query,
          isNew: query.view === 'new',
          back: current,
          viewTabs: [
            {
              label: t.inboxViewNew,
              href: inboxHref({ ...query, view: 'new', page: 1 }),
              current: query.view === 'new',
            },
            {
              label: t.inboxViewDismissed,
              href: inboxHref({ ...query, view: 'dismissed', page: 1 }),
              current: query.view === 'dismissed',
            },
          ],
          sourceOptions: [
            ...sources.map((s) => ({
              value: String(s.id),
              label: s.name,
              selected: query.source === String(s.id),
            })),
            { value: 'manual', label: t.inboxManual, selected: query.source === 'manual' },
          ],
          sectionFilterOptions: [
            ...sections.map((s) => ({
              value: String(s.id),
              label: sectionName(s.names, locale, s.key),
              selected: query.section === String(s.id),
            })),
            { value: 'none', label: t.inboxNoSection, selected: query.section === 'none' },
          ],
          sections: sectionList,
          draft: draft ? { id: draft.id, title: draft.title, period: draft.period } : null,
          thisMonth: DateTime.fromJSDate(ctx.now(), { zone: tz }).toFormat('yyyy-MM'),
          groups: shown.map((g) => {
            const [lead, ...others] = g.map((r) => view(r.id)).filter((v) => v !== null);
            return { lead, others, similar: others.length > 0 };
          }),
          itemCount: rows.length,
          groupCount: groups.length,
          truncated,
          cap: CANDIDATE_CAP,
          pagination:
            pages > 1
              ? {
                  page,
                  pages,
                  prev: page > 1 ? inboxHref({ ...query, page: page - 1 }) : null,
                  next: page < pages ? inboxHref({ ...query, page: page + 1 }) : null,
                }
              : null,
          undo: undo.length ? { ids: undo.join(','), count: undo.length } : null,
        },
      });
    });

    app.post('/admin/inbox/act', async (req, reply) => {
      const body = (req.body ?? {}) as Record<string, unknown>;
      const locale = await requestLocale(deps, req);
      const t = INBOX_STRINGS[locale];
      const back = safeInboxBack(body.back);
      const one = idsFrom(body.accept ?? body.dismiss ?? body.restore);
      const action =
        body.accept !== undefined
          ? 'accept'
          : body.dismiss !== undefined
            ? 'dismiss'
            : body.restore !== undefined
              ? 'restore'
              : String(body.bulk ?? '');
      const ids = one.length ? one : idsFrom(body.ids);
      if (ids.length === 0) {
        setFlash(reply, 'error', t.inboxNothingSelected);
        return reply.redirect(back, 303);
      }
      const now = ctx.now();
      try {
        if (action === 'dismiss') {
          const done = await setItemsStatus(ctx.db, ids, 'new', 'dismissed', now);
          ctx.log.info({ event: 'inbox.dismissed', count: done.length }, 'items dismissed');
          setFlash(reply, 'notice', interpolate(t.inboxDismissed, { n: done.length }));
          const sep = back.includes('?') ? '&' : '?';
          return reply.redirect(done.length ? `${back}${sep}dismissed=${done.join(',')}` : back, 303);
        }
        if (action === 'restore') {
          const done = await setItemsStatus(ctx.db, ids, 'dismissed', 'new', now);
          ctx.log.info({ event: 'inbox.restored', count: done.length }, 'items restored');
          setFlash(reply, 'notice', interpolate(t.inboxRestored, { n: done.length }));
          return reply.redirect(back, 303);
        }
        if (action === 'accept') {
          const draft = await newestDraft(ctx.db);
          if (!draft) {
            setFlash(reply, 'error', t.inboxNoDraft);
            return reply.redirect(back, 303);
          }
          const bulkSection = typeof body.bulk_section === 'string' ? body.bulk_section : '';
          const acceptances: Acceptance[] = ids.map((itemId) => {
            const own = body[`section_${itemId}`];
            const sectionKey = (one.length ? '' : bulkSection) || (typeof own === 'string' ? own : '');
            return { itemId, sectionKey };
          });
          const outcomes = await acceptItems(editorial, draft.id, acceptances, auditActor(req));
          const accepted = outcomes.filter((o) => o.accepted).length;
          const skipped = outcomes.length - accepted;
          const message = [
            accepted
              ? interpolate(t.inboxAccepted, { n: accepted, title: `${draft.title} ${draft.period}` })
              : '',
            skipped ? interpolate(t.inboxAcceptSkipped, { n: skipped }) : '',
          ]
            .filter(Boolean)
            .join(' ');
          setFlash(reply, accepted ? 'notice' : 'error', message);
          return reply.redirect(back, 303);
        }
      } catch (err) {
        const message = stageErrorText(locale, err);
        if (!(err as { userFacing?: boolean }).userFacing)
          ctx.log.error(
            { event: 'inbox.action_failed', action, err: (err as Error).message },
            'inbox action failed',
          );
        setFlash(reply, 'error', interpolate(t.inboxActionFailed, { message }));
        return reply.redirect(back, 303);
      }
      return reply.code(400).send({ error: 'unknown inbox action' });
    });

    app.post('/admin/inbox/draft', async (req: FastifyRequest, reply: FastifyReply) => {
      const t = await strings(req);
      const tz = await timeZone();
      const period = DateTime.fromJSDate(ctx.now(), { zone: tz }).toFormat('yyyy-MM');
      const result = await assembleDraft(editorial, { period, kind: 'month' }, auditActor(req));
      const draft = await newestDraft(ctx.db);
      if (draft?.id === result.issueId)
        setFlash(reply, 'notice', interpolate(t.inboxDraftCreated, { period, added: result.added }));
      else setFlash(reply, 'error', interpolate(t.inboxDraftNotCreated, { period }));
      return reply.redirect(safeInboxBack((req.body as Record<string, unknown> | undefined)?.back), 303);
    });
  };
}
