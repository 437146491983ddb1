import type { FastifyReply } from 'fastify';
import { SESSION_COOKIE, SESSION_MAX_MS } from '../../accounts/sessions.js';

/**
 * The session cookie: HttpOnly (scripts never see it), SameSite=Lax (a link from an email still
 * arrives signed in; mutations need the CSRF token anyway), Secure whenever the request is HTTPS.
 */
export function setSessionCookie(reply: FastifyReply, token: string): FastifyReply {
  return reply.setCookie(SESSION_COOKIE, token, {
    path: '/',
    httpOnly: true,
    sameSite: 'lax',
    secure: 'auto',
    maxAge: Math.floor(SESSION_MAX_MS / 1000),
  });
}
