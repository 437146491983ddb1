import type { FastifyPluginAsync, FastifyReply } from 'fastify';
import { InvalidEmailError } from '../../../subscribers/email.js';
import { eraseSubscriber, exportSubscriberData } from '../../../subscribers/privacy.js';
import { UnknownSectionError } from '../../../subscribers/sections.js';
import {
  addSubscriber,
  getSubscriber,
  listSubscribers,
  SubscriberError,
  type SubscriberRecord,
  updateSubscriber,
} from '../../../subscribers/store.js';
import { listSuppressions, suppress, unsuppress } from '../../../subscribers/suppression.js';
import { type Locale, SUBSCRIBER_STATUSES, type SubscriberStatus } from '../../db/schema.js';
import { type Access, publicAccess } from '../auth/access.js';

const EDITOR_API: Access = { kind: 'api', role: 'editor' };
const ADMIN_API: Access = { kind: 'api', role: 'admin' };

import type { HttpDeps } from '../deps.js';
import { acceptSignup } from '../public/subscribe.js';

const locale = { type: 'string', enum: ['zh-CN', 'en'] } as const;
const status = { type: 'string', enum: [...SUBSCRIBER_STATUSES] } as const;
const sectionKeys = {
  type: 'array',
  items: { type: 'string', minLength: 1, maxLength: 64 },
  maxItems: 100,
} as const;
const errorBody = { type: 'object', properties: { error: { type: 'string' } } } as const;

const subscriberSchema = {
  type: 'object',
  properties: {
    id: { type: 'integer' },
    email: { type: 'string' },
    name: { type: 'string', nullable: true },
    locale,
    status,
    consentSource: { type: 'string', enum: ['form', 'import', 'api', 'editor'] },
    allSections: { type: 'boolean' },
    sectionKeys,
    createdAt: { type: 'string', format: 'date-time' },
    confirmedAt: { type: 'string', format: 'date-time', nullable: true },
    unsubscribedAt: { type: 'string', format: 'date-time', nullable: true },
  },
} as const;

const suppressionSchema = {
  type: 'object',
  properties: {
    id: { type: 'integer' },
    kind: { type: 'string', enum: ['address', 'domain'] },
    value: { type: 'string' },
    reason: { type: 'string', enum: ['hard_bounce', 'complaint', 'manual', 'smtp_rejected'] },
    note: { type: 'string', nullable: true },
    createdAt: { type: 'string', format: 'date-time' },
  },
} as const;

function view(s: SubscriberRecord) {
  return {
    id: s.id,
    email: s.email,
    name: s.name,
    locale: s.locale,
    status: s.status,
    consentSource: s.consent_source,
    allSections: s.all_sections,
    sectionKeys: s.sectionKeys,
    createdAt: s.created_at.toISOString(),
    confirmedAt: s.confirmed_at?.toISOString() ?? null,
    unsubscribedAt: s.unsubscribed_at?.toISOString() ?? null,
  };
}

/** Maps domain errors to 4xx JSON answers that name the problem. */
function domainError(reply: FastifyReply, err: unknown) {
  if (err instanceof InvalidEmailError || err instanceof UnknownSectionError) {
    return reply.code(400).send({ error: err.message });
  }
  if (err instanceof SubscriberError) {
    const code = {
      exists: 409,
      suppressed: 409,
      erased: 409,
      'not-found': 404,
      reactivation: 409,
      invalid: 400,
    }[err.code];
    return reply.code(code).send({ error: err.message });
  }
  if (err instanceof Error && /is not a domain name/.test(err.message))
    return reply.code(400).send({ error: err.message });
  throw err;
}

/**
 * JSON API. POST /subscribe is public (for signup forms embedded in other sites; double opt-in,
 * rate-limited, the same answer for every address). Everything else needs an API key
 * (X-API-Key or Authorization: Bearer) from API_KEYS or the api_keys table.
 */
export function apiRoutes(deps: HttpDeps): FastifyPluginAsync {
  const { ctx } = deps;
  return async (app) => {
    app.post<{ Body: { email: string; name?: string; locale?: Locale; sectionKeys?: string[] } }>(
      '/subscribe',
      {
        config: {
          rateLimit: { max: ctx.env.SUBSCRIBE_RATE_PER_MINUTE, timeWindow: '1 minute' },
          access: publicAccess('double opt-in, rate-limited, same answer for every address'),
        },
        schema: {
          summary: 'Sign up (double opt-in): a confirmation message is sent if the address can subscribe',
          tags: ['public'],
          body: {
            type: 'object',
            required: ['email'],
            additionalProperties: false,
            properties: {
              email: { type: 'string', minLength: 3, maxLength: 254 },
              name: { type: 'string', maxLength: 200 },
              locale,
              sectionKeys,
            },
          },
          response: { 202: { type: 'object', properties: { status: { type: 'string' } } }, 400: errorBody },
        },
      },
      async (request, reply) => {
        try {
          await acceptSignup(deps, {
            email: request.body.email,
            name: request.body.name,
            locale: request.body.locale ?? ctx.env.DEFAULT_LOCALE,
            sectionKeys: request.body.sectionKeys ?? [],
          });
        } catch (err) {
          return domainError(reply, err);
        }
        return reply.code(202).send({ status: 'confirmation_pending' });
      },
    );

    await app.register(async (admin) => {
      // The access guard admits an API key or a session holding the route's role (a session's
      // changes need its CSRF token): what the pages allow a role, the API allows it too. Reading
      // the list in bulk or one person's data is an export (editors); erasing is for admins.
      const security = [{ apiKey: [] }];
      const idParam = {
        type: 'object',
        properties: { id: { type: 'integer', minimum: 1 } },
        required: ['id'],
      } as const;

      admin.get<{
        Querystring: { status?: SubscriberStatus; after?: number; limit?: number; search?: string };
      }>(
        '/subscribers',
        {
          config: { access: EDITOR_API },
          schema: {
            summary: 'List subscribers (keyset pages: pass the last id as `after`)',
            tags: ['subscribers'],
            security,
            querystring: {
              type: 'object',
              additionalProperties: false,
              properties: {
                status,
                after: { type: 'integer', minimum: 0, maximum: Number.MAX_SAFE_INTEGER },
                limit: { type: 'integer', minimum: 1, maximum: 1000 },
                search: { type: 'string', maxLength: 254 },
              },
            },
            response: {
              200: {
                type: 'object',
                properties: {
                  subscribers: { type: 'array', items: subscriberSchema },
                  next: { type: 'integer', nullable: true },
                },
              },
            },
          },
        },
        async (request) => {
          const limit = request.query.limit ?? 100;
          const rows = await listSubscribers(ctx.db, {
            limit,
            ...(request.query.status ? { status: request.query.status } : {}),
            ...(request.query.after !== undefined ? { afterId: request.query.after } : {}),
            ...(request.query.search ? { search: request.query.search } : {}),
          });
          return {
            subscribers: rows.map(view),
            next: rows.length === limit ? (rows.at(-1)?.id ?? null) : null,
          };
        },
      );

      admin.post<{
        Body: {
          email: string;
          name?: string;
          locale?: Locale;
          sectionKeys?: string[];
          status?: 'active' | 'pending';
        };
      }>(
        '/subscribers',
        {
          schema: {
            summary: 'Add a subscriber (consent source: api)',
            tags: ['subscribers'],
            security,
            body: {
              type: 'object',
              required: ['email'],
              additionalProperties: false,
              properties: {
                email: { type: 'string', minLength: 3, maxLength: 254 },
                name: { type: 'string', maxLength: 200 },
                locale,
                sectionKeys,
                status: { type: 'string', enum: ['active', 'pending'] },
              },
            },
            response: { 201: subscriberSchema, 400: errorBody, 409: errorBody },
          },
        },
        async (request, reply) => {
          try {
            const sub = await addSubscriber(
              ctx.db,
              { ...request.body, consentSource: 'api' },
              { now: ctx.now() },
            );
            ctx.log.info({ event: 'subscriber.added', subscriberId: sub.id, via: 'api' }, 'subscriber added');
            return reply.code(201).send(view(sub));
          } catch (err) {
            return domainError(reply, err);
          }
        },
      );

      admin.get<{ Params: { id: number } }>(
        '/subscribers/:id',
        {
          schema: {
            tags: ['subscribers'],
            security,
            params: idParam,
            response: { 200: subscriberSchema, 404: errorBody },
          },
        },
        async (request, reply) => {
          const sub = await getSubscriber(ctx.db, request.params.id);
          return sub
            ? view(sub)
            : reply.code(404).send({ error: `No subscriber with id ${request.params.id}` });
        },
      );

      admin.patch<{
        Params: { id: number };
        Body: {
          name?: string | null;
          locale?: Locale;
          sectionKeys?: string[] | 'all';
          status?: SubscriberStatus;
        };
      }>(
        '/subscribers/:id',
        {
          schema: {
            summary: 'Change a subscriber; unsubscribed, bounced or complained people cannot be re-activated',
            tags: ['subscribers'],
            security,
            params: idParam,
            body: {
              type: 'object',
              additionalProperties: false,
              minProperties: 1,
              properties: {
                name: { type: 'string', maxLength: 200, nullable: true },
                locale,
                sectionKeys: { anyOf: [{ type: 'string', enum: ['all'] }, sectionKeys] },
                status,
              },
            },
            response: { 200: subscriberSchema, 400: errorBody, 404: errorBody, 409: errorBody },
          },
        },
        async (request, reply) => {
          try {
            return view(await updateSubscriber(ctx.db, request.params.id, request.body, { now: ctx.now() }));
          } catch (err) {
            return domainError(reply, err);
          }
        },
      );

      admin.delete<{ Params: { id: number } }>(
        '/subscribers/:id',
        {
          config: { access: ADMIN_API },
          schema: {
            summary: 'Erase a subscriber (only a hash of the address is kept)',
            tags: ['privacy'],
            security,
            params: idParam,
            response: { 204: { type: 'null' }, 404: errorBody },
          },
        },
        async (request, reply) => {
          const erased = await eraseSubscriber(ctx.db, request.params.id);
          if (!erased) return reply.code(404).send({ error: `No subscriber with id ${request.params.id}` });
          ctx.log.info({ event: 'subscriber.erased', subscriberId: request.params.id }, 'subscriber erased');
          return reply.code(204).send();
        },
      );

      admin.get<{ Params: { id: number } }>(
        '/subscribers/:id/data',
        {
          config: { access: EDITOR_API },
          schema: {
            summary: 'Everything held about one subscriber (JSON)',
            tags: ['privacy'],
            security,
            params: idParam,
          },
        },
        async (request, reply) => {
          const data = await exportSubscriberData(ctx.db, request.params.id);
          return data ?? reply.code(404).send({ error: `No subscriber with id ${request.params.id}` });
        },
      );

      admin.get<{ Querystring: { kind?: 'address' | 'domain'; after?: number; limit?: number } }>(
        '/suppressions',
        {
          config: { access: EDITOR_API },
          schema: {
            tags: ['suppressions'],
            security,
            querystring: {
              type: 'object',
              additionalProperties: false,
              properties: {
                kind: { type: 'string', enum: ['address', 'domain'] },
                after: { type: 'integer', minimum: 0, maximum: 2147483647 },
                limit: { type: 'integer', minimum: 1, maximum: 1000 },
              },
            },
            response: {
              200: {
                type: 'object',
                properties: { suppressions: { type: 'array', items: suppressionSchema } },
              },
            },
          },
        },
        async (request) => {
          const rows = await listSuppressions(ctx.db, {
            limit: request.query.limit ?? 100,
            ...(request.query.kind ? { kind: request.query.kind } : {}),
            ...(request.query.after !== undefined ? { afterId: request.query.after } : {}),
          });
          return { suppressions: rows.map((r) => ({ ...r, createdAt: r.created_at.toISOString() })) };
        },
      );

      admin.post<{ Body: { kind: 'address' | 'domain'; value: string; note?: string } }>(
        '/suppressions',
        {
          schema: {
            summary: 'Never send to an address or a whole domain',
            tags: ['suppressions'],
            security,
            body: {
              type: 'object',
              required: ['kind', 'value'],
              additionalProperties: false,
              properties: {
                kind: { type: 'string', enum: ['address', 'domain'] },
                value: { type: 'string', minLength: 3, maxLength: 254 },
                note: { type: 'string', maxLength: 500 },
              },
            },
            response: { 201: suppressionSchema, 400: errorBody },
          },
        },
        async (request, reply) => {
          try {
            const row = await suppress(ctx.db, {
              kind: request.body.kind,
              value: request.body.value,
              reason: 'manual',
              ...(request.body.note ? { note: request.body.note } : {}),
            });
            return reply.code(201).send({ ...row, createdAt: row.created_at.toISOString() });
          } catch (err) {
            return domainError(reply, err);
          }
        },
      );

      admin.delete<{ Body: { kind: 'address' | 'domain'; value: string } }>(
        '/suppressions',
        {
          schema: {
            summary: 'Remove a suppression entry',
            tags: ['suppressions'],
            security,
            body: {
              type: 'object',
              required: ['kind', 'value'],
              additionalProperties: false,
              properties: {
                kind: { type: 'string', enum: ['address', 'domain'] },
                value: { type: 'string' },
              },
            },
            response: { 204: { type: 'null' }, 404: errorBody, 400: errorBody },
          },
        },
        async (request, reply) => {
          try {
            const who = request.actor;
            const actor =
              who?.kind === 'user' ? `user:${who.user.email}` : who?.kind === 'api-key' ? who.label : 'api';
            const removed = await unsuppress(ctx.db, { ...request.body, actor });
            return removed
              ? reply.code(204).send()
              : reply.code(404).send({ error: 'No such suppression entry' });
          } catch (err) {
            return domainError(reply, err);
          }
        },
      );
    });
  };
}
