export * from './access.js';
export { type AccessGuardOptions, accessGuard, type RouteAccess } from './guard.js';
export * from './passwords.js';
export * from './roles.js';
export * from './sessions.js';
export * from './users.js';
