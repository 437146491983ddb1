export * from './api-keys.js';
export * from './passwords.js';
export * from './roles.js';
export * from './sessions.js';
export * from './users.js';
