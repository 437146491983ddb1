import { sql } from 'kysely';
import { type Db, LOCALES, type Locale, type User, type UserRole } from '../db/schema.js';
import { checkPasswordPolicy, decoyHash, hashPassword, verifyPassword } from './passwords.js';
import { isUserRole } from './roles.js';

export class UserError extends Error {
  constructor(
    readonly code: 'invalid' | 'exists' | 'not-found' | 'last-admin',
    message: string,
  ) {
    super(message);
    this.name = 'UserError';
  }
}

export type PublicUser = Pick<
  User,
  'id' | 'email' | 'name' | 'role' | 'locale' | 'disabled_at' | 'last_sign_in_at' | 'created_at'
>;

const PUBLIC_COLUMNS = [
  'id',
  'email',
  'name',
  'role',
  'locale',
  'disabled_at',
  'last_sign_in_at',
  'created_at',
] as const;

function normaliseEmail(email: string): string {
  const value = email.trim();
  if (!/^[^\s@]+@[^\s@]+$/.test(value) || value.length > 254)
    throw new UserError('invalid', `"${email}" is not an email address`);
  return value;
}

export interface NewUser {
  email: string;
  name?: string | null;
  role: UserRole;
  password: string;
  locale?: Locale | null;
}

export async function createUser(db: Db, input: NewUser): Promise<PublicUser> {
  const email = normaliseEmail(input.email);
  if (!isUserRole(input.role))
    throw new UserError('invalid', `role must be viewer, editor or admin (got "${input.role}")`);
  if (input.locale && !LOCALES.includes(input.locale))
    throw new UserError('invalid', `locale must be zh-CN or en`);
  checkPasswordPolicy(input.password);
  const existing = await findUserByEmail(db, email);
  if (existing) throw new UserError('exists', `a user with the address ${email} already exists`);
  return db
    .insertInto('users')
    .values({
      email,
      name: input.name?.trim() || null,
      role: input.role,
      password_hash: await hashPassword(input.password),
      locale: input.locale ?? null,
    })
    .returning(PUBLIC_COLUMNS)
    .executeTakeFirstOrThrow();
}

export function findUserByEmail(db: Db, email: string): Promise<User | undefined> {
  return db
    .selectFrom('users')
    .selectAll()
    .where(sql<string>`lower(email)`, '=', email.trim().toLowerCase())
    .executeTakeFirst();
}

export function getUser(db: Db, id: number): Promise<PublicUser | undefined> {
  return db.selectFrom('users').select(PUBLIC_COLUMNS).where('id', '=', id).executeTakeFirst();
}

export function listUsers(db: Db): Promise<PublicUser[]> {
  return db.selectFrom('users').select(PUBLIC_COLUMNS).orderBy('id').execute();
}

/**
 * The user whose address and password match, or null. An unknown address costs the same
 * argon2 verification as a wrong password, so timing does not reveal which addresses exist.
 */
export async function authenticate(
  db: Db,
  email: string,
  password: string,
  now: Date,
): Promise<PublicUser | null> {
  const user = await findUserByEmail(db, email);
  const ok = await verifyPassword(user?.password_hash ?? (await decoyHash()), password);
  if (!user || !ok || user.disabled_at) return null;
  await db.updateTable('users').set({ last_sign_in_at: now }).where('id', '=', user.id).execute();
  return getUser(db, user.id) as Promise<PublicUser>;
}

export interface UserPatch {
  name?: string | null;
  role?: UserRole;
  locale?: Locale | null;
  disabled?: boolean;
  password?: string;
}

/** Changes a user; refuses to demote or disable the last active admin (nobody could undo it). */
export async function updateUser(db: Db, id: number, patch: UserPatch, now: Date): Promise<PublicUser> {
  const user = await getUser(db, id);
  if (!user) throw new UserError('not-found', `no user ${id}`);
  if (patch.role !== undefined && !isUserRole(patch.role))
    throw new UserError('invalid', `role must be viewer, editor or admin (got "${patch.role}")`);
  if (patch.locale && !LOCALES.includes(patch.locale))
    throw new UserError('invalid', 'locale must be zh-CN or en');
  const losesAdmin =
    user.role === 'admin' && ((patch.role && patch.role !== 'admin') || patch.disabled === true);
  if (losesAdmin) {
    const { count } = await db
      .selectFrom('users')
      .select((eb) => eb.fn.countAll<string>().as('count'))
      .where('role', '=', 'admin')
      .where('disabled_at', 'is', null)
      .executeTakeFirstOrThrow();
    if (Number(count) <= 1)
      throw new UserError('last-admin', 'the last active admin cannot be demoted or disabled');
  }
  if (patch.password !== undefined) checkPasswordPolicy(patch.password);
  const set: Record<string, unknown> = {};
  if (patch.name !== undefined) set.name = patch.name?.trim() || null;
  if (patch.role !== undefined) set.role = patch.role;
  if (patch.locale !== undefined) set.locale = patch.locale;
  if (patch.disabled !== undefined) set.disabled_at = patch.disabled ? (user.disabled_at ?? now) : null;
  if (patch.password !== undefined) set.password_hash = await hashPassword(patch.password);
  if (Object.keys(set).length) await db.updateTable('users').set(set).where('id', '=', id).execute();
  // A disabled account or a new password ends every session the user had.
  if (patch.disabled === true || patch.password !== undefined)
    await db.deleteFrom('user_sessions').where('user_id', '=', id).execute();
  return (await getUser(db, id)) as PublicUser;
}
