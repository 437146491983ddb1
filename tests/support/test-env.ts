import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Env, parseEnv } from '../../src/config/env.js';
import { TEST_DATABASE_URL } from './test-db.js';

export const TEST_REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

/** A random BullMQ prefix per test file, so files never see each other's jobs. */
export function randomQueuePrefix(): string {
  return `gtest-${randomBytes(5).toString('hex')}`;
}

/** A parsed environment for tests: real PostgreSQL and Redis, a temp data dir, a random queue prefix. */
export function testEnv(overrides: Record<string, string> = {}): Env {
  return parseEnv({
    NODE_ENV: 'test',
    LOG_LEVEL: 'silent',
    DATABASE_URL: TEST_DATABASE_URL,
    REDIS_URL: TEST_REDIS_URL,
    QUEUE_PREFIX: randomQueuePrefix(),
    DATA_DIR: mkdtempSync(join(tmpdir(), 'gazette-test-')),
    SECRET_KEY: randomBytes(32).toString('hex'),
    FETCH_ALLOW_PRIVATE: '127.0.0.1,::1,localhost',
    // A sender the operator configured (so verified) on a name reserved for tests; the built-in
    // default, newsletter@localhost, is one the checklist refuses to send from.
    MAIL_FROM: 'Gazette <newsletter@gazette.test>',
    ...overrides,
  });
}
