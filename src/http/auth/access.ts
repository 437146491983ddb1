import type { UserRole } from '../../db/schema.js';
import { roleAllows } from '../../accounts/roles.js';

/**
 * Who may call a route, declared in its `config.access`. Routes that declare nothing get
 * defaultAccess(), which is closed for anything that changes state: a new mutating route is
 * behind a session and a CSRF token unless it says otherwise, and saying otherwise needs a reason.
 */
export type Access =
  /** Anyone. A public route that changes state names its own proof in `why` (signed token, webhook signature, rate limit). */
  | { kind: 'public'; why: string; csrf?: boolean }
  /** A signed-in user holding `role`; mutations need the session's CSRF token too. */
  | { kind: 'session'; role: UserRole }
  /** An API key or a signed-in user holding `role` (a session's mutations need a CSRF token; a key has no cookies). */
  | { kind: 'api'; role: UserRole };

export type Actor =
  | {
      kind: 'user';
      sessionId: string;
      user: { id: number; email: string; name: string | null; role: UserRole };
    }
  | { kind: 'api-key'; label: string; role: UserRole };

/** Route options for a page or action only admins may use (Fastify's `config.access`). */
export const ADMIN_ROUTE = { config: { access: { kind: 'session', role: 'admin' } } } as const;

export const SAFE_METHODS: readonly string[] = ['GET', 'HEAD', 'OPTIONS'];

export function isMutating(method: string): boolean {
  return !SAFE_METHODS.includes(method.toUpperCase());
}

export function defaultAccess(method: string, url: string): Access {
  const mutating = isMutating(method);
  const role: UserRole = mutating ? 'editor' : 'viewer';
  if (url === '/admin' || url.startsWith('/admin/')) return { kind: 'session', role };
  if (url.startsWith('/api/')) return { kind: 'api', role };
  if (mutating) return { kind: 'session', role: 'editor' };
  return { kind: 'public', why: 'read-only page' };
}

export type Verdict = 'allow' | 'unauthenticated' | 'forbidden';

/** Whether an actor may call a route: pure, so the rules are tested without a server. */
export function authorise(access: Access, actor: Actor | null): Verdict {
  if (access.kind === 'public') return 'allow';
  if (!actor) return 'unauthenticated';
  if (actor.kind === 'api-key' && access.kind !== 'api') return 'unauthenticated';
  const held = actor.kind === 'api-key' ? actor.role : actor.user.role;
  return roleAllows(held, access.role) ? 'allow' : 'forbidden';
}

/** Cookies ride along on cross-site requests; an API key never does. */
export function needsCsrf(access: Access, method: string, actor: Actor | null): boolean {
  if (!isMutating(method)) return false;
  if (access.kind === 'public') return access.csrf === true;
  return actor?.kind === 'user';
}

/** A route open to anyone; `why` names what protects it instead of a session. */
export function publicAccess(why: string): Access {
  return { kind: 'public', why };
}
