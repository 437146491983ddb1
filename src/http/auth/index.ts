export * from './access.js';
export { type AccessGuardOptions, accessGuard, type RouteAccess } from './guard.js';
