import { PassThrough } from 'node:stream';
import { stringify } from 'csv-stringify';
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import {
  addSubscriber,
  applyBulkAction,
  BulkActionError,
  type BulkChange,
  type BulkResult,
  type BulkSelection,
  countSubscribers,
  eraseSubscriber,
  exportSubscriberData,
  exportSubscribersCsv,
  getImport,
  getSubscriber,
  InvalidEmailError,
  importRefusals,
  listImports,
  listSubscribers,
  MAX_TICKED,
  neutraliseCell,
  queueImportRequests,
  REFUSALS_KEPT,
  recordBulkExport,
  type SubscriberFilter as StageSubscriberFilter,
  SUBSCRIBER_SORTS,
  SubscriberError,
  type SubscriberRecord,
  type SubscriberSort,
  storeImport,
  subscriberCursor,
  subscriberHistory,
  suppress,
  suppressionAudit,
  suppressionsFor,
  UnknownSectionError,
  unsuppress,
  updateSubscriber,
} from '../../../../../subscribers/api.js';
import {
  type Locale,
  type Section,
  SUBSCRIBER_STATUSES,
  type SubscriberStatus,
} from '../../../../db/schema.js';
import { reasonLabel } from '../../../../delivery/reasons.js';
import { ensurePublication, listSections } from '../../../../publication/index.js';
import { QUEUES } from '../../../../queue/names.js';
import { signupSnippet } from '../../../public/signup-snippet.js';
import type { WebDeps } from '../../deps.js';
import { auditActor, requestLocale, sendAdminPage, setFlash } from '../../respond.js';
import { explainProblem, stageErrorText } from '../../stage-errors.js';
import { interpolate as interpolateText } from '../../strings.js';
import { field, fields, isLocale, localName, parseId, textsFor } from './form.js';
import { SUBSCRIBER_STRINGS } from './strings.js';
import { acceptUploads, FORM_OVERHEAD_BYTES, type UploadBody } from './upload.js';

const PAGE_SIZE = 50;
const EDITOR = { access: { kind: 'session', role: 'editor' } } as const;
const ADMIN = { access: { kind: 'session', role: 'admin' } } as const;

const cap = (s: string) => `${s[0]?.toUpperCase() ?? ''}${s.slice(1)}`;

export interface ListQuery {
  q: string;
  status: SubscriberStatus | '';
  section: string;
  /** '' any, 'yes' only suppressed addresses, 'no' only the others. */
  suppressed: '' | 'yes' | 'no';
  sort: SubscriberSort;
  dir: 'asc' | 'desc';
  /** The page position (subscriberCursor of the previous page's last row). */
  after: string;
}

/** The list's filter, order and page from the query string (pure); unknown values are dropped, not errors. */
export function subscriberFilter(query: Record<string, unknown>, sectionKeys: string[]): ListQuery {
  const str = (v: unknown) => (typeof v === 'string' ? v.trim() : '');
  const status = str(query.status);
  const section = str(query.section);
  const suppressed = str(query.suppressed);
  const sort = str(query.sort);
  return {
    q: str(query.q).slice(0, 200),
    status: (SUBSCRIBER_STATUSES as readonly string[]).includes(status) ? (status as SubscriberStatus) : '',
    section: sectionKeys.includes(section) ? section : '',
    suppressed: suppressed === 'yes' || suppressed === 'no' ? suppressed : '',
    sort: (SUBSCRIBER_SORTS as readonly string[]).includes(sort) ? (sort as SubscriberSort) : 'created',
    dir: str(query.dir) === 'desc' ? 'desc' : 'asc',
    after: /^[A-Za-z0-9_-]{1,400}$/.test(str(query.after)) ? str(query.after) : '',
  };
}

/** The stage's filter for a list query (what the page shows, counts, acts on and exports). */
export function stageFilter(q: ListQuery): StageSubscriberFilter {
  return {
    ...(q.q ? { search: q.q } : {}),
    ...(q.status ? { status: q.status } : {}),
    ...(q.section ? { section: q.section } : {}),
    ...(q.suppressed ? { suppressed: q.suppressed === 'yes' } : {}),
  };
}

/** The list's URL for a query, with some values replaced (pure). */
export function listUrl(q: ListQuery, changes: Partial<ListQuery> = {}): string {
  const next = { ...q, ...changes };
  const params = new URLSearchParams();
  if (next.q) params.set('q', next.q);
  if (next.status) params.set('status', next.status);
  if (next.section) params.set('section', next.section);
  if (next.suppressed) params.set('suppressed', next.suppressed);
  if (next.sort !== 'created') params.set('sort', next.sort);
  if (next.dir !== 'asc') params.set('dir', next.dir);
  if (next.after) params.set('after', next.after);
  const text = params.toString();
  return `/admin/subscribers${text ? `?${text}` : ''}`;
}

/** A user-facing message for the subscriber stage's errors, in the page's language. */
export function subscriberErrorMessage(
  err: unknown,
  t: Record<string, string | undefined>,
  locale: Locale,
): string | null {
  const fill = (text: string | undefined, message: string) => (text ?? '').replace('{message}', message);
  if (err instanceof SubscriberError) {
    const byCode: Record<string, string | undefined> = {
      exists: t.errExists,
      suppressed: t.errSuppressed,
      erased: t.errErased,
      reactivation: t.errReactivation,
      'not-found': t.errNotFound,
    };
    return byCode[err.code] ?? fill(t.errInvalid, err.message);
  }
  if (err instanceof InvalidEmailError) return fill(t.errEmail, stageErrorText(locale, err));
  if (err instanceof UnknownSectionError) return fill(t.errSection, err.keys.join(', '));
  return null;
}

/** The sections a form asked for: 'all' when the "every section" box is ticked. */
function chosenSections(body: unknown): string[] | 'all' {
  return field(body, 'all') === '1' ? 'all' : fields(body, 'sections');
}

function sectionChoices(sections: Section[], locale: Locale, sub?: SubscriberRecord) {
  return sections.map((s) => ({
    key: s.key,
    name: localName(s.names, locale, s.key),
    checked: sub ? !sub.all_sections && sub.sectionKeys.includes(s.key) : false,
  }));
}

/**
 * /admin/subscribers: search and page through subscribers; one subscriber's deliveries and events;
 * add, edit, suppress, erase; CSV import with its line-by-line report and a streamed CSV export.
 * Reading needs a viewer, changing an editor; erasing (irreversible) an admin. Exports carry every
 * address, so they need an editor too.
 */
export function subscribersPages(deps: WebDeps): FastifyPluginAsync {
  const { ctx } = deps;
  const { db } = ctx;

  const strings = async (req: FastifyRequest) => {
    const locale = await requestLocale(deps, req);
    return { locale, t: textsFor(locale, SUBSCRIBER_STRINGS) };
  };

  const back = (reply: FastifyReply, url: string, kind: 'notice' | 'error', message: string) =>
    setFlash(reply, kind, message).redirect(url, 303);

  async function listPage(req: FastifyRequest, reply: FastifyReply) {
    const locale = await requestLocale(deps, req);
    const t = textsFor(locale, SUBSCRIBER_STRINGS);
    const sections = await listSections(db);
    const query = subscriberFilter(
      req.query as Record<string, unknown>,
      sections.map((s) => s.key),
    );
    const where = stageFilter(query);
    const importsP = listImports(db, { limit: 5 });
    let rows: SubscriberRecord[];
    try {
      rows = await listSubscribers(db, {
        ...where,
        sort: query.sort,
        direction: query.dir,
        limit: PAGE_SIZE + 1,
        ...(query.after ? { cursor: query.after } : {}),
      });
    } catch (err) {
      // A position from another order (or an edited link) starts the list again.
      if (!(err instanceof SubscriberError)) throw err;
      rows = await listSubscribers(db, {
        ...where,
        sort: query.sort,
        direction: query.dir,
        limit: PAGE_SIZE + 1,
      });
      query.after = '';
    }
    const [total, imports] = await Promise.all([countSubscribers(db, where), importsP]);
    const page = rows.slice(0, PAGE_SIZE);
    const nameOf = new Map(sections.map((s) => [s.key, localName(s.names, locale, s.key)]));
    const last = page.at(-1);
    const columns = (['email', 'name', 'status', 'created'] as const).map((key) => {
      const current = query.sort === key;
      const dir = current && query.dir === 'asc' ? 'desc' : 'asc';
      return {
        key,
        current,
        ariaSort: current ? (query.dir === 'asc' ? 'ascending' : 'descending') : 'none',
        href: listUrl(query, { sort: key, dir, after: '' }),
        label: t[`sortBy${cap(key)}`],
      };
    });
    return sendAdminPage(deps, req, reply, {
      page: 'subscribers-list',
      title: 'subscribersTitle',
      strings: SUBSCRIBER_STRINGS,
      scripts: ['subscribers.js'],
      data: {
        filter: query,
        total,
        columns,
        column: Object.fromEntries(columns.map((c) => [c.key, c])),
        statuses: SUBSCRIBER_STATUSES.map((s) => ({ value: s, label: t[`status${cap(s)}`] })),
        sectionOptions: sections.map((s) => ({ key: s.key, name: nameOf.get(s.key) })),
        sectionChoices: sectionChoices(sections, locale),
        rows: page.map((s) => ({
          id: s.id,
          email: s.email,
          name: s.name,
          locale: s.locale === 'en' ? t.localeEn : t.localeZh,
          status: s.status,
          statusLabel: t[`status${cap(s.status)}`],
          sections: s.all_sections ? t.subAllShort : s.sectionKeys.map((k) => nameOf.get(k) ?? k).join('、'),
          createdAt: s.created_at,
        })),
        nextUrl:
          rows.length > PAGE_SIZE && last
            ? listUrl(query, { after: subscriberCursor(last, query.sort) })
            : null,
        firstUrl: query.after ? listUrl(query, { after: '' }) : null,
        exportUrl: '/admin/subscribers/export.csv',
        exportFilteredUrl: query.status ? `/admin/subscribers/export.csv?status=${query.status}` : null,
        bulkMax: MAX_TICKED,
        maxUploadMb: Math.round(ctx.env.IMPORT_MAX_BYTES / 1024 / 1024),
        recentImports: imports.map((i) => ({
          url: `/admin/subscribers/imports/${i.id}`,
          fileName: i.fileName,
          createdAt: i.createdAt,
          state: i.state,
          stateLabel: t[`subImportState${cap(i.state)}`],
          percent: i.percent,
        })),
      },
    });
  }

  async function detailPage(req: FastifyRequest, reply: FastifyReply) {
    const id = parseId((req.params as { id: string }).id);
    const sub = id ? await getSubscriber(db, id) : undefined;
    if (!id || !sub) return reply.callNotFound();
    const locale = await requestLocale(deps, req);
    const t = textsFor(locale, SUBSCRIBER_STRINGS);
    const [sections, history, suppressions, lifted] = await Promise.all([
      listSections(db),
      subscriberHistory(db, id, { limit: 100 }),
      suppressionsFor(db, sub.email_normalized),
      suppressionAudit(db, 'address', sub.email_normalized),
    ]);
    const whyOf = (reason: string, bounceReason: string | null) =>
      [
        t[`why${cap(reason.replace(/_(\w)/g, (_m, c: string) => c.toUpperCase()))}`] ?? reason,
        bounceReason ? reasonLabel(bounceReason, locale) : null,
      ]
        .filter(Boolean)
        .join(' · ');
    const nameOf = new Map(sections.map((s) => [s.key, localName(s.names, locale, s.key)]));
    const addressEntry = suppressions.find((s) => s.kind === 'address');
    const domainEntry = suppressions.find((s) => s.kind === 'domain');
    return sendAdminPage(deps, req, reply, {
      page: 'subscribers-detail',
      title: sub.email,
      strings: SUBSCRIBER_STRINGS,
      data: {
        sub: {
          ...sub,
          statusLabel: t[`status${cap(sub.status)}`],
          consentLabel: t[`consent${cap(sub.consent_source)}`],
          sectionsLabel: sub.all_sections
            ? t.subAllShort
            : sub.sectionKeys.map((k) => nameOf.get(k) ?? k).join('、') || t.none,
        },
        locales: [
          { value: 'zh-CN', label: t.localeZh, selected: sub.locale === 'zh-CN' },
          { value: 'en', label: t.localeEn, selected: sub.locale === 'en' },
        ],
        sectionChoices: sectionChoices(sections, locale, sub),
        suppressed: !!addressEntry,
        suppressionNote: addressEntry?.note ?? null,
        suppressionWhy: addressEntry ? whyOf(addressEntry.reason, addressEntry.bounce_reason) : null,
        suppressionEvidence: evidenceText(addressEntry?.evidence),
        suppressionLifts: lifted.slice(0, 5).map((l) => ({
          at: l.created_at,
          actor: l.actor,
          why: whyOf(l.reason, l.bounce_reason),
        })),
        domainSuppressed: domainEntry ? domainEntry.value : null,
        deliveries: history.deliveries.map((d) => ({
          ...d,
          stateLabel: t[`state${cap(d.state)}`] ?? d.state,
          smtp: [d.smtpCode, d.errorClass, d.skipReason].filter((x) => x !== null && x !== '').join(' · '),
          at: d.acceptedAt ?? d.updatedAt,
        })),
        events: history.events.map((e) => ({
          ...e,
          typeLabel: t[`event${cap(e.type)}`] ?? e.type,
          detail: [e.subtype, e.url].filter(Boolean).join(' · '),
        })),
      },
    });
  }

  const importRequests = queueImportRequests(deps.queue(QUEUES.imports));

  /** What the import page and its status fragment show (null: no such import). */
  async function importView(req: FastifyRequest) {
    const id = parseId((req.params as { id: string }).id);
    const record = id ? await getImport(db, id) : undefined;
    if (!id || !record) return null;
    const { locale, t } = await strings(req);
    const finished = record.state === 'done' || record.state === 'failed';
    const refusals = finished ? await importRefusals(db, id, { limit: REFUSALS_SHOWN }) : [];
    const stale =
      record.state === 'running' &&
      record.progressAt !== null &&
      ctx.now().getTime() - record.progressAt.getTime() > STALE_MS;
    const base = `/admin/subscribers/imports/${id}`;
    return {
      imp: record,
      fileName: record.fileName,
      stateLabel: t[`subImportState${cap(record.state)}`],
      live: !finished,
      statusUrl: `${base}/status`,
      pageUrl: base,
      refusedUrl: `${base}/refused.csv`,
      finished,
      stale,
      resumed: record.runs > 1,
      failureText: record.failure
        ? t.subImportStopped.replace(
            '{message}',
            (record.failure.problem && explainProblem(locale, record.failure.problem)) ??
              record.failure.message,
          )
        : null,
      skippedReasons: Object.entries(record.skippedReasons).map(([reason, n]) => ({ reason, n })),
      refusals: refusals.map((r) => ({
        line: r.line,
        value: r.value ?? '',
        reason: explainProblem(locale, r.problem) ?? r.reason,
      })),
      unlisted: Math.max(0, Math.min(record.invalid, REFUSALS_KEPT) - refusals.length),
      beyondKept: record.invalid > REFUSALS_KEPT,
      refusalsKept: REFUSALS_KEPT,
    };
  }

  return async (app) => {
    app.get('/admin/subscribers', listPage);
    app.get('/admin/subscribers/:id', detailPage);

    // The HTML an association pastes on its site (src/http/public/signup-snippet.ts).
    app.get('/admin/subscribers/signup-form', async (req, reply) => {
      const query = req.query as Record<string, unknown>;
      const locale = await requestLocale(deps, req);
      const formLocale: Locale = isLocale(String(query.locale ?? '')) ? (query.locale as Locale) : locale;
      // A ticked box sends sections=1; the first visit (no form sent yet) offers them.
      const offerSections = query.shown === undefined || query.sections === '1';
      const snippet = signupSnippet({
        publicUrl: ctx.env.PUBLIC_URL,
        locale: formLocale,
        sections: await listSections(db),
        offerSections,
      });
      return sendAdminPage(deps, req, reply, {
        page: 'subscribers-signup',
        title: 'signupTitle',
        strings: SUBSCRIBER_STRINGS,
        data: {
          snippet,
          rows: snippet.split('\n').length + 1,
          formLocale,
          offerSections,
          action: `${ctx.env.PUBLIC_URL.replace(/\/+$/, '')}/subscribe`,
          rate: ctx.env.SUBSCRIBE_RATE_PER_MINUTE,
        },
      });
    });

    app.post('/admin/subscribers', { config: EDITOR }, async (req, reply) => {
      const { locale, t } = await strings(req);
      const body = req.body;
      const sections = chosenSections(body);
      try {
        const sub = await addSubscriber(
          db,
          {
            email: field(body, 'email'),
            name: field(body, 'name') || null,
            locale: isLocale(field(body, 'locale')) ? (field(body, 'locale') as Locale) : locale,
            ...(sections === 'all' ? {} : { sectionKeys: sections }),
            consentSource: 'editor',
          },
          { now: ctx.now() },
        );
        ctx.log.info({ event: 'web.subscriber.added', subscriberId: sub.id }, 'subscriber added');
        return back(reply, `/admin/subscribers/${sub.id}`, 'notice', t.subAdded);
      } catch (err) {
        const message = subscriberErrorMessage(err, t, locale);
        if (!message) throw err;
        return back(reply, '/admin/subscribers', 'error', message);
      }
    });

    app.post('/admin/subscribers/:id', { config: EDITOR }, async (req, reply) => {
      const id = parseId((req.params as { id: string }).id);
      if (!id) return reply.callNotFound();
      const { locale: pageLocale, t } = await strings(req);
      const body = req.body;
      const locale = field(body, 'locale');
      try {
        await updateSubscriber(
          db,
          id,
          {
            name: field(body, 'name') || null,
            ...(isLocale(locale) ? { locale } : {}),
            sectionKeys: chosenSections(body),
          },
          { now: ctx.now() },
        );
        ctx.log.info({ event: 'web.subscriber.updated', subscriberId: id }, 'subscriber updated');
        return back(reply, `/admin/subscribers/${id}`, 'notice', t.subUpdated);
      } catch (err) {
        const message = subscriberErrorMessage(err, t, pageLocale);
        if (!message) throw err;
        return back(reply, `/admin/subscribers/${id}`, 'error', message);
      }
    });

    app.post('/admin/subscribers/:id/suppress', { config: EDITOR }, async (req, reply) => {
      const id = parseId((req.params as { id: string }).id);
      const sub = id ? await getSubscriber(db, id) : undefined;
      if (!sub) return reply.callNotFound();
      const { t } = await strings(req);
      const note = field(req.body, 'note').trim().slice(0, 500);
      await suppress(db, {
        kind: 'address',
        value: sub.email_normalized,
        reason: 'manual',
        ...(note ? { note } : {}),
      });
      ctx.log.info({ event: 'web.subscriber.suppressed', subscriberId: sub.id }, 'address suppressed');
      return back(reply, `/admin/subscribers/${sub.id}`, 'notice', t.subSuppressedDone);
    });

    app.post('/admin/subscribers/:id/unsuppress', { config: EDITOR }, async (req, reply) => {
      const id = parseId((req.params as { id: string }).id);
      const sub = id ? await getSubscriber(db, id) : undefined;
      if (!sub) return reply.callNotFound();
      const { t } = await strings(req);
      await unsuppress(db, { kind: 'address', value: sub.email_normalized, actor: auditActor(req) });
      ctx.log.info({ event: 'web.subscriber.unsuppressed', subscriberId: sub.id }, 'suppression removed');
      return back(reply, `/admin/subscribers/${sub.id}`, 'notice', t.subUnsuppressedDone);
    });

    app.post('/admin/subscribers/:id/erase', { config: ADMIN }, async (req, reply) => {
      const id = parseId((req.params as { id: string }).id);
      if (!id) return reply.callNotFound();
      const { t } = await strings(req);
      if (!(await eraseSubscriber(db, id))) return back(reply, '/admin/subscribers', 'error', t.errNotFound);
      ctx.log.info({ event: 'web.subscriber.erased', subscriberId: id }, 'subscriber erased');
      return back(reply, '/admin/subscribers', 'notice', t.subErased);
    });

    // A data-subject access request: everything held about one person, as JSON.
    app.get('/admin/subscribers/:id/data.json', { config: EDITOR }, async (req, reply) => {
      const id = parseId((req.params as { id: string }).id);
      const data = id ? await exportSubscriberData(db, id) : undefined;
      if (!id || !data) return reply.callNotFound();
      ctx.log.info({ event: 'web.subscriber.data_exported', subscriberId: id }, 'subscriber data exported');
      return reply
        .header('cache-control', 'no-store')
        .header('content-disposition', `attachment; filename="subscriber-${id}.json"`)
        .type('application/json; charset=utf-8')
        .send(JSON.stringify(data, null, 2));
    });

    // Streamed page by page (keyset), so a large list never sits in memory. A BOM first, so
    // Excel opens the Chinese names as UTF-8; the importer skips it.
    app.get('/admin/subscribers/export.csv', { config: EDITOR }, async (req, reply) => {
      const status = (req.query as Record<string, unknown>).status;
      const opts =
        typeof status === 'string' && (SUBSCRIBER_STATUSES as readonly string[]).includes(status)
          ? { status: status as SubscriberStatus }
          : {};
      const day = ctx.now().toISOString().slice(0, 10);
      return sendCsvDownload(reply, `subscribers-${day}.csv`, (out) =>
        exportSubscribersCsv(db, out, opts).then(
          (count) => ctx.log.info({ event: 'web.subscribers.exported', count }, 'subscribers exported'),
          (err: unknown) => {
            ctx.log.error({ event: 'web.subscribers.export_failed', err }, 'subscriber export failed');
            throw err;
          },
        ),
      );
    });

    // Bulk actions on the list: the ticked rows, or every subscriber the shown filter matches.
    // One route per action; each is one transaction with its audit row (subscribers/bulk.ts).
    const bulkInput = async (req: FastifyRequest) => {
      const body = req.body as Record<string, unknown>;
      const sections = await listSections(db);
      const query = subscriberFilter(
        body,
        sections.map((s) => s.key),
      );
      const expected = Number(field(body, 'expected'));
      const selection: BulkSelection =
        field(body, 'scope') === 'all'
          ? { filter: stageFilter(query), ...(Number.isSafeInteger(expected) ? { expected } : {}) }
          : {
              ids: fields(body, 'ids')
                .map(Number)
                .filter((n) => Number.isSafeInteger(n) && n > 0),
            };
      return { body, query, selection };
    };
    const bulkRefusal = (err: unknown, t: Record<string, string | undefined>, locale: Locale) => {
      if (err instanceof BulkActionError) {
        const text =
          t[`bulkErr${cap(err.code.replace(/-(\w)/g, (_m, c: string) => c.toUpperCase()))}`] ?? err.message;
        return interpolateText(text, err.params);
      }
      return subscriberErrorMessage(err, t, locale);
    };

    // Applies one bulk change (one transaction with its audit row), logs it and goes back to the list
    // with the notice `done` makes from the result, or with the refusal in the editor's language.
    const runBulk = async (
      req: FastifyRequest,
      reply: FastifyReply,
      change: (body: Record<string, unknown>) => Promise<BulkChange>,
      done: (t: Record<string, string | undefined>, result: BulkResult) => string,
    ) => {
      const { locale, t } = await strings(req);
      const { body, query, selection } = await bulkInput(req);
      try {
        const applied = await change(body);
        const result = await applyBulkAction(db, selection, applied, {
          actor: auditActor(req),
          now: ctx.now(),
        });
        ctx.log.info(
          {
            event: 'web.subscribers.bulk',
            action: applied.action,
            affected: result.affected,
            auditId: result.auditId,
          },
          'bulk action applied',
        );
        return back(reply, listUrl(query), 'notice', done(t, result));
      } catch (err) {
        const message = bulkRefusal(err, t, locale);
        if (!message) throw err;
        return back(reply, listUrl(query), 'error', message);
      }
    };

    app.post('/admin/subscribers/bulk/sections', { config: EDITOR }, async (req, reply) =>
      runBulk(
        req,
        reply,
        async (body) => {
          const mode = field(body, 'mode');
          const chosen = chosenSections(body);
          return mode === 'set'
            ? { action: 'sections-set', sectionKeys: chosen }
            : {
                action: mode === 'remove' ? 'sections-remove' : 'sections-add',
                sectionKeys: chosen === 'all' ? (await listSections(db)).map((s) => s.key) : chosen,
              };
        },
        (t, result) => interpolateText(t.bulkSectionsDone ?? '', { n: result.affected }),
      ),
    );

    app.post('/admin/subscribers/bulk/suppress', { config: EDITOR }, async (req, reply) =>
      runBulk(
        req,
        reply,
        async (body) => ({ action: 'suppress', note: field(body, 'note') }),
        (t, result) =>
          interpolateText(t.bulkSuppressDone ?? '', { n: result.affected, added: result.added ?? 0 }),
      ),
    );

    // The same CSV as the full export (neutralised cells, BOM), for the selection only; recorded first.
    app.post('/admin/subscribers/bulk/export', { config: EDITOR }, async (req, reply) => {
      const { locale, t } = await strings(req);
      const { query, selection } = await bulkInput(req);
      let ids: number[];
      try {
        ({ ids } = await recordBulkExport(db, selection, { actor: auditActor(req), now: ctx.now() }));
      } catch (err) {
        const message = bulkRefusal(err, t, locale);
        if (!message) throw err;
        return back(reply, listUrl(query), 'error', message);
      }
      const day = ctx.now().toISOString().slice(0, 10);
      return sendCsvDownload(reply, `subscribers-selection-${day}.csv`, (out) =>
        exportSubscribersCsv(db, out, { ids }).then(
          (count) =>
            ctx.log.info(
              { event: 'web.subscribers.exported', count, selection: true },
              'subscribers exported',
            ),
          (err: unknown) => {
            ctx.log.error({ event: 'web.subscribers.export_failed', err }, 'subscriber export failed');
            throw err;
          },
        ),
      );
    });

    app.get('/admin/subscribers/import', { config: EDITOR }, async (_req, reply) =>
      reply.redirect('/admin/subscribers#import', 303),
    );

    // The upload is stored and queued; the import runs as a job (workers/imports.ts), never in this
    // request, and its page follows it. The file is bounded by IMPORT_MAX_BYTES before anything is
    // stored (the body parser stops reading past it), its rows by IMPORT_MAX_ROWS in the job.
    await app.register(async (scoped) => {
      const maxBytes = ctx.env.IMPORT_MAX_BYTES;
      acceptUploads(scoped, maxBytes + FORM_OVERHEAD_BYTES);
      scoped.post(
        '/admin/subscribers/import',
        { config: EDITOR, bodyLimit: maxBytes + FORM_OVERHEAD_BYTES },
        async (req, reply) => {
          const { t } = await strings(req);
          const file = (req.body as UploadBody | undefined)?.files?.file;
          const refuse = (status: number, error: string) =>
            sendAdminPage(deps, req, reply, {
              page: 'subscribers-import',
              title: 'subImportReportTitle',
              strings: SUBSCRIBER_STRINGS,
              status,
              data: { error },
            });
          if (!file || file.size === 0) return refuse(400, t.subImportNoFile);
          if (file.size > maxBytes)
            return refuse(
              413,
              t.subImportTooLarge.replace('{mb}', String(Math.round(maxBytes / 1024 / 1024))),
            );
          // A fresh install's sections exist before its first document (ensurePublication seeds them).
          await ensurePublication(db, ctx.env);
          const importId = await storeImport(
            db,
            {
              fileName: file.name,
              chunks: file.chunks,
              actor: auditActor(req),
              maxRows: ctx.env.IMPORT_MAX_ROWS,
            },
            ctx.now(),
          );
          ctx.log.info(
            { event: 'web.subscribers.import_queued', importId, bytes: file.size },
            'subscriber import stored and queued',
          );
          const page = `/admin/subscribers/imports/${importId}`;
          try {
            await importRequests.request(importId);
          } catch (err) {
            // Stored and queued in the database: a worker's scan starts it once Redis is back.
            ctx.log.warn(
              { event: 'web.subscribers.import_enqueue_failed', importId, err: (err as Error).message },
              'the import job could not be queued',
            );
            return back(reply, page, 'error', t.subImportQueueDown);
          }
          return reply.redirect(page, 303);
        },
      );
    });

    app.get('/admin/subscribers/imports/:id', { config: EDITOR }, async (req, reply) => {
      const view = await importView(req);
      if (!view) return reply.callNotFound();
      return sendAdminPage(deps, req, reply, {
        page: 'subscribers-import',
        title: 'subImportReportTitle',
        strings: SUBSCRIBER_STRINGS,
        scripts: ['subscribers.js'],
        data: view,
      });
    });

    // The status section alone, which the page's script swaps in while the import runs.
    app.get('/admin/subscribers/imports/:id/status', { config: EDITOR }, async (req, reply) => {
      const view = await importView(req);
      if (!view) return reply.callNotFound();
      return sendAdminPage(deps, req, reply, {
        page: 'subscribers-import-status',
        title: 'subImportReportTitle',
        strings: SUBSCRIBER_STRINGS,
        fragment: true,
        data: view,
      });
    });

    // Every kept refused row with its reason in the editor's language; cells a spreadsheet would
    // run as a formula are quoted (the same rule as the subscriber export).
    app.get('/admin/subscribers/imports/:id/refused.csv', { config: EDITOR }, async (req, reply) => {
      const id = parseId((req.params as { id: string }).id);
      const record = id ? await getImport(db, id) : undefined;
      if (!id || !record) return reply.callNotFound();
      const { locale, t } = await strings(req);
      const csv = stringify({
        header: true,
        columns: [
          { key: 'line', header: t.subImportLine },
          { key: 'value', header: t.subImportValue },
          { key: 'reason', header: t.subImportReason },
        ],
        cast: { string: neutraliseCell },
      });
      return sendCsvDownload(reply, `import-${id}-refused.csv`, async (out) => {
        csv.pipe(out);
        let after = 0;
        for (;;) {
          const page = await importRefusals(db, id, { afterN: after, limit: 2000 });
          if (!page.length) break;
          for (const r of page) {
            const ok = csv.write({
              line: String(r.line),
              value: r.value ?? '',
              reason: explainProblem(locale, r.problem) ?? r.reason,
            });
            if (!ok) await new Promise((resolve) => csv.once('drain', resolve));
          }
          after = page.at(-1)?.n ?? after;
        }
        csv.end();
      });
    });
  };
}

/**
 * A CSV download streamed as it is written: a BOM first (so spreadsheet programs read UTF-8), then
 * whatever `write` puts on the stream; a failure part-way ends the download with an error.
 */
function sendCsvDownload(
  reply: FastifyReply,
  fileName: string,
  write: (out: PassThrough) => Promise<unknown>,
) {
  const out = new PassThrough();
  out.write('\ufeff');
  write(out).catch((err: unknown) => out.destroy(err instanceof Error ? err : new Error(String(err))));
  return reply
    .header('cache-control', 'no-store')
    .header('content-disposition', `attachment; filename="${fileName}"`)
    .type('text/csv; charset=utf-8')
    .send(out);
}

/** Rows of refusals the page lists; the download has every kept one. */
const REFUSALS_SHOWN = 100;
/** A running import with no stored progress for this long is probably without a worker. */
const STALE_MS = 2 * 60_000;

/** "5.2.2 · 552 mailbox full" from a suppression's evidence. */
function evidenceText(evidence: Record<string, unknown> | null | undefined): string | null {
  if (!evidence) return null;
  const parts = [evidence.feedbackType, evidence.status, evidence.diagnostic].filter(
    (x): x is string => typeof x === 'string' && x !== '',
  );
  return parts.length ? parts.join(' · ').slice(0, 300) : null;
}
