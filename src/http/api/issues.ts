import type { Queue } from 'bullmq';
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { cancelIssue } from '../../delivery/api.js';
import { checkIssue, type LinkProbe, type RenderFn } from '../../issues/check.js';
import {
  addIssueItem,
  EditConflictError,
  type EditExpectation,
  moveIssueItem,
  removeIssueItem,
  reorderIssueSections,
  updateIssueFields,
  updateIssueItem,
} from '../../issues/edit.js';
import {
  exportIssue,
  ImportPeriodTakenError,
  importIssueMarkdown,
  MarkdownImportError,
} from '../../issues/import.js';
import { approveIssue, ChecklistFailedError } from '../../issues/lifecycle.js';
import { loadIssueDocument, loadIssueSections } from '../../issues/load.js';
import { rescheduleIssue, scheduleIssue, unscheduleIssue } from '../../issues/schedule.js';
import { IllegalIssueTransitionError } from '../../issues/state-machine.js';
import {
  type EditorialDeps,
  EditorialInputError,
  getIssue,
  IssueNotFoundError,
  listAudit,
} from '../../issues/store.js';
import type { ArchiveRequests } from '../../snapshots/request.js';

/**
 * JSON API for a web editor: the same functions as the CLI, behind an injected authorisation
 * check (the HTTP stage owns sessions and roles; DESIGN.md invariant 7).
 */
export interface IssueEditorRoutesOptions {
  ctx: EditorialDeps;
  /** Returns the acting user's name for the audit log, or null when the request may not edit. */
  authorize: (req: FastifyRequest) => Promise<string | null>;
  queue?: Queue;
  /** Asks the archive worker to snapshot an approved issue's sources at once. */
  archive?: ArchiveRequests;
  render?: RenderFn;
  probeLink?: LinkProbe;
}

const sourceSchema = z.object({ url: z.string().min(1), label: z.string().optional() });
const masthead = z.object({
  subtitle: z.string().optional(),
  committee: z.string().optional(),
  director: z.array(z.string()).optional(),
  deputyDirectors: z.array(z.string()).optional(),
  editorialBoard: z.array(z.string()).optional(),
  editor: z.string().optional(),
  lines: z.array(z.object({ label: z.string(), value: z.string() })).optional(),
});
const fieldsSchema = z
  .object({
    title: z.string(),
    subject: z.string().nullable(),
    preheader: z.string().nullable(),
    intro: z.string().nullable(),
    masthead,
    /** The values the editor started from, for the fields it changes (optimistic concurrency). */
    base: z.partialRecord(z.enum(['title', 'subject', 'preheader', 'intro', 'masthead']), z.unknown()),
  })
  .partial()
  .strict();
const newItemSchema = z
  .object({
    sectionKey: z.string(),
    title: z.string(),
    summary: z.string().optional(),
    sources: z.array(sourceSchema).optional(),
    position: z.number().int().min(0).optional(),
  })
  .strict();
const itemPatchSchema = z
  .object({
    title: z.string(),
    summary: z.string(),
    sources: z.array(sourceSchema),
    /** The item version the editor started from; a different one is a conflict (409). */
    version: z.number().int().min(1),
  })
  .partial()
  .strict();
const moveSchema = z
  .object({ sectionKey: z.string().optional(), position: z.number().int().min(0) })
  .strict();
const orderSchema = z.object({ sections: z.array(z.string()).min(1) }).strict();
const scheduleSchema = z.object({ at: z.string(), tz: z.string().optional() }).strict();
const importSchema = z
  .object({
    markdown: z.string().min(1),
    period: z.string().optional(),
    /** When the period already has an issue: replace its draft, or create another. */
    existing: z.enum(['replace', 'new']).optional(),
  })
  .strict();

function parse<T>(schema: z.ZodType<T>, body: unknown): T {
  const result = schema.safeParse(body ?? {});
  if (!result.success) {
    throw new EditorialInputError(
      result.error.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`).join('; '),
    );
  }
  return result.data;
}

/**
 * `?ifState=draft` on a mutation: refuse (409) unless the issue is still in that state, so a page
 * left open on a draft cannot silently return an issue approved meanwhile to draft.
 */
function expectation(req: FastifyRequest): EditExpectation {
  const raw = (req.query as Record<string, unknown> | undefined)?.ifState;
  if (raw === undefined) return {};
  if (raw !== 'draft' && raw !== 'approved' && raw !== 'scheduled')
    throw new EditorialInputError('ifState must be draft, approved or scheduled');
  return { states: [raw] };
}

function idParam(value: string): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n <= 0) throw new IssueNotFoundError(0);
  return n;
}

export const issueEditorRoutes: FastifyPluginAsync<IssueEditorRoutesOptions> = async (app, opts) => {
  const deps = opts.ctx;
  const actors = new WeakMap<FastifyRequest, string>();

  app.addHook('preHandler', async (req, reply) => {
    const actor = await opts.authorize(req);
    if (!actor) return reply.code(401).send({ error: 'unauthorized' });
    actors.set(req, actor);
  });
  const actorOf = (req: FastifyRequest) => actors.get(req) as string;

  app.setErrorHandler((err, _req, reply: FastifyReply) => {
    if (err instanceof EditConflictError) {
      return reply
        .code(409)
        .send({ error: 'conflict', reason: err.reason, message: err.message, current: err.current });
    }
    if (err instanceof IssueNotFoundError)
      return reply.code(404).send({ error: 'not_found', message: err.message, ...err.problem });
    if (err instanceof ChecklistFailedError) {
      return reply
        .code(409)
        .send({ error: 'checklist_failed', message: err.message, checklist: err.checklist });
    }
    if (err instanceof ImportPeriodTakenError) {
      return reply
        .code(409)
        .send({ error: 'period_taken', message: err.message, ...err.problem, existing: err.existing });
    }
    if (err instanceof MarkdownImportError) {
      return reply.code(422).send({ error: 'import_failed', message: err.message, problems: err.problems });
    }
    if (err instanceof IllegalIssueTransitionError) {
      return reply.code(409).send({ error: 'illegal_transition', message: err.message, ...err.problem });
    }
    if (err instanceof EditorialInputError)
      return reply.code(400).send({ error: 'bad_request', message: err.message, ...err.problem });
    // Framework refusals (a malformed body, a forged request) keep their own 4xx status.
    const status = (err as { statusCode?: number }).statusCode;
    if (status && status >= 400 && status < 500)
      return reply.code(status).send({ error: 'bad_request', message: (err as Error).message });
    deps.log.error({ event: 'issue.api.error', err: (err as Error).message }, 'issue API error');
    return reply.code(500).send({ error: 'internal' });
  });

  const needQueue = () => {
    if (!opts.queue) throw new EditorialInputError('scheduling is not available on this server');
    return opts.queue;
  };

  app.get('/api/issues', async () =>
    deps.db
      .selectFrom('issues')
      .select([
        'id',
        'period',
        'period_kind',
        'title',
        'state',
        'revision',
        'scheduled_at',
        'hold_reason',
        'updated_at',
      ])
      .orderBy('id', 'desc')
      .limit(200)
      .execute(),
  );

  app.get<{ Params: { id: string } }>('/api/issues/:id', async (req) => {
    const id = idParam(req.params.id);
    const issue = await getIssue(deps.db, id);
    const sections = await loadIssueSections(deps.db, id);
    return {
      ...issue,
      sections: sections.map(({ section, items }) => ({
        key: section.key,
        names: section.names,
        items: items.map((i) => ({
          id: i.id,
          itemId: i.item_id,
          title: i.title,
          summary: i.summary,
          sources: i.sources,
          version: i.version,
        })),
      })),
    };
  });

  app.get<{ Params: { id: string } }>('/api/issues/:id/audit', async (req) =>
    listAudit(deps.db, idParam(req.params.id)),
  );

  // `?links=false` leaves out the link probe (seconds of network time): the web editor refreshes
  // the checklist after every save and probes links only when asked.
  app.get<{ Params: { id: string }; Querystring: { links?: string } }>('/api/issues/:id/check', async (req) =>
    checkIssue(
      {
        db: deps.db,
        ...(opts.render ? { render: opts.render } : {}),
        ...(opts.probeLink && req.query.links !== 'false' ? { probeLink: opts.probeLink } : {}),
      },
      idParam(req.params.id),
    ),
  );

  app.get<{ Params: { id: string } }>('/api/issues/:id/markdown', async (req, reply) => {
    reply.type('text/markdown; charset=utf-8');
    return exportIssue(deps, idParam(req.params.id));
  });

  app.post('/api/issues/import', async (req, reply) => {
    const body = parse(importSchema, req.body);
    const result = await importIssueMarkdown(deps, body.markdown, {
      actor: actorOf(req),
      ...(body.period ? { period: body.period } : {}),
      ...(body.existing ? { existing: body.existing } : {}),
    });
    return reply.code(result.replaced ? 200 : 201).send(result);
  });

  app.patch<{ Params: { id: string } }>('/api/issues/:id', async (req) => {
    const id = idParam(req.params.id);
    const { base, ...patch } = parse(fieldsSchema, req.body);
    await updateIssueFields(deps, id, patch, actorOf(req), {
      ...expectation(req),
      ...(base ? { fields: base } : {}),
    });
    return loadIssueDocument(deps.db, id);
  });

  app.put<{ Params: { id: string } }>('/api/issues/:id/sections', async (req) => {
    const id = idParam(req.params.id);
    await reorderIssueSections(
      deps,
      id,
      parse(orderSchema, req.body).sections,
      actorOf(req),
      expectation(req),
    );
    return { ok: true };
  });

  app.post<{ Params: { id: string } }>('/api/issues/:id/items', async (req, reply) => {
    const id = idParam(req.params.id);
    const itemId = await addIssueItem(
      deps,
      id,
      parse(newItemSchema, req.body),
      actorOf(req),
      expectation(req),
    );
    return reply.code(201).send({ id: itemId });
  });

  app.patch<{ Params: { id: string; itemId: string } }>('/api/issues/:id/items/:itemId', async (req) => {
    const { version, ...patch } = parse(itemPatchSchema, req.body);
    const saved = await updateIssueItem(
      deps,
      idParam(req.params.id),
      idParam(req.params.itemId),
      patch,
      actorOf(req),
      {
        ...expectation(req),
        ...(version !== undefined ? { itemVersion: version } : {}),
      },
    );
    return { ok: true, version: saved.version };
  });

  app.post<{ Params: { id: string; itemId: string } }>('/api/issues/:id/items/:itemId/move', async (req) => {
    await moveIssueItem(
      deps,
      idParam(req.params.id),
      idParam(req.params.itemId),
      parse(moveSchema, req.body),
      actorOf(req),
      expectation(req),
    );
    return { ok: true };
  });

  app.delete<{ Params: { id: string; itemId: string } }>('/api/issues/:id/items/:itemId', async (req) => {
    await removeIssueItem(
      deps,
      idParam(req.params.id),
      idParam(req.params.itemId),
      actorOf(req),
      expectation(req),
    );
    return { ok: true };
  });

  app.post<{ Params: { id: string }; Querystring: { force?: string } }>(
    '/api/issues/:id/approve',
    async (req) =>
      approveIssue(
        {
          ...deps,
          ...(opts.render ? { render: opts.render } : {}),
          ...(opts.archive ? { archive: opts.archive } : {}),
        },
        idParam(req.params.id),
        actorOf(req),
        { force: req.query.force === 'true' },
      ),
  );

  app.post<{ Params: { id: string } }>('/api/issues/:id/schedule', async (req) => {
    const id = idParam(req.params.id);
    const body = parse(scheduleSchema, req.body);
    const current = await getIssue(deps.db, id);
    const fn = current.state === 'scheduled' ? rescheduleIssue : scheduleIssue;
    return fn({ ...deps, queue: needQueue() }, id, body, actorOf(req));
  });

  app.delete<{ Params: { id: string } }>('/api/issues/:id/schedule', async (req) =>
    unscheduleIssue({ ...deps, queue: needQueue() }, idParam(req.params.id), actorOf(req)),
  );

  // The one cancel (delivery's), whatever the state; the answer stays the cancelled issue.
  app.post<{ Params: { id: string } }>('/api/issues/:id/cancel', async (req) => {
    const { issue } = await cancelIssue(
      { ...deps, ...(opts.queue ? { issuesQueue: opts.queue } : {}) },
      idParam(req.params.id),
      actorOf(req),
    );
    return issue;
  });
};
