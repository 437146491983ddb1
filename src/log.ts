import pino, { type Logger } from 'pino';

export type { Logger };

/**
 * Structured logs. Every line carries a stable `event` name (e.g. "feed.poll.failed") so
 * operators can alert on it; subscriber addresses are never logged, only ids.
 */
export function createLogger(opts: { level: string; pretty?: boolean }): Logger {
  return pino(
    {
      level: opts.level,
      base: undefined,
      redact: { paths: ['email', '*.email', 'password', '*.password'], censor: '[redacted]' },
      ...(opts.pretty
        ? {
            transport: {
              target: 'pino-pretty',
              options: { colorize: true, ignore: 'time', singleLine: true, destination: 2 },
            },
          }
        : {}),
    },
    // stderr, so a command's --json output on stdout stays parseable.
    opts.pretty ? undefined : pino.destination(2),
  );
}

export const silentLogger: Logger = pino({ level: 'silent' });
