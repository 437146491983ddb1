import { USER_ROLES, type UserRole } from '../db/schema.js';

/** viewer < editor < admin: each role can do everything the one before it can. */
export function roleAllows(held: UserRole, needed: UserRole): boolean {
  return USER_ROLES.indexOf(held) >= USER_ROLES.indexOf(needed);
}

export function isUserRole(value: unknown): value is UserRole {
  return typeof value === 'string' && (USER_ROLES as readonly string[]).includes(value);
}
