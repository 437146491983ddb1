import { createHash, randomBytes } from 'node:crypto';
import type { Db } from '../db/schema.js';
import type { PublicUser } from './users.js';

export const SESSION_COOKIE = 'gz_session';
/** Idle sessions end after a working week; an active one is renewed, up to 30 days in all. */
export const SESSION_IDLE_MS = 7 * 24 * 3600 * 1000;
export const SESSION_MAX_MS = 30 * 24 * 3600 * 1000;

const digest = (token: string) => createHash('sha256').update(token).digest('hex');

export interface Session {
  /** The stored id (a hash of the token); binds CSRF tokens to this session. */
  id: string;
  user: PublicUser;
  expiresAt: Date;
}

/** A new session; the token goes in the cookie and only its hash is stored. */
export async function createSession(
  db: Db,
  userId: number,
  now: Date,
): Promise<{ token: string; expiresAt: Date }> {
  const token = randomBytes(32).toString('base64url');
  const expiresAt = new Date(now.getTime() + SESSION_IDLE_MS);
  await db
    .insertInto('user_sessions')
    .values({ id: digest(token), user_id: userId, created_at: now, last_seen_at: now, expires_at: expiresAt })
    .execute();
  return { token, expiresAt };
}

/**
 * The live session for a cookie token, or null. Sliding expiry: each use pushes the idle
 * deadline out (written at most once a minute), never past SESSION_MAX_MS from sign-in.
 */
export async function findSession(db: Db, token: string | undefined, now: Date): Promise<Session | null> {
  if (!token || token.length > 100) return null;
  const id = digest(token);
  const row = await db
    .selectFrom('user_sessions as s')
    .innerJoin('users as u', 'u.id', 's.user_id')
    .select([
      's.id as sid',
      's.created_at as session_created_at',
      's.last_seen_at',
      's.expires_at',
      'u.id',
      'u.email',
      'u.name',
      'u.role',
      'u.locale',
      'u.disabled_at',
      'u.last_sign_in_at',
      'u.created_at',
    ])
    .where('s.id', '=', id)
    .executeTakeFirst();
  if (!row || row.expires_at <= now || row.disabled_at) return null;
  let expiresAt = row.expires_at;
  if (now.getTime() - row.last_seen_at.getTime() > 60_000) {
    const cap = row.session_created_at.getTime() + SESSION_MAX_MS;
    expiresAt = new Date(Math.min(now.getTime() + SESSION_IDLE_MS, cap));
    await db
      .updateTable('user_sessions')
      .set({ last_seen_at: now, expires_at: expiresAt })
      .where('id', '=', id)
      .execute();
  }
  const { sid, session_created_at: _c, last_seen_at: _l, expires_at: _e, ...user } = row;
  return { id: sid, user, expiresAt };
}

export async function endSession(db: Db, token: string | undefined): Promise<void> {
  if (!token) return;
  await db.deleteFrom('user_sessions').where('id', '=', digest(token)).execute();
}

/** Housekeeping: expired sessions are useless; every sign-in sweeps them (a cheap indexed delete). */
export async function deleteExpiredSessions(db: Db, now: Date): Promise<number> {
  const res = await db.deleteFrom('user_sessions').where('expires_at', '<=', now).executeTakeFirst();
  return Number(res.numDeletedRows);
}
