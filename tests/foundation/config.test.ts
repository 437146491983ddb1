import { describe, expect, it } from 'vitest';
import { ConfigError, parseEnv } from '../../src/config/env.js';

function problemsOf(source: Record<string, string>): string[] {
  try {
    parseEnv(source);
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  throw new Error('expected a ConfigError');
}

describe('environment', () => {
  it('runs on embedded defaults when nothing is set', () => {
    const env = parseEnv({});
    expect(env.DATABASE_URL).toBeUndefined();
    expect(env.SMTP_URL).toBeUndefined();
    expect(env.REDIS_URL).toBe('redis://127.0.0.1:6379');
    expect(env.DEFAULT_TIME_ZONE).toBe('Asia/Shanghai');
    expect(env.QUEUE_PREFIX).toBe('gazette');
  });

  it('names the variable and the bad value it was given', () => {
    const problems = problemsOf({ REDIS_URL: 'http://localhost:6379', HTTP_PORT: 'eighty' });
    expect(problems).toHaveLength(2);
    expect(problems.find((p) => p.startsWith('REDIS_URL:'))).toContain('redis://');
    expect(problems.find((p) => p.startsWith('HTTP_PORT:'))).toContain('"eighty"');
  });

  it('rejects a time zone that is not an IANA zone', () => {
    expect(problemsOf({ DEFAULT_TIME_ZONE: 'China/Beijing' })[0]).toMatch(/^DEFAULT_TIME_ZONE: .*IANA/);
  });

  it('refuses a short secret without echoing it', () => {
    const [problem] = problemsOf({ SECRET_KEY: 'hunter2' });
    expect(problem).toMatch(/^SECRET_KEY: must be at least 32 characters$/);
  });

  it.each([
    ['DATABASE_URL', 'mysql://gazette:s3cret-pw@db.example/gazette', 'mysql://***@db.example/gazette'],
    [
      'SMTP_URL',
      'smtp://mailer:s3cret-pw@relay.example:587,http://x:s3cret-pw@b',
      '"smtp://***@relay.example:587,http://***@b"',
    ],
    ['REDIS_URL', 'http://:s3cret-pw@cache.example:6379', 'http://***@cache.example:6379'],
    [
      'DATABASE_URL',
      'postgres://u:s3cret-pw/with@slash@db.example:x/gazette',
      'postgres://***@db.example:x/gazette',
    ],
  ])('names a bad %s without the password in it', (name, value, shown) => {
    const [problem] = problemsOf({ [name]: value });
    expect(problem).toMatch(new RegExp(`^${name}(\\.\\d+)?: `));
    expect(problem).not.toContain('s3cret-pw');
    expect(problem).toContain(shown.replaceAll('"', ''));
  });

  it.each([
    ['API_KEYS', 'short-key-s3cret'],
    ['METRICS_TOKEN', 'short-s3cret'],
    ['SECRET_KEY_PREVIOUS', 'short-s3cret'],
  ])('refuses a bad %s without echoing any of it', (name, value) => {
    const [problem] = problemsOf({ [name]: value });
    expect(problem).toMatch(new RegExp(`^${name}`));
    expect(problem).not.toContain('s3cret');
  });

  it('trusts no proxy unless TRUST_PROXY names one', () => {
    expect(parseEnv({}).TRUST_PROXY).toBe('false');
    expect(parseEnv({ TRUST_PROXY: '10.0.0.0/8' }).TRUST_PROXY).toBe('10.0.0.0/8');
  });

  it('requires SECRET_KEY in production', () => {
    expect(problemsOf({ NODE_ENV: 'production' })).toEqual(['SECRET_KEY: required when NODE_ENV=production']);
  });

  it('parses several SMTP relays and refuses a non-SMTP one', () => {
    expect(parseEnv({ SMTP_URL: 'smtp://a:25, smtps://b:465#weight=2' }).SMTP_URL).toEqual([
      'smtp://a:25',
      'smtps://b:465#weight=2',
    ]);
    expect(problemsOf({ SMTP_URL: 'smtp://a:25,https://b' })[0]).toMatch(/^SMTP_URL\.1: /);
  });

  it('treats empty strings as unset', () => {
    expect(parseEnv({ DATABASE_URL: '  ', HTTP_PORT: '' }).HTTP_PORT).toBe(3000);
  });
});
