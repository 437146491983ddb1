import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import type { Locale, Source } from '../../../../db/schema.js';
import { type FeedNote, noteParams } from '../../../../feeds/feed-notes.js';
import { inboxCountsBySource } from '../../../../feeds/inbox.js';
import { pollSource } from '../../../../feeds/poll.js';
import { type FeedPreview, previewFeed } from '../../../../feeds/preview.js';
import {
  addSource,
  getSource,
  listSources,
  removeSource,
  SourceInputError,
  updateSource,
} from '../../../../feeds/sources.js';
import { listSections } from '../../../../publication/sections.js';
import type { WebDeps } from '../../deps.js';
import { requestLocale, sendAdminPage, setFlash } from '../../respond.js';
import { stageErrorText } from '../../stage-errors.js';
import { interpolate } from '../../strings.js';
import { sectionName } from '../send-shared.js';
import { intervalOf, readSourceForm, rowsOf, rulesOf, type SourceForm } from './form.js';
import { SOURCES_STRINGS } from './strings.js';

type T = (typeof SOURCES_STRINGS)['zh-CN'];

/** A read note of the source's health (src/feeds/feed-notes.ts) in the editor's language. */
function noteText(note: FeedNote, t: T): string {
  const template = {
    recovered: t.sourcesNoteRecovered,
    'date-unparseable': t.sourcesNoteDateUnparseable,
    'charset-overruled': t.sourcesNoteCharsetOverruled,
  }[note.code];
  const words: Record<string, string> = {
    header: t.sourcesCharsetFromHeader,
    document: t.sourcesCharsetFromDocument,
    'not-utf8': t.sourcesCharsetNotUtf8,
    'no-utf16-pattern': t.sourcesCharsetNoUtf16Pattern,
    'valid-utf8': t.sourcesCharsetValidUtf8,
    undecodable: t.sourcesCharsetUndecodable,
    'gb2312-runs': t.sourcesCharsetGb2312Runs,
  };
  return interpolate(template, noteParams(note, words));
}

/** Items of a preview shown on the page; the summary counts them all. */
const PREVIEW_ROWS = 30;

const httpLink = (url: string | null | undefined): string | null =>
  url && /^https?:\/\//i.test(url) ? url : null;

const errorText = (err: unknown) => (err instanceof Error ? err.message : String(err));

function parseId(value: string | undefined): number | null {
  if (!value || !/^\d{1,12}$/.test(value)) return null;
  const n = Number(value);
  return n > 0 ? n : null;
}

/**
 * The sources pages: health per source (last success, last error, failures in a row, failing,
 * next poll), adding a source with a preview of what the feed yields (fetched and parsed, stored
 * nowhere), editing name, address, section, interval and keyword rules (with the same preview),
 * enable/disable, remove, and "poll now".
 *
 * "Poll now" polls in-process through src/feeds/poll.ts rather than enqueueing a job on the feeds
 * queue: the editor wants to see the outcome (new items, or why it fails) on the next page, a
 * queued job needs a running worker and shows nothing here, and the feed worker skips a failing
 * source that is backing off, which is exactly the source an editor wants to retry after fixing
 * its address. The poll is bounded by the fetch limits (FETCH_TIMEOUT_MS, size, redirects, the
 * address guard), records the source's health like a scheduled poll, and a concurrent scheduled
 * poll of the same source is harmless (items and sightings are stored idempotently).
 */
export function sourcesPages(deps: WebDeps): FastifyPluginAsync {
  const { ctx } = deps;

  async function sectionChoices(locale: Locale) {
    return (await listSections(ctx.db)).map((s) => ({
      key: s.key,
      name: sectionName(s.names, locale, s.key),
    }));
  }

  /** What the form partial needs: the values as typed, the sections to choose from, one blank rule row. */
  function formView(form: SourceForm, sections: { key: string; name: string }[]) {
    const rows = [...form.rows, { type: 'include' as const, keywords: '', sectionKey: '' }];
    return {
      ...form,
      sectionOptions: sections.map((s) => ({ ...s, selected: s.key === form.sectionKey })),
      rules: rows.map((r, i) => ({
        n: i + 1,
        index: i,
        include: r.type === 'include',
        keywords: r.keywords,
        sections: sections.map((s) => ({ ...s, selected: s.key === r.sectionKey })),
      })),
    };
  }

  function previewView(preview: FeedPreview, sections: { key: string; name: string }[], t: T) {
    const kept = preview.items.filter((i) => i.decision.keep).length;
    return {
      title: preview.title || preview.url,
      url: preview.url,
      summary: interpolate(t.sourcesPreviewSummary, {
        format: preview.format,
        charset: preview.charset,
        total: preview.items.length,
        kept,
        filtered: preview.items.length - kept,
      }),
      truncated: preview.items.length > PREVIEW_ROWS,
      shown: PREVIEW_ROWS,
      empty: preview.items.length === 0,
      items: preview.items.slice(0, PREVIEW_ROWS).map(({ item, decision }) => ({
        title: item.title,
        link: httpLink(item.link),
        publishedAt: item.publishedAt,
        summary: [...item.summaryText].slice(0, 160).join(''),
        kept: decision.keep,
        decision: decision.keep
          ? decision.sectionKey
            ? interpolate(t.sourcesPreviewKeptInto, {
                section: sections.find((s) => s.key === decision.sectionKey)?.name ?? decision.sectionKey,
              })
            : t.sourcesPreviewKept
          : interpolate(t.sourcesPreviewFiltered, { reason: ruleReason(decision.reason, t) }),
      })),
    };
  }

  /** Fetch and parse without storing; a failure is shown on the page, not thrown. */
  async function runPreview(form: SourceForm, sections: { key: string; name: string }[], t: T) {
    try {
      if (!form.url) throw new SourceInputError(t.sourcesUrl);
      const preview = await previewFeed(ctx.env, { url: form.url, rules: rulesOf(form.rows) });
      ctx.log.info(
        { event: 'web.sources.preview', format: preview.format, items: preview.items.length },
        'feed previewed',
      );
      return { preview: previewView(preview, sections, t), previewError: null };
    } catch (err) {
      ctx.log.info({ event: 'web.sources.preview_failed', err: errorText(err) }, 'feed preview failed');
      return { preview: null, previewError: interpolate(t.sourcesPreviewFailed, { error: errorText(err) }) };
    }
  }

  function health(s: Source, t: T, newItems: number) {
    const now = ctx.now();
    return {
      id: s.id,
      name: s.name,
      url: s.url,
      enabled: s.enabled,
      failing: s.status === 'failing',
      lastSuccess: s.last_success_at,
      lastError: s.last_error,
      lastErrorAt: s.last_error_at,
      failures: s.consecutive_failures,
      charset: s.last_charset,
      readNotes: s.parse_notes.map((n) => noteText(n, t)),
      httpStatus: s.last_http_status
        ? interpolate(t.sourcesHttpStatus, { status: s.last_http_status })
        : null,
      nextPoll: s.enabled && s.next_poll_at && s.next_poll_at > now ? s.next_poll_at : null,
      nextPollSoon: s.enabled && (!s.next_poll_at || s.next_poll_at <= now),
      interval: s.poll_interval_minutes,
      newItems,
    };
  }

  async function loadSource(req: FastifyRequest, reply: FastifyReply): Promise<Source | null> {
    const id = parseId((req.params as { id?: string }).id);
    const source = id === null ? undefined : await getSource(ctx.db, id);
    if (!source) {
      reply.callNotFound();
      return null;
    }
    return source;
  }

  async function showNew(
    req: FastifyRequest,
    reply: FastifyReply,
    form: SourceForm,
    extra: Record<string, unknown> = {},
    status = 200,
  ) {
    const locale = await requestLocale(deps, req);
    const sections = await sectionChoices(locale);
    return sendAdminPage(deps, req, reply, {
      page: 'sources-new',
      title: 'sourcesNewTitle',
      strings: SOURCES_STRINGS,
      scripts: ['sources.js'],
      status,
      data: { form: formView(form, sections), ...extra },
    });
  }

  async function showEdit(
    req: FastifyRequest,
    reply: FastifyReply,
    source: Source,
    form: SourceForm,
    extra: Record<string, unknown> = {},
    status = 200,
  ) {
    const locale = await requestLocale(deps, req);
    const t = SOURCES_STRINGS[locale];
    const sections = await sectionChoices(locale);
    const counts = await inboxCountsBySource(ctx.db);
    return sendAdminPage(deps, req, reply, {
      page: 'sources-edit',
      title: interpolate(t.sourcesEditTitle, { name: source.name }),
      strings: SOURCES_STRINGS,
      scripts: ['sources.js'],
      status,
      data: {
        source: health(source, t, counts.get(source.id) ?? 0),
        form: formView(form, sections),
        ...extra,
      },
    });
  }

  const formOfSource = (s: Source, sections: { id: number; key: string }[]): SourceForm => ({
    name: s.name,
    url: s.url,
    sectionKey: sections.find((x) => x.id === s.section_id)?.key ?? '',
    interval: String(s.poll_interval_minutes),
    timeZone: s.time_zone ?? '',
    enabled: s.enabled,
    rows: rowsOf(s.rules),
  });

  return async (app) => {
    app.get('/admin/sources', async (req, reply) => {
      const locale = await requestLocale(deps, req);
      const t = SOURCES_STRINGS[locale];
      const [sources, sections, counts] = await Promise.all([
        listSources(ctx.db),
        listSections(ctx.db),
        inboxCountsBySource(ctx.db),
      ]);
      return sendAdminPage(deps, req, reply, {
        page: 'sources-list',
        title: 'sourcesTitle',
        strings: SOURCES_STRINGS,
        scripts: ['sources.js'],
        data: {
          sources: sources.map((s) => {
            const section = sections.find((x) => x.id === s.section_id);
            return {
              ...health(s, t, counts.get(s.id) ?? 0),
              sectionName: section ? sectionName(section.names, locale, section.key) : null,
            };
          }),
        },
      });
    });

    app.get('/admin/sources/new', async (req, reply) =>
      showNew(req, reply, {
        name: '',
        url: '',
        sectionKey: '',
        interval: '60',
        timeZone: '',
        enabled: true,
        rows: [],
      }),
    );

    app.post('/admin/sources/preview', async (req, reply) => {
      const form = readSourceForm(req.body);
      const locale = await requestLocale(deps, req);
      const result = await runPreview(form, await sectionChoices(locale), SOURCES_STRINGS[locale]);
      return showNew(req, reply, form, result);
    });

    app.post('/admin/sources', async (req, reply) => {
      const form = readSourceForm(req.body);
      const locale = await requestLocale(deps, req);
      const t = SOURCES_STRINGS[locale];
      try {
        const source = await addSource(ctx.db, {
          name: form.name,
          url: form.url,
          ...(form.sectionKey ? { sectionKey: form.sectionKey } : {}),
          rules: rulesOf(form.rows),
          pollIntervalMinutes: intervalOf(form),
          enabled: form.enabled,
          timeZone: form.timeZone || null,
        });
        ctx.log.info({ event: 'web.sources.added', sourceId: source.id }, 'source added');
        setFlash(reply, 'notice', interpolate(t.sourcesAdded, { name: source.name }));
        return reply.redirect('/admin/sources', 303);
      } catch (err) {
        if (!(err instanceof SourceInputError)) throw err;
        return showNew(
          req,
          reply,
          form,
          { error: interpolate(t.sourcesInvalid, { message: stageErrorText(locale, err) }) },
          400,
        );
      }
    });

    app.get('/admin/sources/:id', async (req, reply) => {
      const source = await loadSource(req, reply);
      if (!source) return reply;
      const sections = await listSections(ctx.db);
      return showEdit(req, reply, source, formOfSource(source, sections));
    });

    app.post('/admin/sources/:id/preview', async (req, reply) => {
      const source = await loadSource(req, reply);
      if (!source) return reply;
      const form = readSourceForm(req.body);
      const locale = await requestLocale(deps, req);
      const result = await runPreview(form, await sectionChoices(locale), SOURCES_STRINGS[locale]);
      return showEdit(req, reply, source, form, result);
    });

    app.post('/admin/sources/:id', async (req, reply) => {
      const source = await loadSource(req, reply);
      if (!source) return reply;
      const form = readSourceForm(req.body);
      const locale = await requestLocale(deps, req);
      const t = SOURCES_STRINGS[locale];
      try {
        const saved = await updateSource(ctx.db, source.id, {
          name: form.name,
          // The same address keeps its validators and health; only a new one starts afresh.
          ...(form.url !== source.url ? { url: form.url } : {}),
          sectionKey: form.sectionKey || null,
          rules: rulesOf(form.rows),
          pollIntervalMinutes: intervalOf(form),
          timeZone: form.timeZone || null,
          ...(form.enabled !== source.enabled ? { enabled: form.enabled } : {}),
        });
        ctx.log.info({ event: 'web.sources.saved', sourceId: source.id }, 'source saved');
        setFlash(reply, 'notice', interpolate(t.sourcesSaved, { name: saved.name }));
        return reply.redirect(`/admin/sources/${source.id}`, 303);
      } catch (err) {
        if (!(err instanceof SourceInputError)) throw err;
        return showEdit(
          req,
          reply,
          source,
          form,
          { error: interpolate(t.sourcesInvalid, { message: stageErrorText(locale, err) }) },
          400,
        );
      }
    });

    app.post('/admin/sources/:id/enabled', async (req, reply) => {
      const source = await loadSource(req, reply);
      if (!source) return reply;
      const t = SOURCES_STRINGS[await requestLocale(deps, req)];
      const enabled = (req.body as Record<string, unknown> | undefined)?.enabled === '1';
      await updateSource(ctx.db, source.id, { enabled });
      ctx.log.info({ event: 'web.sources.enabled', sourceId: source.id, enabled }, 'source switched');
      setFlash(
        reply,
        'notice',
        interpolate(enabled ? t.sourcesEnabledNotice : t.sourcesDisabledNotice, { name: source.name }),
      );
      return reply.redirect(backTo(req, source.id), 303);
    });

    app.post('/admin/sources/:id/poll', async (req, reply) => {
      const source = await loadSource(req, reply);
      if (!source) return reply;
      const t = SOURCES_STRINGS[await requestLocale(deps, req)];
      const outcome = await pollSource({ db: ctx.db, log: ctx.log, env: ctx.env, now: ctx.now }, source.id);
      const values = {
        name: source.name,
        new: outcome.newItems,
        seen: outcome.seenItems,
        filtered: outcome.filteredItems ?? 0,
        error: outcome.error ?? '',
      };
      if (outcome.status === 'failed') setFlash(reply, 'error', interpolate(t.sourcesPollFailed, values));
      else
        setFlash(
          reply,
          'notice',
          interpolate(outcome.status === 'ok' ? t.sourcesPollOk : t.sourcesPollNotModified, values),
        );
      return reply.redirect(backTo(req, source.id), 303);
    });

    app.post('/admin/sources/:id/remove', async (req, reply) => {
      const source = await loadSource(req, reply);
      if (!source) return reply;
      const t = SOURCES_STRINGS[await requestLocale(deps, req)];
      await removeSource(ctx.db, source.id);
      ctx.log.info({ event: 'web.sources.removed', sourceId: source.id }, 'source removed');
      setFlash(reply, 'notice', interpolate(t.sourcesRemoved, { name: source.name }));
      return reply.redirect('/admin/sources', 303);
    });
  };
}

/** The rules stage explains a drop in English (for logs and the CLI); the page says it in the editor's language. */
export function ruleReason(reason: string, t: Record<string, string>): string {
  const excluded = /^excluded by keyword "(.*)"$/.exec(reason);
  if (excluded) return interpolate(t.sourcesReasonExcluded ?? reason, { keyword: excluded[1] });
  if (reason === 'matches no include keyword') return t.sourcesReasonNoInclude ?? reason;
  return reason;
}

/** Back to the list or to the source's own page, whichever the form came from. */
function backTo(req: FastifyRequest, id: number): string {
  const back = (req.body as Record<string, unknown> | undefined)?.back;
  return back === 'list' ? '/admin/sources' : `/admin/sources/${id}`;
}
