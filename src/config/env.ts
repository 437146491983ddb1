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
  NODE_ENV: z
    .enum(['development', 'production', 'test'])
    .default('development')
    .meta({ description: 'development, production or test; production requires SECRET_KEY.' }),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info').meta({
    description:
      'Structured log level (pino): fatal, error, warn, info, debug (stacks of unexpected errors), trace, silent.',
  }),

  DATA_DIR: z
    .string()
    .min(1)
    .default('./data')
    .meta({ description: "Where the embedded database, the SMTP catcher's outbox and the dev secret live." }),
  DATABASE_URL: url(['postgres:', 'postgresql:']).optional().meta({
    description: 'PostgreSQL. Unset: an embedded PGlite under DATA_DIR/pglite (one process only).',
    example: 'postgres://gazette@127.0.0.1:5432/gazette',
  }),
  DATABASE_POOL_SIZE: int(1, 200).default(10).meta({ description: 'PostgreSQL connections per process.' }),
  DATABASE_OUTAGE_GRACE_SECONDS: int(1, 86_400).default(300).meta({
    description:
      'How long workers wait for an unreachable database (a restart) before they exit; results on the wire are kept meanwhile.',
  }),

  REDIS_URL: url(['redis:', 'rediss:']).default('redis://127.0.0.1:6379').meta({
    description:
      'Redis for the BullMQ work queues, relay rests, send budgets and locks. A Redis Cluster: one node with `?cluster=true` (the others are discovered) and a hash-tagged QUEUE_PREFIX.',
    example: 'redis://10.0.0.5:7000/?cluster=true',
  }),
  QUEUE_PREFIX: z
    .string()
    .regex(/^[A-Za-z0-9:{}_-]+$/, 'letters, digits, : { } _ - only')
    .default('gazette')
    .meta({ description: 'BullMQ key prefix. Use a hash tag, e.g. {gazette}, on Redis Cluster.' }),

  SMTP_URL: list
    .pipe(z.array(url(['smtp:', 'smtps:'])).min(1, 'must name at least one smtp:// or smtps:// URL'))
    .optional()
    .meta({
      description:
        'One or more SMTP relays, comma separated; `smtp://…#weight=3` weights a relay. Unset: in-process catcher.',
      example: 'smtp://user:pass@smtp.example.com:587#weight=3,smtp://relay2.example.com:25',
    }),
  SMTP_CATCHER_PORT: int(0, 65535).default(0).meta({
    description: 'Port for the in-process SMTP catcher used when SMTP_URL is unset (0 = any free port).',
  }),

  PUBLIC_URL: url(['http:', 'https:']).default('http://localhost:3000').meta({
    description: 'Public base URL for links in emails (unsubscribe, preferences, tracking, web version).',
  }),
  HTTP_HOST: z
    .string()
    .min(1)
    .default('127.0.0.1')
    .meta({ description: 'Address the web server listens on.' }),
  HTTP_PORT: int(0, 65535)
    .default(3000)
    .meta({ description: 'Port the web server listens on (0 = any free port).' }),
  API_KEYS: list
    .pipe(z.array(z.string().min(24, 'each API key must be at least 24 characters')))
    .default([])
    .meta({
      description:
        'Admin API keys for /api/v1 (comma separated, at least 24 characters each); keys may also live in the api_keys table.',
      example: 'a-random-admin-api-key-of-24-characters-or-more',
    }),
  CONFIRM_TOKEN_TTL_HOURS: int(1, 24 * 30)
    .default(48)
    .meta({ description: 'How long a double opt-in confirmation link stays valid.' }),
  LINK_TOKEN_TTL_DAYS: int(1, 3650).default(400).meta({
    description: 'How long preference links in a message keep working (unsubscribe links never expire).',
  }),
  METRICS_TOKEN: z.string().min(24, 'must be at least 24 characters').optional().meta({
    description:
      'Bearer token a Prometheus server presents to scrape /metrics (read-only; 24+ characters). Unset: API keys and admin sessions only.',
    example: 'a-long-random-read-only-scrape-token',
  }),
  TRUST_PROXY: z.string().min(1).default('false').meta({
    description:
      "Proxies whose X-Forwarded-For gives the client address (for rate limits): IPs/CIDRs, `loopback`, or `true` (any). Unset: none, the peer's address counts.",
  }),
  SUBSCRIBE_RATE_PER_MINUTE: int(1, 10_000)
    .default(10)
    .meta({ description: 'Subscribe form submissions allowed per client address per minute.' }),

  SECRET_KEY: z.string().min(32, 'must be at least 32 characters').optional().meta({
    description:
      'HMAC key for signed links and sessions. Required in production; in development one is kept in DATA_DIR.',
    example: 'change-me-to-32-random-characters-or-more',
  }),
  SECRET_KEY_PREVIOUS: z.string().min(32, 'must be at least 32 characters').optional().meta({
    description: 'The key being rotated out: tokens signed with it still verify.',
    example: 'the-key-being-rotated-out-32-characters-or-more',
  }),

  DEFAULT_TIME_ZONE: z
    .string()
    .refine((tz) => IANAZone.isValidZone(tz), { message: 'must be an IANA time zone such as Asia/Shanghai' })
    .default('Asia/Shanghai')
    .meta({ description: 'Time zone of schedules and dates until the publication sets its own.' }),
  DEFAULT_LOCALE: z
    .enum(['zh-CN', 'en'])
    .default('zh-CN')
    .meta({ description: 'Language of new subscribers and pages when none is known (zh-CN or en).' }),

  MAIL_FROM: z
    .string()
    .min(3)
    .default('Gazette <newsletter@localhost>')
    .meta({ description: 'From header until the publication sets its own sender.' }),
  BOUNCE_DOMAIN: z.string().optional().meta({
    description: 'VERP bounce domain: Return-Path becomes bounce+<delivery id>@BOUNCE_DOMAIN.',
    example: 'bounces.example.com',
  }),
  BOUNCE_SMTP_HOST: z.string().min(1).default('127.0.0.1').meta({
    description:
      'Inbound SMTP receiver for VERP bounces and feedback-loop reports (`gazette bounces receive`).',
  }),
  BOUNCE_SMTP_PORT: int(0, 65535).default(2526).meta({ description: 'Port of the inbound bounce receiver.' }),
  SES_SNS_TOPIC_ARNS: list.default([]).meta({
    description:
      'SNS topics whose SES notifications are accepted at /webhooks/ses (comma separated; empty = any verified topic).',
    example: 'arn:aws:sns:ap-east-1:123456789012:gazette-ses',
  }),
  MAILGUN_WEBHOOK_SIGNING_KEY: z.string().optional().meta({
    description: 'Mailgun webhook signing key for /webhooks/mailgun (the route answers 503 without it).',
    example: 'key-from-the-mailgun-dashboard',
  }),

  FETCH_ALLOW_PRIVATE: list.default([]).meta({
    description:
      'Hosts or CIDR ranges that fetches may reach even though they are private (e.g. 127.0.0.1 for local feeds).',
  }),
  FETCH_TIMEOUT_MS: int(100, 300_000)
    .default(15_000)
    .meta({ description: 'Time limit of one feed or page fetch.' }),
  FETCH_MAX_BYTES: int(1024, 200 * 1024 * 1024)
    .default(5 * 1024 * 1024)
    .meta({ description: 'Largest response a fetch reads.' }),
  IMPORT_MAX_BYTES: int(1024, 1024 * 1024 * 1024)
    .default(20 * 1024 * 1024)
    .meta({
      description:
        'Largest subscriber CSV an editor may upload; refused as it arrives, before anything is stored.',
    }),
  IMPORT_MAX_ROWS: int(1, 100_000_000).default(1_000_000).meta({
    description:
      'Most rows one subscriber CSV import reads; the import stops there, keeping the rows before it.',
  }),
  FETCH_MAX_REDIRECTS: int(0, 20).default(5).meta({ description: 'Redirects a fetch follows.' }),
  SNAPSHOT_MAX_BYTES: int(1024, 100 * 1024 * 1024)
    .default(2 * 1024 * 1024)
    .meta({ description: 'Bytes stored (compressed) for the archived copy of one cited source.' }),
  SNAPSHOT_ISSUE_MAX_BYTES: int(1024, 2 * 1024 * 1024 * 1024)
    .default(50 * 1024 * 1024)
    .meta({ description: "Bytes stored (compressed) for all of one issue's archived sources." }),
  ARCHIVE_SWEEP_MINUTES: int(1, 24 * 60)
    .default(5)
    .meta({
      description: 'How often the archive worker looks for sources to archive and links due for a check.',
    }),
  LINK_CHECK_HOURS: int(1, 24 * 365)
    .default(24)
    .meta({ description: "A sent issue's sources are checked again once this many hours have passed." }),
  FEED_FAILING_AFTER: int(1, 100).default(3).meta({
    description: 'Consecutive failed polls after which a source is marked failing and polled with backoff.',
  }),
  FEED_MAX_BACKOFF_MINUTES: int(1, 7 * 24 * 60)
    .default(24 * 60)
    .meta({
      description: 'Longest wait between polls of a failing source (the backoff doubles up to this).',
    }),
  FEED_POLL_CONCURRENCY: int(1, 200)
    .default(8)
    .meta({ description: 'Sources fetched at once by `gazette poll` and one feed worker.' }),

  SEND_CONCURRENCY: int(1, 1000)
    .default(20)
    .meta({ description: 'Rows a send job claims and sends at a time (a chunk).' }),
  SEND_JOBS_PER_WORKER: int(1, 100).default(4).meta({
    description:
      'Send jobs one worker process runs at once (each sends a chunk of SEND_CONCURRENCY at a time).',
  }),
  SMTP_POOL_CONNECTIONS: int(1, 100)
    .default(5)
    .meta({ description: 'SMTP connections per relay per worker process.' }),
  SMTP_RATE_PER_SECOND: int(0, 1_000_000).default(0).meta({
    description:
      'Default messages per second per relay (0 = no limit); a URL may override with #perSecond=N&perHour=N.',
  }),
  SMTP_RATE_PER_HOUR: int(0, 100_000_000)
    .default(0)
    .meta({ description: 'Default messages per hour per relay (0 = no limit).' }),
  SEND_LEASE_SECONDS: int(1, 3600).default(120).meta({
    description: 'How long a claimed or sending row is leased before a resume scan may take it back.',
  }),
  SEND_MAX_ATTEMPTS: int(1, 50)
    .default(6)
    .meta({ description: 'Attempts for a temporarily refused message before it fails.' }),
  SEND_RETRY_BASE_MS: int(1, 3_600_000).default(60_000).meta({
    description: 'First retry delay of a temporarily refused message (doubles per attempt, with jitter).',
  }),
  SEND_BREAKER_RATIO: z.coerce.number().min(0.01).max(1).default(0.5).meta({
    description:
      'Circuit breaker: pause an issue when this share of the last SEND_BREAKER_WINDOW results failed.',
  }),
  SEND_BREAKER_WINDOW: int(5, 100_000)
    .default(200)
    .meta({ description: 'Results per issue the circuit breaker looks at.' }),
  SEND_BLOCK_REST_SECONDS: int(1, 86_400).default(600).meta({
    description:
      'A relay refused for reputation, spam content or authentication (5.7.x, DT:SPM) rests this long.',
  }),
  SEND_RELAY_REST_MS: int(100, 3_600_000).default(3000).meta({
    description:
      'First rest of a relay that asked to slow down (421/454) or refused connections; doubles per failed probe.',
  }),
  SEND_RELAY_REST_MAX_MS: int(100, 3_600_000)
    .default(60_000)
    .meta({ description: 'Longest rest of a relay.' }),
  SEND_RESUME_SCAN_SECONDS: int(1, 86_400).default(30).meta({
    description: 'How often a worker looks for rows that lost their job (Redis lost, lease expired).',
  }),
  DKIM_DOMAIN: z
    .string()
    .regex(/^[a-z0-9.-]+\.[a-z]{2,}$/i, 'must be a domain name such as example.org')
    .optional()
    .meta({
      description: 'DKIM signing domain; DKIM_DOMAIN, DKIM_SELECTOR and DKIM_PRIVATE_KEY all set to sign.',
      example: 'example.com',
    }),
  DKIM_SELECTOR: z
    .string()
    .regex(/^[a-z0-9_-]+(\.[a-z0-9_-]+)*$/i, 'must be a DNS label such as gazette2025')
    .optional()
    .meta({
      description: 'DKIM selector (the DNS record is <selector>._domainkey.<domain>).',
      example: 'gazette',
    }),
  DKIM_PRIVATE_KEY: z.string().optional().meta({
    description: 'DKIM private key: PEM text or a path to a PEM file.',
    example: '/etc/gazette/dkim.pem',
  }),
  FEEDBACK_ID_SENDER: z
    .string()
    .regex(/^[A-Za-z0-9._-]{5,15}$/, 'must be 5–15 letters, digits, dots, dashes or underscores')
    .optional()
    .meta({
      description:
        'Feedback-ID sender id (Gmail feedback loop), 5–15 characters; defaults to one made from the From domain.',
      example: 'gazette',
    }),
  SEND_BATCH_SIZE: int(1, 10_000)
    .default(200)
    .meta({ description: 'Rows per send job (a range of delivery ids).' }),
  SCHEDULE_GRACE_HOURS: z.coerce
    .number()
    .min(0)
    .max(24 * 30)
    .default(6)
    .meta({ description: 'A scheduled issue whose time passed longer ago than this is held, not sent.' }),
});

export type Env = z.infer<typeof envSchema>;

const DKIM_VARS = ['DKIM_DOMAIN', 'DKIM_SELECTOR', 'DKIM_PRIVATE_KEY'] as const;

/** DMARC relaxed alignment, without a public-suffix list: one domain is the other or under it. */
export function domainsAlign(fromDomain: string, dkimDomain: string): boolean {
  const a = fromDomain.toLowerCase();
  const b = dkimDomain.toLowerCase();
  return a === b || a.endsWith(`.${b}`) || b.endsWith(`.${a}`);
}

/** The domain of `Name <addr@host>` or a bare address. */
export function mailboxDomain(mailbox: string): string {
  const addr = /<([^>]+)>/.exec(mailbox)?.[1] ?? mailbox;
  return addr.slice(addr.lastIndexOf('@') + 1).trim();
}

/**
 * `redis://host:port/?cluster=true` names one node of a Redis Cluster; the others are discovered
 * from it. Every key Gazette uses starts with QUEUE_PREFIX, which must then carry a hash tag
 * (`{gazette}`) so the keys a script or a BullMQ command touches together live in one slot.
 */
export function isClusterUrl(url: string): boolean {
  try {
    const v = new URL(url).searchParams.get('cluster');
    return v === 'true' || v === '1';
  } catch {
    return false;
  }
}

/** Rules across variables: a partial DKIM setup or one for another domain than From stops the start. */
const checkedSchema = envSchema.superRefine((env, ctx) => {
  const set = DKIM_VARS.filter((k) => env[k] !== undefined);
  if (set.length > 0 && set.length < DKIM_VARS.length) {
    for (const k of DKIM_VARS.filter((v) => env[v] === undefined)) {
      ctx.addIssue({
        code: 'custom',
        path: [k],
        message: `required because ${set.join(' and ')} ${set.length > 1 ? 'are' : 'is'} set (DKIM needs all three, or none)`,
      });
    }
  }
  if (isClusterUrl(env.REDIS_URL) && !/\{[^{}]+\}/.test(env.QUEUE_PREFIX)) {
    ctx.addIssue({
      code: 'custom',
      path: ['QUEUE_PREFIX'],
      message: `must carry a hash tag such as {${env.QUEUE_PREFIX}} on a Redis Cluster (REDIS_URL has ?cluster=true), so the keys one command touches live in one slot`,
    });
  }
  if (env.DKIM_DOMAIN && !domainsAlign(mailboxDomain(env.MAIL_FROM), env.DKIM_DOMAIN)) {
    ctx.addIssue({
      code: 'custom',
      path: ['DKIM_DOMAIN'],
      message: `does not align with MAIL_FROM's domain ${mailboxDomain(env.MAIL_FROM)} (DMARC would fail): use that domain or one it is under`,
    });
  }
});

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
  const result = checkedSchema.safeParse(cleaned);
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
