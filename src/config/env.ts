import { IANAZone } from 'luxon';
import { z } from 'zod';

/**
 * The whole environment, parsed once at start. Every variable Gazette reads is here, so a
 * newcomer can see them in one place and a bad value stops the program before it does anything.
 */

const int = (min: number, max: number) => z.coerce.number().int().min(min).max(max);

const url = (protocols: string[]) =>
  z.string().refine(
    (v) => {
      try {
        return protocols.includes(new URL(v).protocol);
      } catch {
        return false;
      }
    },
    { message: `must be a URL starting with ${protocols.map((p) => `${p}//`).join(' or ')}` },
  );

const list = z.string().transform((v) =>
  v
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean),
);

export const envSchema = z.object({
  NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),

  /** Where the embedded database, the SMTP catcher's outbox and the dev secret live. */
  DATA_DIR: z.string().min(1).default('./data'),
  /** PostgreSQL. Unset: an embedded PGlite under DATA_DIR/pglite (one process only). */
  DATABASE_URL: url(['postgres:', 'postgresql:']).optional(),
  DATABASE_POOL_SIZE: int(1, 200).default(10),

  REDIS_URL: url(['redis:', 'rediss:']).default('redis://127.0.0.1:6379'),
  /** BullMQ key prefix. Use a hash tag, e.g. {gazette}, on Redis Cluster. */
  QUEUE_PREFIX: z
    .string()
    .regex(/^[A-Za-z0-9:{}_-]+$/, 'letters, digits, : { } _ - only')
    .default('gazette'),

  /** One or more SMTP relays, comma separated; `smtp://…#weight=3` weights a relay. Unset: in-process catcher. */
  SMTP_URL: list
    .pipe(z.array(url(['smtp:', 'smtps:'])).min(1, 'must name at least one smtp:// or smtps:// URL'))
    .optional(),
  /** Port for the in-process SMTP catcher used when SMTP_URL is unset (0 = any free port). */
  SMTP_CATCHER_PORT: int(0, 65535).default(0),

  PUBLIC_URL: url(['http:', 'https:']).default('http://localhost:3000'),
  HTTP_HOST: z.string().min(1).default('127.0.0.1'),
  HTTP_PORT: int(0, 65535).default(3000),
  /** Admin API keys for /api/v1 (comma separated, at least 24 characters each); keys may also live in the api_keys table. */
  API_KEYS: list.pipe(z.array(z.string().min(24, 'each API key must be at least 24 characters'))).default([]),
  /** How long a double opt-in confirmation link stays valid. */
  CONFIRM_TOKEN_TTL_HOURS: int(1, 24 * 30).default(48),
  /** How long preference links in a message keep working (unsubscribe links never expire). */
  LINK_TOKEN_TTL_DAYS: int(1, 3650).default(400),
  /** Bearer token a Prometheus server presents to scrape /metrics (read-only; 24+ characters). Unset: API keys and admin sessions only. */
  METRICS_TOKEN: z.string().min(24, 'must be at least 24 characters').optional(),
  /** Proxies whose X-Forwarded-For gives the client address (for rate limits): IPs/CIDRs, `loopback`, or `true` (any). Unset: none, the peer's address counts. */
  TRUST_PROXY: z.string().min(1).default('false'),
  /** Subscribe form submissions allowed per client address per minute. */
  SUBSCRIBE_RATE_PER_MINUTE: int(1, 10_000).default(10),

  /** HMAC key for signed links and sessions. Required in production; in development one is kept in DATA_DIR. */
  SECRET_KEY: z.string().min(32, 'must be at least 32 characters').optional(),
  /** The key being rotated out: tokens signed with it still verify. */
  SECRET_KEY_PREVIOUS: z.string().min(32, 'must be at least 32 characters').optional(),

  DEFAULT_TIME_ZONE: z
    .string()
    .refine((tz) => IANAZone.isValidZone(tz), { message: 'must be an IANA time zone such as Asia/Shanghai' })
    .default('Asia/Shanghai'),
  DEFAULT_LOCALE: z.enum(['zh-CN', 'en']).default('zh-CN'),

  MAIL_FROM: z.string().min(3).default('Gazette <newsletter@localhost>'),
  /** VERP bounce domain: Return-Path becomes bounce+<delivery id>@BOUNCE_DOMAIN. */
  BOUNCE_DOMAIN: z.string().optional(),
  /** Inbound SMTP receiver for VERP bounces and feedback-loop reports (`gazette bounces receive`). */
  BOUNCE_SMTP_HOST: z.string().min(1).default('127.0.0.1'),
  BOUNCE_SMTP_PORT: int(0, 65535).default(2526),
  /** SNS topics whose SES notifications are accepted at /webhooks/ses (comma separated; empty = any verified topic). */
  SES_SNS_TOPIC_ARNS: list.default([]),
  /** Mailgun webhook signing key for /webhooks/mailgun (the route answers 503 without it). */
  MAILGUN_WEBHOOK_SIGNING_KEY: z.string().optional(),

  /** Hosts or CIDR ranges that fetches may reach even though they are private (e.g. 127.0.0.1 for local feeds). */
  FETCH_ALLOW_PRIVATE: list.default([]),
  FETCH_TIMEOUT_MS: int(100, 300_000).default(15_000),
  FETCH_MAX_BYTES: int(1024, 200 * 1024 * 1024).default(5 * 1024 * 1024),
  FETCH_MAX_REDIRECTS: int(0, 20).default(5),
  /** Consecutive failed polls after which a source is marked failing and polled with backoff. */
  FEED_FAILING_AFTER: int(1, 100).default(3),
  /** Longest wait between polls of a failing source (the backoff doubles up to this). */
  FEED_MAX_BACKOFF_MINUTES: int(1, 7 * 24 * 60).default(24 * 60),
  /** Sources fetched at once by `gazette poll` and one feed worker. */
  FEED_POLL_CONCURRENCY: int(1, 200).default(8),

  SEND_CONCURRENCY: int(1, 1000).default(20),
  /** Send jobs one worker process runs at once (each sends a chunk of SEND_CONCURRENCY at a time). */
  SEND_JOBS_PER_WORKER: int(1, 100).default(4),
  /** SMTP connections per transport per worker process. */
  SMTP_POOL_CONNECTIONS: int(1, 100).default(5),
  /** Default rate limits per transport (0 = none); a URL may override with #perSecond=N&perHour=N. */
  SMTP_RATE_PER_SECOND: int(0, 1_000_000).default(0),
  SMTP_RATE_PER_HOUR: int(0, 100_000_000).default(0),
  /** How long a claimed or sending row is leased before a resume scan may take it back. */
  SEND_LEASE_SECONDS: int(1, 3600).default(120),
  /** Attempts for a temporarily refused message before it fails; backoff doubles from the base. */
  SEND_MAX_ATTEMPTS: int(1, 50).default(6),
  SEND_RETRY_BASE_MS: int(1, 3_600_000).default(60_000),
  /** Circuit breaker: pause an issue when this share of the last SEND_BREAKER_WINDOW results failed. */
  SEND_BREAKER_RATIO: z.coerce.number().min(0.01).max(1).default(0.5),
  SEND_BREAKER_WINDOW: int(5, 100_000).default(200),
  /** A relay refused for reputation, spam content or authentication (5.7.x, DT:SPM) rests this long. */
  SEND_BLOCK_REST_SECONDS: int(1, 86_400).default(600),
  /** How often a worker looks for rows that lost their job (Redis lost, lease expired). */
  SEND_RESUME_SCAN_SECONDS: int(1, 86_400).default(30),
  /** DKIM signing: all three set to sign. The key is PEM text or a path to a PEM file. */
  DKIM_DOMAIN: z.string().optional(),
  DKIM_SELECTOR: z.string().optional(),
  DKIM_PRIVATE_KEY: z.string().optional(),
  /** Feedback-ID sender id (Gmail feedback loop); defaults to the From domain. */
  FEEDBACK_ID_SENDER: z.string().optional(),
  SEND_BATCH_SIZE: int(1, 10_000).default(200),
  /** A scheduled issue whose time passed longer ago than this is held, not sent. */
  SCHEDULE_GRACE_HOURS: z.coerce
    .number()
    .min(0)
    .max(24 * 30)
    .default(6),
});

export type Env = z.infer<typeof envSchema>;

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

/** Parses an environment (process.env by default); empty strings count as unset. */
export function parseEnv(source: Record<string, string | undefined> = process.env): Env {
  const cleaned: Record<string, string> = {};
  for (const key of Object.keys(envSchema.shape)) {
    const value = source[key];
    if (value !== undefined && value.trim() !== '') cleaned[key] = value.trim();
  }
  const result = envSchema.safeParse(cleaned);
  if (result.success) {
    if (result.data.NODE_ENV === 'production' && !result.data.SECRET_KEY) {
      throw new ConfigError(['SECRET_KEY: required when NODE_ENV=production']);
    }
    return result.data;
  }
  throw new ConfigError(
    result.error.issues.map((issue) => {
      const name = issue.path.join('.') || '(environment)';
      const got = shownValue(String(issue.path[0]), cleaned[String(issue.path[0])]);
      return `${name}: ${issue.message}${got !== undefined ? ` (got "${got}")` : ''}`;
    }),
  );
}

/** Variables whose whole value is a secret: a message about them never repeats it. */
const SECRET_VARIABLES = new Set([
  'SECRET_KEY',
  'SECRET_KEY_PREVIOUS',
  'API_KEYS',
  'METRICS_TOKEN',
  'MAILGUN_WEBHOOK_SIGNING_KEY',
  'DKIM_PRIVATE_KEY',
]);

/**
 * A value as a message about configuration may show it: secrets not at all, URLs without the
 * credentials between `://` and the last `@` (a bad URL's password may hold `@`, `:` or `/`).
 */
export function shownValue(name: string, value: string | undefined): string | undefined {
  if (value === undefined || SECRET_VARIABLES.has(name)) return undefined;
  return redactCredentials(value);
}

export function redactCredentials(text: string): string {
  return text
    .split(',')
    .map((part) => part.replace(/^(\s*[a-z][a-z0-9+.-]*:\/\/).*@/i, '$1***@'))
    .join(',');
}
