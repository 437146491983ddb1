import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Locale, Publication } from '../../db/schema.js';
import { getPublication } from '../../publication/index.js';
import { senderState } from '../../publication/sender.js';
import type { WebDeps } from './deps.js';
import { adminLocale } from './locale.js';
import type { AdminView, ViewContext } from './render.js';

const FLASH_COOKIE = 'gz_flash';

/** A one-shot message shown on the next page (post, redirect, get). */
export function setFlash(reply: FastifyReply, kind: 'notice' | 'error', message: string): FastifyReply {
  return reply.setCookie(FLASH_COOKIE, JSON.stringify({ kind, message }), {
    path: '/admin',
    httpOnly: true,
    sameSite: 'lax',
    secure: 'auto',
    signed: true,
    maxAge: 60,
  });
}

function takeFlash(req: FastifyRequest, reply: FastifyReply): ViewContext['flash'] {
  const raw = req.cookies[FLASH_COOKIE];
  if (!raw) return undefined;
  reply.clearCookie(FLASH_COOKIE, { path: '/admin' });
  const unsigned = reply.unsignCookie(raw);
  if (!unsigned.valid || !unsigned.value) return undefined;
  try {
    const parsed = JSON.parse(unsigned.value) as { kind?: string; message?: string };
    if ((parsed.kind === 'notice' || parsed.kind === 'error') && typeof parsed.message === 'string')
      return { kind: parsed.kind, message: parsed.message };
  } catch {}
  return undefined;
}

/** The signed-in user's locale, read fresh so a change applies on the next page. */
export async function requestLocale(deps: WebDeps, req: FastifyRequest): Promise<Locale> {
  const actor = req.actor;
  let own: Locale | null = null;
  if (actor?.kind === 'user') {
    const row = await deps.ctx.db
      .selectFrom('users')
      .select('locale')
      .where('id', '=', actor.user.id)
      .executeTakeFirst();
    own = row?.locale ?? null;
  }
  return adminLocale(req, own, deps.ctx.env.DEFAULT_LOCALE);
}

/** What an admin is told on every page while issues cannot go out from the sender (pure). */
function setupNotice(
  publication: Publication | undefined,
  actor: FastifyRequest['actor'],
): ViewContext['setup'] {
  if (actor?.kind !== 'user' || actor.user.role !== 'admin') return undefined;
  const state = senderState(publication);
  return state === 'verified' ? undefined : { state, email: publication?.from_email ?? '' };
}

export async function viewContext(
  deps: WebDeps,
  req: FastifyRequest,
  reply: FastifyReply,
): Promise<ViewContext> {
  const publication = await getPublication(deps.ctx.db);
  const actor = req.actor;
  return {
    locale: await requestLocale(deps, req),
    user: actor?.kind === 'user' ? actor.user : null,
    csrf: reply.csrfToken(),
    // The brand already says Gazette: a fresh install's default name is not said twice.
    publication: publication?.name && publication.name !== 'Gazette' ? publication.name : null,
    timeZone: publication?.time_zone ?? deps.ctx.env.DEFAULT_TIME_ZONE,
    path: req.url.split('?')[0] ?? req.url,
    flash: takeFlash(req, reply),
    setup: setupNotice(publication, actor),
  };
}

/** Renders an admin page for this request (HTML, no caching: pages show live data). */
export async function sendAdminPage(
  deps: WebDeps,
  req: FastifyRequest,
  reply: FastifyReply,
  view: AdminView,
): Promise<FastifyReply> {
  const context = await viewContext(deps, req, reply);
  return reply
    .code(view.status ?? 200)
    .header('cache-control', 'no-store')
    .type('text/html; charset=utf-8')
    .send(deps.pages(view, context));
}

/** The signed-in user (the access guard guarantees one on every /admin page but sign-in). */
export function currentUser(req: FastifyRequest) {
  const actor = req.actor;
  if (actor?.kind !== 'user') throw Object.assign(new Error('sign in is required'), { statusCode: 401 });
  return actor.user;
}

/** The audit log's name for the signed-in user. */
export function auditActor(req: FastifyRequest): string {
  return `user:${currentUser(req).email}`;
}
