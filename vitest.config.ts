import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { defineConfig } from 'vitest/config';

// Test SMTP relays offer STARTTLS with a loopback certificate (tests/support/loopback-tls.ts): the
// forks inherit NODE_EXTRA_CA_CERTS (Node reads it as each starts), kept with any bundle set already.
const extra = [
  process.env.NODE_EXTRA_CA_CERTS,
  path.resolve(import.meta.dirname, 'tests/fixtures/tls/loopback.crt'),
]
  .filter((f): f is string => !!f && existsSync(f))
  .map((f) => readFileSync(f, 'utf8'))
  .join('\n');
const bundle = path.join(tmpdir(), `gazette-test-ca-${process.pid}.pem`);
writeFileSync(bundle, extra);
process.env.NODE_EXTRA_CA_CERTS = bundle;

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
