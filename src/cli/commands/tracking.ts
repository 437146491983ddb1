import { readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import type { Command } from 'commander';
import { EVENT_TYPES, type EventType } from '../../db/schema.js';
import { handleInboundReport, startBounceReceiver } from '../../tracking/bounce-receiver.js';
import { type ParsedReport, parseReport } from '../../tracking/report-parse.js';
import { UsageError } from '../errors.js';
import type { CliRuntime } from '../runtime.js';

function positiveInt(value: string, what: string): number {
  if (!/^\d{1,9}$/.test(value) || Number(value) < 1)
    throw new UsageError(`${what} must be a positive whole number (got "${value}")`);
  return Number(value);
}

/**
 * Tracking commands. `gazette stats <issue>` belongs to the delivery CLI and prints
 * issueStatistics() from src/tracking/stats.ts.
 */
export function registerTrackingCommands(program: Command, runtime: CliRuntime): void {
  const events = program.command('events').description('opens, clicks, bounces, complaints and unsubscribes');
  events
    .command('list')
    .description('list recent events, newest first (no addresses: subscriber ids only)')
    .option('--issue <id>', 'only this issue')
    .option('--type <type>', `one of ${EVENT_TYPES.join(', ')}`)
    .option('--limit <n>', 'how many', '50')
    .action(async (opts: { issue?: string; type?: string; limit: string }) => {
      if (opts.type && !(EVENT_TYPES as readonly string[]).includes(opts.type)) {
        throw new UsageError(`--type must be one of ${EVENT_TYPES.join(', ')} (got "${opts.type}")`);
      }
      const limit = Math.min(positiveInt(opts.limit, '--limit'), 10_000);
      const issueId = opts.issue !== undefined ? positiveInt(opts.issue, '--issue') : undefined;
      const ctx = await runtime.context();
      let q = ctx.db
        .selectFrom('events')
        .select([
          'id',
          'type',
          'subtype',
          'issue_id',
          'delivery_id',
          'subscriber_id',
          'link_id',
          'proxied',
          'detail',
          'occurred_at',
        ])
        .orderBy('occurred_at', 'desc')
        .orderBy('id', 'desc')
        .limit(limit);
      if (issueId !== undefined) q = q.where('issue_id', '=', issueId);
      if (opts.type) q = q.where('type', '=', opts.type as EventType);
      const rows = await q.execute();
      const human = rows.length
        ? rows
            .map(
              (r) =>
                `${new Date(r.occurred_at).toISOString()}  ${r.type}${r.subtype ? `/${r.subtype}` : ''}${r.proxied ? ' (proxied)' : ''}  issue ${r.issue_id ?? '-'}  delivery ${r.delivery_id ?? '-'}  subscriber ${r.subscriber_id ?? '-'}${r.link_id ? `  link ${r.link_id}` : ''}`,
            )
            .join('\n')
        : 'No events.';
      runtime.print(rows, human);
    });

  const bounces = program.command('bounces').description('inbound bounce and complaint reports (VERP)');
  bounces
    .command('receive')
    .description(
      'run the inbound SMTP receiver for bounce+<delivery>@ and unsubscribe@BOUNCE_DOMAIN until SIGTERM',
    )
    .option('--host <host>', 'listen address (default BOUNCE_SMTP_HOST)')
    .option('--port <port>', 'listen port (default BOUNCE_SMTP_PORT)')
    .action(async (opts: { host?: string; port?: string }) => {
      const ctx = await runtime.context();
      if (!ctx.env.BOUNCE_DOMAIN) {
        ctx.log.warn(
          { event: 'tracking.inbound.no_domain' },
          'BOUNCE_DOMAIN is not set: accepting bounce+<id>@ any domain',
        );
      }
      const port = opts.port !== undefined ? Number(opts.port) : ctx.env.BOUNCE_SMTP_PORT;
      if (!Number.isInteger(port) || port < 0 || port > 65535)
        throw new UsageError(`--port must be 0-65535 (got "${opts.port}")`);
      const receiver = await startBounceReceiver({
        db: ctx.db,
        log: ctx.log,
        secrets: ctx.secrets,
        host: opts.host ?? ctx.env.BOUNCE_SMTP_HOST,
        port,
        ...(ctx.env.BOUNCE_DOMAIN ? { bounceDomain: ctx.env.BOUNCE_DOMAIN } : {}),
      });
      runtime.io.stderr.write(
        `Bounce receiver on ${receiver.url} for bounce+<delivery>@${ctx.env.BOUNCE_DOMAIN ?? '*'}\n`,
      );
      await new Promise<void>((resolve) => {
        process.once('SIGINT', () => resolve());
        process.once('SIGTERM', () => resolve());
      });
      await receiver.close();
    });

  bounces
    .command('parse')
    .description(
      'read bounce and abuse reports (.eml files or folders of them): one line per file, as JSON with --json; --record also records them',
    )
    .argument('<files...>', 'messages as received, or folders holding them')
    .option('--to <address>', 'the envelope recipient they were sent to (a VERP address)')
    .option('--record', 'record the events and suppress as the receiver would')
    .action(async (inputs: string[], opts: { to?: string; record?: boolean }) => {
      const files: string[] = [];
      for (const input of inputs) files.push(...(await reportFiles(input)));
      const ctx = opts.record ? await runtime.context() : undefined;
      for (const file of files) {
        let line: Record<string, unknown>;
        try {
          const raw = await readFile(file);
          const report = await parseReport(raw);
          line = { file, ...reportLine(report) };
          if (ctx) {
            line.outcomes = await handleInboundReport(
              {
                db: ctx.db,
                log: ctx.log,
                ...(ctx.env.BOUNCE_DOMAIN ? { bounceDomain: ctx.env.BOUNCE_DOMAIN } : {}),
              },
              raw,
              opts.to ? [opts.to] : [],
            );
          }
        } catch (err) {
          // One unreadable file does not stop the run: its line says why.
          line = { file, error: (err as Error).message };
        }
        runtime.io.stdout.write(runtime.json ? `${JSON.stringify(line)}\n` : `${humanLine(line)}\n`);
      }
    });
}

/** A file as itself; a folder as the files under it (sorted, recursively). */
async function reportFiles(input: string): Promise<string[]> {
  const info = await stat(input).catch(() => undefined);
  if (!info?.isDirectory()) return [input];
  const out: string[] = [];
  for (const entry of (await readdir(input, { withFileTypes: true })).sort((a, b) =>
    a.name.localeCompare(b.name),
  )) {
    const p = path.join(input, entry.name);
    if (entry.isDirectory()) out.push(...(await reportFiles(p)));
    else if (entry.isFile() && !entry.name.endsWith('.json')) out.push(p);
  }
  return out;
}

function reportLine(report: ParsedReport): Record<string, unknown> {
  return {
    kind: report.kind,
    recipients:
      report.kind === 'complaint'
        ? report.originalRcptTo
          ? [{ address: report.originalRcptTo }]
          : []
        : report.recipients.map((r) => ({
            address: r.address ?? r.originalRecipient ?? null,
            action: r.action,
            reason: r.reason,
            hard: r.hard,
            status: r.status ?? null,
            diagnostic: r.diagnostic ?? null,
          })),
    ...(report.feedbackType ? { feedbackType: report.feedbackType } : {}),
    ...(report.family ? { family: report.family } : {}),
  };
}

function humanLine(line: Record<string, unknown>): string {
  if (line.error) return `${line.file}: error: ${line.error}`;
  const recipients = (line.recipients as Array<Record<string, unknown>>)
    .map((r) => `${r.address ?? '?'}${r.reason ? ` ${r.reason}${r.hard ? ' (hard)' : ''}` : ''}`)
    .join(', ');
  return `${line.file}: ${line.kind}${line.feedbackType ? ` ${line.feedbackType}` : ''}${recipients ? ` — ${recipients}` : ''}`;
}
