import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['tests/**/*.test.ts'],
    // Each file gets its own PostgreSQL schema and queue prefix, so files may run side by side.
    // Child processes, not threads: argon2 and PGlite are native/wasm and a crash stays in one file.
    // Two workers for two cores; PostgreSQL, Redis, Chromium and the main vitest process share them.
    // More workers only add contention (and RPC timeouts between worker and main when starved).
    pool: 'forks',
    maxWorkers: 2,
    minWorkers: 1,
    testTimeout: 30_000,
    hookTimeout: 60_000,
    reporters: ['default', './tests/support/slowest-files.ts'],
  },
});
