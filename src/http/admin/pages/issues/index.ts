import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { roleAllows } from '../../../../accounts/roles.js';
import type { Locale } from '../../../../db/schema.js';
import { assembleDraft } from '../../../../issues/assemble.js';
import { checkIssue } from '../../../../issues/check.js';
import {
  addIssueItem,
  EditConflictError,
  type EditExpectation,
  moveIssueItem,
  removeIssueItem,
  reorderIssueSections,
  updateIssueFields,
  updateIssueItem,
  updateIssueItemLegal,
} from '../../../../issues/edit.js';
import {
  ImportPeriodTakenError,
  importIssueMarkdown,
  MarkdownImportError,
  type PeriodIssue,
} from '../../../../issues/import.js';
import { loadIssueSections } from '../../../../issues/load.js';
import { duplicateIssue, latestIssueId } from '../../../../issues/duplicate.js';
import { nextPeriod, parsePeriod } from '../../../../issues/period.js';
import {
  type EditorialDeps,
  EditorialInputError,
  getIssue,
  IssueNotFoundError,
  listAudit,
} from '../../../../issues/store.js';
import { loadIssueLegal } from '../../../../legal/load.js';
import { LEGAL_FIELDS } from '../../../../legal/types.js';
import { listSections } from '../../../../publication/sections.js';
import { escapeHtml } from '../../../../rendering/escape.js';
import { summaryHtml, summaryPlain } from '../../../../rendering/summary.js';
import { indexIssue } from '../../../../search/archive-index.js';
import { snapshotPageHtml } from '../../../../snapshots/page.js';
import { listSnapshots, readSnapshot } from '../../../../snapshots/store.js';
import { takeSnapshot, uploadSnapshotPdf } from '../../../../snapshots/take.js';
import { checklistView } from '../../checklist.js';
import type { WebDeps } from '../../deps.js';
import { issueStateLabel } from '../../issue-states.js';
import { auditActor, currentUser, requestLocale, sendAdminPage, setFlash } from '../../respond.js';
import { stageErrorText } from '../../stage-errors.js';
import { interpolate, stringsFor } from '../../strings.js';
import { legalForm, snapshotRows } from './legal-view.js';
import { ISSUE_STRINGS } from './strings.js';
import { acceptImportUploads, type ImportForm, MAX_IMPORT_BYTES, uploadedText } from './upload.js';
import {
  type FormBody,
  fieldsChange,
  formString,
  type IssueFieldValues,
  isEditable,
  mastheadForForm,
  mastheadFromForm,
  problemText,
  sectionName,
  sourcesFromForm,
  stepPosition,
} from './view.js';

const DRAFT_ONLY: EditExpectation = { states: ['draft'] };

/** A draft's item as the form last saw it (its version field), so a stale form is refused. */
function itemExpectation(body: FormBody): EditExpectation {
  const version = Number(formString(body, 'version'));
  return { ...DRAFT_ONLY, ...(Number.isSafeInteger(version) && version > 0 ? { itemVersion: version } : {}) };
}

const SORTABLE_JS = createRequire(import.meta.url).resolve('sortablejs/Sortable.min.js');

type IdParams = { Params: { id: string } };
type ItemParams = { Params: { id: string; itemId: string } };

/** The strings issues.js needs (status words, conflict and move messages, checklist labels). */
const SCRIPT_KEY =
  /^(status|conflict|check|import|line|movedTo|moveFailed|stateChanged|addSource|removeSource|source)/;
function scriptStrings(locale: Locale): Record<string, string> {
  return Object.fromEntries(Object.entries(ISSUE_STRINGS[locale]).filter(([k]) => SCRIPT_KEY.test(k)));
}

function positiveId(value: string): number | null {
  const n = Number(value);
  return Number.isSafeInteger(n) && n > 0 ? n : null;
}

function wantsJson(req: FastifyRequest): boolean {
  return (req.headers.accept ?? '').includes('application/json');
}

/**
 * The issue list and the issue editor (issue #9, point 3). Every change is a plain form post
 * answered with a redirect; src/http/admin/assets/issues.js adds drag and drop, keyboard moves without
 * a reload, autosave and the live checklist through the JSON API (/api/issues*).
 */
export function issuesPages(deps: WebDeps): FastifyPluginAsync {
  const { ctx } = deps;
  const editorial: EditorialDeps = { db: ctx.db, log: ctx.log, env: ctx.env, now: ctx.now };
  let sortableSource: string | undefined;

  const strings = async (req: FastifyRequest) => {
    const locale = await requestLocale(deps, req);
    return { locale, t: stringsFor(locale, ISSUE_STRINGS) };
  };

  async function listRows(locale: Locale) {
    const rows = await ctx.db
      .selectFrom('issues')
      .leftJoin('issue_items', 'issue_items.issue_id', 'issues.id')
      .select([
        'issues.id',
        'issues.period',
        'issues.title',
        'issues.state',
        'issues.scheduled_at',
        'issues.sending_started_at',
        'issues.sent_at',
        'issues.updated_at',
      ])
      .select((eb) => [
        eb.fn.count<string>('issue_items.id').as('items'),
        eb.fn.count<string>('issue_items.section_id').distinct().as('sections'),
      ])
      .groupBy('issues.id')
      .orderBy('issues.period', 'desc')
      .orderBy('issues.id', 'desc')
      .limit(500)
      .execute();
    const reach = await audienceReach(rows.filter((r) => r.sending_started_at !== null).map((r) => r.id));
    return rows.map((r) => {
      const seen = reach.get(r.id);
      return {
        ...r,
        items: Number(r.items),
        sections: Number(r.sections),
        stateLabel: issueStateLabel(locale, r.state),
        editable: isEditable(r.state),
        locale,
        // Once it went out: when, to how many, and how many of the accepted opened it.
        recipients: seen?.recipients ?? null,
        openRate: seen && seen.accepted > 0 ? `${((seen.opened / seen.accepted) * 100).toFixed(1)}%` : null,
      };
    });
  }

  /** Recipients, accepted and opened (as the statistics count them) of the issues that went out. */
  async function audienceReach(ids: number[]) {
    const out = new Map<number, { recipients: number; accepted: number; opened: number }>();
    if (!ids.length) return out;
    const sent = await ctx.db
      .selectFrom('deliveries')
      .select('issue_id')
      .select((eb) => [
        eb.fn.countAll<string>().as('recipients'),
        eb.fn.count<string>('id').filterWhere('state', '=', 'accepted').as('accepted'),
      ])
      .where('issue_id', 'in', ids)
      .groupBy('issue_id')
      .execute();
    const opened = await ctx.db
      .selectFrom('events')
      .select('issue_id')
      .select((eb) => eb.fn.count<string>('delivery_id').distinct().as('opened'))
      .where('type', '=', 'open')
      .where('issue_id', 'in', ids)
      .groupBy('issue_id')
      .execute();
    const openedBy = new Map(opened.map((o) => [Number(o.issue_id), Number(o.opened)]));
    for (const r of sent)
      out.set(Number(r.issue_id), {
        recipients: Number(r.recipients),
        accepted: Number(r.accepted),
        opened: openedBy.get(Number(r.issue_id)) ?? 0,
      });
    return out;
  }

  async function showList(
    req: FastifyRequest,
    reply: FastifyReply,
    extra: {
      status?: number;
      importProblems?: { line: number; message: string }[];
      importError?: string;
      importText?: string;
      importPeriod?: string;
      draftError?: string;
      draftPeriod?: string;
      /** The document's period already has issues: what to do is asked, the text kept. */
      importTaken?: { period: string; existing: PeriodIssue[]; text: string; typedPeriod: string };
    } = {},
  ) {
    const { locale, t } = await strings(req);
    const issues = await listRows(locale);
    const latestId = await latestIssueId(editorial);
    const latest = latestId ? issues.find((i) => i.id === latestId) : undefined;
    const duplicate = latest
      ? {
          id: latest.id,
          help: interpolate(t.duplicateHelp ?? '', { period: latest.period, title: latest.title }),
          nextPeriod: nextPeriod(latest.period),
        }
      : null;
    return sendAdminPage(deps, req, reply, {
      page: 'issues-list',
      title: 'issuesTitle',
      strings: ISSUE_STRINGS,
      status: extra.status ?? 200,
      scripts: ['issues.js'],
      data: {
        issues,
        duplicate,
        maxImportBytes: MAX_IMPORT_BYTES,
        importProblems: extra.importProblems?.map((p) => ({
          line: p.line,
          message: problemText(p.message, locale),
          lineLabel: interpolate(t.lineLabel ?? '', { line: p.line }),
        })),
        importError: extra.importError,
        importText: extra.importText ?? '',
        importPeriod: extra.importPeriod ?? '',
        draftError: extra.draftError,
        draftPeriod: extra.draftPeriod ?? '',
        importTaken: extra.importTaken && {
          title: interpolate(t.importTakenTitle ?? '', { period: extra.importTaken.period }),
          issues: extra.importTaken.existing.map((e) => ({
            id: e.id,
            text: interpolate(t.importTakenIssue ?? '', {
              id: e.id,
              title: e.title,
              state: issueStateLabel(locale, e.state),
            }),
            openText: interpolate(t.importTakenOpen ?? '', { id: e.id }),
          })),
          replaceText: (() => {
            const draft = extra.importTaken.existing.find((e) => e.state === 'draft');
            return draft ? interpolate(t.importTakenReplace ?? '', { id: draft.id }) : null;
          })(),
          newText: interpolate(t.importTakenNew ?? '', { period: extra.importTaken.period }),
          text: extra.importTaken.text,
          typedPeriod: extra.importTaken.typedPeriod,
        },
        jsStrings: scriptStrings(locale),
      },
    });
  }

  /**
   * The import's input: the uploaded file if one was chosen, else the pasted text. The form is
   * multipart (acceptImportUploads) or urlencoded; both carry the same fields.
   */
  function importInput(req: FastifyRequest): { text: string; period: string; tooLarge: boolean } {
    const body = (req.body ?? {}) as ImportForm;
    const field = (name: string) => {
      const v = body[name];
      return typeof v === 'string' ? v : '';
    };
    const file = body.file;
    const tooLarge = !!file && file.data.length > MAX_IMPORT_BYTES;
    const fileText = file && !tooLarge ? uploadedText(file.data) : '';
    const text = fileText.trim() ? fileText : field('markdown');
    return { text: text.replace(/^\uFEFF/, ''), period: field('period').trim(), tooLarge };
  }

  const back = (id: number, itemId?: number) => `/admin/issues/${id}${itemId ? `#item-${itemId}` : ''}`;

  /**
   * Runs a form's change; a refusal the editor can act on (a conflict, bad input, a state that
   * no longer allows editing) comes back as a flash message on the editor, never as an error page.
   */
  async function formChange(
    req: FastifyRequest,
    reply: FastifyReply,
    id: number,
    work: (t: Record<string, string>) => Promise<{ notice: string; itemId?: number }>,
    itemId?: number,
  ) {
    const { locale, t } = await strings(req);
    try {
      const done = await work(t);
      setFlash(reply, 'notice', done.notice);
      return reply.redirect(back(id, done.itemId ?? itemId), 303);
    } catch (err) {
      if (err instanceof IssueNotFoundError) return reply.callNotFound();
      if (err instanceof EditConflictError) {
        setFlash(reply, 'error', err.reason === 'state' ? (t.stateChanged ?? '') : (t.staleForm ?? ''));
        return reply.redirect(back(id, itemId), 303);
      }
      if (err instanceof EditorialInputError) {
        setFlash(reply, 'error', stageErrorText(locale, err));
        return reply.redirect(back(id, itemId), 303);
      }
      throw err;
    }
  }

  return async (app) => {
    acceptImportUploads(app);

    // SortableJS from node_modules: no CDN, the app works on a closed network.
    app.get('/static/vendor/sortable.min.js', async (_req, reply) => {
      sortableSource ??= readFileSync(SORTABLE_JS, 'utf8');
      return reply
        .type('application/javascript; charset=utf-8')
        .header('cache-control', 'public, max-age=3600')
        .send(sortableSource);
    });

    app.get('/admin/issues', async (req, reply) => showList(req, reply));

    app.post('/admin/issues/draft', async (req, reply) => {
      const { t } = await strings(req);
      const raw = formString(req.body as FormBody, 'period').trim();
      let period: { period: string; kind: 'month' | 'week' };
      try {
        period = parsePeriod(raw);
      } catch {
        const draftError = interpolate(t.periodInvalid ?? '', { period: raw });
        return showList(req, reply, { status: 400, draftError, draftPeriod: raw });
      }
      const result = await assembleDraft(editorial, period, auditActor(req));
      const notice = [
        interpolate((result.created ? t.draftCreated : t.draftToppedUp) ?? '', {
          period: period.period,
          added: result.added,
        }),
        result.unsectioned ? interpolate(t.draftUnsectioned ?? '', { n: result.unsectioned }) : '',
      ]
        .filter(Boolean)
        .join(' ');
      setFlash(reply, 'notice', notice);
      return reply.redirect(`/admin/issues/${result.issueId}`, 303);
    });

    // listmonk's and Ghost's "duplicate": the next draft shaped like this issue (src/issues/duplicate.ts).
    app.post<IdParams>('/admin/issues/:id/duplicate', async (req, reply) => {
      const id = positiveId(req.params.id);
      if (!id) return reply.callNotFound();
      const { locale, t } = await strings(req);
      const period = formString(req.body as FormBody, 'period').trim();
      try {
        const source = await getIssue(ctx.db, id);
        const result = await duplicateIssue(editorial, id, {
          actor: auditActor(req),
          ...(period ? { period } : {}),
        });
        setFlash(
          reply,
          'notice',
          interpolate(t.duplicateDone ?? '', { period: result.period, from: source.period }),
        );
        return reply.redirect(`/admin/issues/${result.issueId}`, 303);
      } catch (err) {
        if (err instanceof IssueNotFoundError) return reply.callNotFound();
        if (!(err instanceof EditorialInputError)) throw err;
        setFlash(reply, 'error', stageErrorText(locale, err));
        // A period that has its issue already: open that one, as the message says.
        const open = err.code === 'period-has-issue' ? Number(err.params.id) : null;
        return reply.redirect(open ? `/admin/issues/${open}` : '/admin/issues', 303);
      }
    });

    // The editor's live preview of a summary: the same HTML the archive and the email get, as a
    // fragment (the page's script swaps it in; CSP allows no inline script, none is needed).
    app.post('/admin/issues/summary-preview', async (req, reply) => {
      const summary = formString(req.body as FormBody, 'summary').slice(0, 20_000);
      return reply
        .header('cache-control', 'no-store')
        .type('text/html; charset=utf-8')
        .send(summaryHtml(summary));
    });

    app.post('/admin/issues/import', async (req, reply) => {
      const { locale, t } = await strings(req);
      const json = wantsJson(req);
      const input = importInput(req);
      if (input.tooLarge) {
        const message = t.importTooLarge ?? '';
        return json
          ? reply.code(413).send({ error: 'too_large', message })
          : showList(req, reply, { status: 413, importError: message });
      }
      const refuse = (status: number, message: string, problems?: { line: number; message: string }[]) =>
        json
          ? reply.code(status).send({
              error: 'import_failed',
              message,
              problems: (problems ?? []).map((p) => ({
                line: p.line,
                message: problemText(p.message, locale),
                lineLabel: interpolate(t.lineLabel ?? '', { line: p.line }),
              })),
            })
          : showList(req, reply, {
              status,
              importError: message,
              ...(problems ? { importProblems: problems } : {}),
              importText: input.text.length <= 512 * 1024 ? input.text : '',
              importPeriod: input.period,
            });
      if (!input.text.trim()) return refuse(400, t.importNoText ?? '');
      if (input.period) {
        try {
          parsePeriod(input.period);
        } catch {
          return refuse(400, interpolate(t.periodInvalid ?? '', { period: input.period }));
        }
      }
      const choice = formString(req.body as FormBody, 'existing');
      try {
        const result = await importIssueMarkdown(editorial, input.text, {
          actor: auditActor(req),
          ...(input.period ? { period: input.period } : {}),
          ...(choice === 'replace' || choice === 'new' ? { existing: choice } : {}),
        });
        const items = result.sections.reduce((n, s) => n + s.items.length, 0);
        setFlash(
          reply,
          'notice',
          interpolate((result.replaced ? t.importReplaced : t.importDone) ?? '', {
            sections: result.sections.length,
            items,
          }),
        );
        const location = `/admin/issues/${result.id}`;
        return json
          ? reply
              .code(result.replaced ? 200 : 201)
              .send({ id: result.id, location, sections: result.sections.length, items })
          : reply.redirect(location, 303);
      } catch (err) {
        if (err instanceof ImportPeriodTakenError) {
          // The script hands this one to the plain form, whose answer is the page that asks.
          if (json)
            return reply.code(409).send({
              error: 'period_taken',
              message: stageErrorText(locale, err),
              ...err.problem,
              existing: err.existing,
            });
          return showList(req, reply, {
            status: 409,
            importTaken: {
              period: err.period,
              existing: err.existing,
              text: input.text,
              typedPeriod: input.period,
            },
          });
        }
        if (err instanceof MarkdownImportError) return refuse(422, t.importFailed ?? '', err.problems);
        if (err instanceof EditorialInputError) return refuse(400, stageErrorText(locale, err));
        throw err;
      }
    });

    app.get<IdParams>('/admin/issues/:id', async (req, reply) => {
      const id = positiveId(req.params.id);
      if (!id) return reply.callNotFound();
      let issue: Awaited<ReturnType<typeof getIssue>>;
      try {
        issue = await getIssue(ctx.db, id);
      } catch (err) {
        if (err instanceof IssueNotFoundError) return reply.callNotFound();
        throw err;
      }
      const { locale, t } = await strings(req);
      const [sections, allSections, checklist, audit, snapshots] = await Promise.all([
        loadIssueSections(ctx.db, id),
        listSections(ctx.db),
        checkIssue({ db: ctx.db, render: deps.render }, id),
        listAudit(ctx.db, id),
        listSnapshots(ctx.db, id),
      ]);
      const legal = await loadIssueLegal(ctx.db, issue, sections);
      const editable = isEditable(issue.state);
      // Viewers see the same page with nothing to change; the guard refuses their posts anyway.
      const editing = editable && roleAllows(currentUser(req).role, 'editor');
      const sectionOptions = allSections.map((s) => ({
        key: s.key,
        name: sectionName(s.names, locale, s.key),
      }));
      const shown = sections.map(({ section, items }) => ({
        key: section.key,
        name: sectionName(section.names, locale, section.key),
        count: items.length,
        items: items.map((item, i) => ({
          id: item.id,
          version: item.version,
          number: i + 1,
          first: i === 0,
          last: i === items.length - 1,
          title: item.title,
          summary: item.summary,
          // Rendered by the one summary renderer (its output is escaped there), for the read view and the preview.
          summaryHtml: summaryHtml(item.summary),
          excerpt: summaryPlain(item.summary),
          sources: item.sources.map((s, n) => ({ url: s.url, label: s.label ?? '', n: n + 1 })),
          nextSource: item.sources.length + 1,
          sectionKey: section.key,
          sectionOptions: sectionOptions.map((o) => ({ ...o, current: o.key === section.key })),
          legal: legalForm(legal.get(item.id), locale, t),
        })),
      }));
      // Sections of the publication the issue does not use yet, so items can be added there too.
      const used = new Set(shown.map((s) => s.key));
      for (const s of sectionOptions)
        if (!used.has(s.key)) shown.push({ key: s.key, name: s.name, count: 0, items: [] });
      const importNotes = audit
        .filter((a) => a.action === 'import')
        .flatMap((a) => (a.detail as { problems?: { line: number; message: string }[] }).problems ?? [])
        .map((p) => ({
          line: p.line,
          message: problemText(p.message, locale),
          lineLabel: interpolate(t.lineLabel ?? '', { line: p.line }),
        }));
      const fields: IssueFieldValues = {
        title: issue.title,
        subject: issue.subject,
        preheader: issue.preheader,
        intro: issue.intro,
        masthead: issue.masthead,
      };
      const stateLabel = issueStateLabel(locale, issue.state);
      return sendAdminPage(deps, req, reply, {
        page: 'issues-editor',
        title: `${issue.title} · ${issue.period}`,
        strings: ISSUE_STRINGS,
        scripts: editing ? ['vendor/sortable.min.js', 'issues.js', 'summary-preview.js'] : ['issues.js'],
        data: {
          issue: { ...issue, stateLabel },
          editable,
          editing,
          fieldsBase: JSON.stringify(fields),
          lockedNotice:
            issue.state === 'approved' || issue.state === 'scheduled'
              ? t.notEditableApproved
              : interpolate(t.notEditableOther ?? '', { state: stateLabel }),
          sections: shown,
          sectionOptions,
          masthead: mastheadForForm(issue.masthead),
          checklist: checklistView(checklist, locale),
          importNotes,
          snapshots: snapshotRows(snapshots, t, id),
          mayArchive: roleAllows(currentUser(req).role, 'editor'),
          editorState: {
            issueId: id,
            editing,
            revision: issue.revision,
            fields,
            sections: sectionOptions,
          },
          jsStrings: scriptStrings(locale),
        },
      });
    });

    // The live checklist for issues.js, already in the page's language (the stage speaks English).
    // Links are probed only when asked: that takes seconds of network time.
    app.get<IdParams & { Querystring: { links?: string } }>(
      '/admin/issues/:id/checklist',
      async (req, reply) => {
        const id = positiveId(req.params.id);
        if (!id) return reply.code(404).send({ error: 'not_found' });
        const { locale } = await strings(req);
        try {
          const list = await checkIssue(
            {
              db: ctx.db,
              render: deps.render,
              ...(req.query.links === 'true' ? { probeLink: deps.probeLink } : {}),
            },
            id,
          );
          return reply.header('cache-control', 'no-store').send(checklistView(list, locale));
        } catch (err) {
          if (err instanceof IssueNotFoundError) return reply.code(404).send({ error: 'not_found' });
          throw err;
        }
      },
    );

    app.post<IdParams>('/admin/issues/:id/fields', async (req, reply) => {
      const id = positiveId(req.params.id);
      if (!id) return reply.callNotFound();
      return formChange(req, reply, id, async (t) => {
        const body = req.body as FormBody;
        const issue = await getIssue(ctx.db, id);
        let base: IssueFieldValues;
        try {
          base = JSON.parse(formString(body, 'base')) as IssueFieldValues;
        } catch {
          throw new EditorialInputError('the form is incomplete; reload the page', 'form-incomplete');
        }
        const submitted: IssueFieldValues = {
          title: formString(body, 'title'),
          subject: formString(body, 'subject'),
          preheader: formString(body, 'preheader'),
          intro: formString(body, 'intro'),
          masthead: mastheadFromForm(body),
        };
        const change = fieldsChange(submitted, base);
        if (Object.keys(change.patch).length)
          await updateIssueFields(editorial, id, change.patch, auditActor(req), {
            ...DRAFT_ONLY,
            fields: change.base,
          });
        return { notice: t.fieldsSaved ?? '' };
      });
    });

    app.post<IdParams>('/admin/issues/:id/items', async (req, reply) => {
      const id = positiveId(req.params.id);
      if (!id) return reply.callNotFound();
      return formChange(req, reply, id, async (t) => {
        const body = req.body as FormBody;
        const itemId = await addIssueItem(
          editorial,
          id,
          {
            sectionKey: formString(body, 'sectionKey'),
            title: formString(body, 'title'),
            summary: formString(body, 'summary'),
            sources: sourcesFromForm(body),
          },
          auditActor(req),
          DRAFT_ONLY,
        );
        return { notice: t.itemAdded ?? '', itemId };
      });
    });

    app.post<ItemParams>('/admin/issues/:id/items/:itemId', async (req, reply) => {
      const id = positiveId(req.params.id);
      const itemId = positiveId(req.params.itemId);
      if (!id || !itemId) return reply.callNotFound();
      return formChange(
        req,
        reply,
        id,
        async (t) => {
          const body = req.body as FormBody;
          await updateIssueItem(
            editorial,
            id,
            itemId,
            {
              title: formString(body, 'title'),
              summary: formString(body, 'summary'),
              sources: sourcesFromForm(body),
            },
            auditActor(req),
            itemExpectation(body),
          );
          return { notice: t.itemSaved ?? '' };
        },
        itemId,
      );
    });

    app.post<ItemParams>('/admin/issues/:id/items/:itemId/legal', async (req, reply) => {
      const id = positiveId(req.params.id);
      const itemId = positiveId(req.params.itemId);
      if (!id || !itemId) return reply.callNotFound();
      return formChange(
        req,
        reply,
        id,
        async (t) => {
          const body = req.body as FormBody;
          const confirm = formString(body, 'action') === 'confirm';
          const values = Object.fromEntries(
            LEGAL_FIELDS.filter((f) => typeof body[f] === 'string').map((f) => [f, formString(body, f)]),
          );
          await updateIssueItemLegal(
            editorial,
            id,
            itemId,
            { values, confirm },
            auditActor(req),
            itemExpectation(body),
          );
          return { notice: (confirm ? t.legalConfirmedNotice : t.legalSaved) ?? '' };
        },
        itemId,
      );
    });

    type SourceParams = { Params: { id: string; sid: string } };
    /** The snapshot row, only if it belongs to this issue. */
    const issueSnapshot = async (id: number, sid: number) => {
      const row = await ctx.db
        .selectFrom('source_snapshots')
        .select(['id', 'url', 'issue_id'])
        .where('id', '=', sid)
        .where('issue_id', '=', id)
        .executeTakeFirst();
      if (!row)
        throw new EditorialInputError(`Issue ${id} has no archived source ${sid}`, 'snapshot-missing', {
          id: sid,
        });
      return row;
    };
    const archiveDeps = { db: ctx.db, log: ctx.log, env: ctx.env, now: ctx.now };

    // An archived copy as editors see it, whatever the issue's state.
    app.get<SourceParams>('/admin/issues/:id/sources/:sid', async (req, reply) => {
      const id = positiveId(req.params.id);
      const sid = positiveId(req.params.sid);
      const snap = sid ? await readSnapshot(ctx.db, sid) : null;
      if (!id || !snap || snap.issue_id !== id) return reply.callNotFound();
      const { locale } = await strings(req);
      if (snap.pdf && (req.query as { pdf?: string }).pdf !== undefined)
        return reply.type('application/pdf').header('content-disposition', 'inline').send(snap.pdf);
      return reply
        .type('text/html; charset=utf-8')
        .header(
          'content-security-policy',
          "default-src 'none'; img-src https: http:; style-src 'unsafe-inline'",
        )
        .send(
          `<!doctype html><html lang="${locale}"><head><meta charset="utf-8"><title>${escapeHtml(snap.title ?? snap.url)}</title></head><body>${snapshotPageHtml(snap, locale, `/admin/issues/${id}/sources/${snap.id}?pdf`)}</body></html>`,
        );
    });

    app.post<SourceParams>('/admin/issues/:id/sources/:sid/retake', async (req, reply) => {
      const id = positiveId(req.params.id);
      const sid = positiveId(req.params.sid);
      if (!id || !sid) return reply.callNotFound();
      return formChange(req, reply, id, async (t) => {
        const row = await issueSnapshot(id, sid);
        const done = await takeSnapshot(archiveDeps, id, row.url);
        await indexIssue(ctx.db, id);
        if (!done.ok)
          throw new EditorialInputError(`Not archived: ${done.error}`, 'snapshot-failed', {
            error: done.error ?? '',
          });
        return { notice: t.snapshotRetaken ?? '' };
      });
    });

    app.post<SourceParams>('/admin/issues/:id/sources/:sid/pdf', async (req, reply) => {
      const id = positiveId(req.params.id);
      const sid = positiveId(req.params.sid);
      if (!id || !sid) return reply.callNotFound();
      return formChange(req, reply, id, async (t) => {
        await issueSnapshot(id, sid);
        const file = (req.body as ImportForm).file;
        if (!file) throw new EditorialInputError('No file was uploaded', 'snapshot-not-pdf', { name: '' });
        await uploadSnapshotPdf(archiveDeps, sid, file.data, file.name);
        return { notice: t.snapshotUploaded ?? '' };
      });
    });

    // The keyboard alternative to dragging, and moving to another section; works without scripts.
    app.post<ItemParams>('/admin/issues/:id/items/:itemId/move', async (req, reply) => {
      const id = positiveId(req.params.id);
      const itemId = positiveId(req.params.itemId);
      if (!id || !itemId) return reply.callNotFound();
      return formChange(
        req,
        reply,
        id,
        async (t) => {
          const body = req.body as FormBody;
          const direction = formString(body, 'direction');
          const sectionKey = formString(body, 'sectionKey');
          const sections = await loadIssueSections(ctx.db, id);
          const home = sections.find((s) => s.items.some((i) => i.id === itemId));
          if (!home)
            throw new EditorialInputError(`Issue ${id} has no item ${itemId}`, 'no-item', { item: itemId });
          if (direction === 'up' || direction === 'down') {
            const index = home.items.findIndex((i) => i.id === itemId);
            const position = stepPosition(index, home.items.length, direction);
            if (position !== index)
              await moveIssueItem(editorial, id, itemId, { position }, auditActor(req), DRAFT_ONLY);
          } else if (sectionKey && sectionKey !== home.section.key) {
            const target = sections.find((s) => s.section.key === sectionKey);
            await moveIssueItem(
              editorial,
              id,
              itemId,
              { sectionKey, position: target?.items.length ?? 0 },
              auditActor(req),
              DRAFT_ONLY,
            );
          } else if (!sectionKey) {
            throw new EditorialInputError(
              'say where to move the item: up, down or a section',
              'move-item-where',
            );
          }
          return { notice: t.itemMoved ?? '' };
        },
        itemId,
      );
    });

    // Section order within this issue (the publication's default order is in settings).
    app.post<{ Params: { id: string; key: string } }>(
      '/admin/issues/:id/sections/:key/move',
      async (req, reply) => {
        const id = positiveId(req.params.id);
        if (!id) return reply.callNotFound();
        return formChange(req, reply, id, async (t) => {
          const direction = formString(req.body as FormBody, 'direction');
          if (direction !== 'up' && direction !== 'down')
            throw new EditorialInputError('say where to move the section: up or down', 'move-section-where');
          const keys = (await loadIssueSections(ctx.db, id)).map((s) => s.section.key);
          const index = keys.indexOf(req.params.key);
          if (index < 0)
            throw new EditorialInputError(`Issue ${id} has no section ${req.params.key}`, 'no-section', {
              key: req.params.key,
            });
          const to = stepPosition(index, keys.length, direction);
          if (to !== index) {
            keys.splice(index, 1);
            keys.splice(to, 0, req.params.key);
            await reorderIssueSections(editorial, id, keys, auditActor(req), DRAFT_ONLY);
          }
          return { notice: t.sectionMoved ?? '' };
        });
      },
    );

    app.post<ItemParams>('/admin/issues/:id/items/:itemId/remove', async (req, reply) => {
      const id = positiveId(req.params.id);
      const itemId = positiveId(req.params.itemId);
      if (!id || !itemId) return reply.callNotFound();
      return formChange(req, reply, id, async (t) => {
        await removeIssueItem(editorial, id, itemId, auditActor(req), DRAFT_ONLY);
        return { notice: t.itemRemoved ?? '' };
      });
    });
  };
}
