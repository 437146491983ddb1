import { PassThrough, Readable } from 'node:stream';
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import {
  addSubscriber,
  CsvImportError,
  countSubscribers,
  eraseSubscriber,
  exportSubscriberData,
  exportSubscribersCsv,
  getSubscriber,
  InvalidEmailError,
  importSubscribersCsv,
  listSubscribers,
  SubscriberError,
  type SubscriberRecord,
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
import type { WebDeps } from '../../deps.js';
import { roleAllows } from '../../../../accounts/roles.js';
import { auditActor, currentUser, requestLocale, sendAdminPage, setFlash } from '../../respond.js';
import { explainProblem, stageErrorText } from '../../stage-errors.js';
import { field, fields, isLocale, localName, parseId, textsFor } from './form.js';
import { SUBSCRIBER_STRINGS } from './strings.js';
import { acceptUploads, FORM_OVERHEAD_BYTES, type UploadBody } from './upload.js';

const PAGE_SIZE = 50;
const EDITOR = { access: { kind: 'session', role: 'editor' } } as const;
const ADMIN = { access: { kind: 'session', role: 'admin' } } as const;

const cap = (s: string) => `${s[0]?.toUpperCase() ?? ''}${s.slice(1)}`;

export interface SubscriberFilter {
  q: string;
  status: SubscriberStatus | '';
  section: string;
  after: number | undefined;
}

/** The list's filter from the query string (pure); unknown values are dropped, not errors. */
export function subscriberFilter(query: Record<string, unknown>, sectionKeys: string[]): SubscriberFilter {
  const str = (v: unknown) => (typeof v === 'string' ? v.trim() : '');
  const status = str(query.status);
  const section = str(query.section);
  const after = parseId(str(query.after));
  return {
    q: str(query.q).slice(0, 200),
    status: (SUBSCRIBER_STATUSES as readonly string[]).includes(status) ? (status as SubscriberStatus) : '',
    section: sectionKeys.includes(section) ? section : '',
    after: after ?? undefined,
  };
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
    const filter = subscriberFilter(
      req.query as Record<string, unknown>,
      sections.map((s) => s.key),
    );
    const where = {
      ...(filter.q ? { search: filter.q } : {}),
      ...(filter.status ? { status: filter.status } : {}),
      ...(filter.section ? { section: filter.section } : {}),
    };
    const [rows, total] = await Promise.all([
      listSubscribers(db, {
        ...where,
        limit: PAGE_SIZE + 1,
        ...(filter.after ? { afterId: filter.after } : {}),
      }),
      countSubscribers(db, where),
    ]);
    const page = rows.slice(0, PAGE_SIZE);
    const nameOf = new Map(sections.map((s) => [s.key, localName(s.names, locale, s.key)]));
    const query = (extra: Record<string, string>) => {
      const q = new URLSearchParams();
      if (filter.q) q.set('q', filter.q);
      if (filter.status) q.set('status', filter.status);
      if (filter.section) q.set('section', filter.section);
      for (const [k, v] of Object.entries(extra)) q.set(k, v);
      const s = q.toString();
      return s ? `?${s}` : '';
    };
    return sendAdminPage(deps, req, reply, {
      page: 'subscribers-list',
      title: 'subscribersTitle',
      strings: SUBSCRIBER_STRINGS,
      scripts: ['subscribers.js'],
      data: {
        filter,
        total,
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
          rows.length > PAGE_SIZE ? `/admin/subscribers${query({ after: String(page.at(-1)?.id) })}` : null,
        firstUrl: filter.after ? `/admin/subscribers${query({})}` : null,
        exportUrl: '/admin/subscribers/export.csv',
        exportFilteredUrl: filter.status ? `/admin/subscribers/export.csv?status=${filter.status}` : null,
        maxUploadMb: Math.round(ctx.env.IMPORT_MAX_BYTES / 1024 / 1024),
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

  return async (app) => {
    app.get('/admin/subscribers', listPage);
    app.get('/admin/subscribers/:id', detailPage);

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
      const out = new PassThrough();
      out.write('\ufeff');
      const opts =
        typeof status === 'string' && (SUBSCRIBER_STATUSES as readonly string[]).includes(status)
          ? { status: status as SubscriberStatus }
          : {};
      exportSubscribersCsv(db, out, opts).then(
        (count) => ctx.log.info({ event: 'web.subscribers.exported', count }, 'subscribers exported'),
        (err: unknown) => {
          ctx.log.error({ event: 'web.subscribers.export_failed', err }, 'subscriber export failed');
          out.destroy(err instanceof Error ? err : new Error(String(err)));
        },
      );
      const day = ctx.now().toISOString().slice(0, 10);
      return reply
        .header('cache-control', 'no-store')
        .header('content-disposition', `attachment; filename="subscribers-${day}.csv"`)
        .type('text/csv; charset=utf-8')
        .send(out);
    });

    app.get('/admin/subscribers/import', { config: EDITOR }, async (_req, reply) =>
      reply.redirect('/admin/subscribers#import', 303),
    );

    // The report is the answer to the upload itself (not a redirect): it is the result of this
    // one file, and importing the same file again only updates what it already added.
    await app.register(async (scoped) => {
      const maxBytes = ctx.env.IMPORT_MAX_BYTES;
      acceptUploads(scoped, maxBytes + FORM_OVERHEAD_BYTES);
      scoped.post(
        '/admin/subscribers/import',
        { config: EDITOR, bodyLimit: maxBytes + FORM_OVERHEAD_BYTES },
        async (req, reply) => {
          const { locale, t } = await strings(req);
          const file = (req.body as UploadBody | undefined)?.files?.file;
          const show = (status: number, data: Record<string, unknown>) =>
            sendAdminPage(deps, req, reply, {
              page: 'subscribers-import',
              title: 'subImportReportTitle',
              strings: SUBSCRIBER_STRINGS,
              status,
              data,
            });
          if (!file || file.data.length === 0) return show(400, { error: t.subImportNoFile });
          if (file.data.length > maxBytes)
            return show(413, {
              error: t.subImportTooLarge.replace('{mb}', String(Math.round(maxBytes / 1024 / 1024))),
            });
          // A fresh install's sections exist before its first document (ensurePublication seeds them).
          await ensurePublication(db, ctx.env);
          try {
            // Fed in slices so the parser hands records over as it goes instead of parsing the whole
            // file in one synchronous step (the importer yields to the event loop between records).
            const summary = await importSubscribersCsv(db, Readable.from(slices(file.data, 64 * 1024)), {
              now: ctx.now(),
              maxProblemsKept: 1000,
              maxRows: ctx.env.IMPORT_MAX_ROWS,
            });
            ctx.log.info(
              {
                event: 'web.subscribers.imported',
                added: summary.added,
                updated: summary.updated,
                skipped: summary.skipped,
                invalid: summary.invalid,
              },
              'subscribers imported',
            );
            // Why rows were refused, counted by kind (of the rows listed), so 83 refusals read as one cause.
            const byKind = new Map<string, number>();
            for (const p of summary.problems) {
              const kind = p.problem.code.startsWith('email-') ? 'email' : p.problem.code;
              byKind.set(kind, (byKind.get(kind) ?? 0) + 1);
            }
            const sections = byKind.has('csv-topics') ? await listSections(db) : [];
            const mayEditSections = roleAllows(currentUser(req).role, 'admin');
            return show(200, {
              fileName: file.name,
              summary: {
                ...summary,
                // Each bad row's reason in the editor's language (the English one stays for the CLI).
                problems: summary.problems.map((p) => ({
                  line: p.line,
                  reason: explainProblem(locale, p.problem) ?? p.reason,
                })),
              },
              refusedWhy: [...byKind.entries()].map(([kind, n]) => ({
                kind,
                n,
                label: t[`refused-${kind}`] ?? kind,
              })),
              // Unknown sections are the one refusal the editor fixes elsewhere: say where.
              topicsHelp: byKind.has('csv-topics')
                ? {
                    known: sections.map((s) => localName(s.names, locale, s.key)).join('、') || t.none,
                    fix: mayEditSections ? t.subImportTopicsFix : t.subImportTopicsAskAdmin,
                    link: mayEditSections,
                  }
                : null,
              skippedReasons: Object.entries(summary.skippedReasons).map(([reason, n]) => ({
                reason: t[`skip${cap(reason)}`] ?? reason,
                n,
              })),
              unlisted: summary.invalid - summary.problems.length,
            });
          } catch (err) {
            if (err instanceof CsvImportError)
              return show(400, { error: t.subImportFailed.replace('{message}', err.message) });
            throw err;
          }
        },
      );
    });
  };
}

function* slices(data: Buffer, size: number): Generator<Buffer> {
  for (let i = 0; i < data.length; i += size) yield data.subarray(i, i + size);
}

/** "5.2.2 · 552 mailbox full" from a suppression's evidence. */
function evidenceText(evidence: Record<string, unknown> | null | undefined): string | null {
  if (!evidence) return null;
  const parts = [evidence.feedbackType, evidence.status, evidence.diagnostic].filter(
    (x): x is string => typeof x === 'string' && x !== '',
  );
  return parts.length ? parts.join(' · ').slice(0, 300) : null;
}
