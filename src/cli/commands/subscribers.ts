import { once } from 'node:events';
import { createWriteStream, writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import { exportSubscribersCsv } from '../../../subscribers/csv-export.js';
import { importSubscribersCsv } from '../../../subscribers/csv-import.js';
import { ensurePublication } from '../../publication/publication.js';
import { eraseSubscriber, exportSubscriberData } from '../../../subscribers/privacy.js';
import {
  addSubscriber,
  getSubscriber,
  getSubscriberByEmail,
  listSubscribers,
  type SubscriberRecord,
  updateSubscriber,
} from '../../../subscribers/store.js';
import { listSuppressions, suppress, unsuppress } from '../../../subscribers/suppression.js';
import { ALL_ROLES, startWorkers, type WorkerRole } from '../../../workers/index.js';
import { createApiKey } from '../../accounts/api-keys.js';
import { isUserRole } from '../../accounts/roles.js';
import type { AppContext } from '../../context.js';
import { LOCALES, type Locale, SUBSCRIBER_STATUSES, type SubscriberStatus } from '../../db/schema.js';
import { storedRelaySpecs } from '../../delivery/relay-store.js';
import { loadSender } from '../../delivery/sender.js';
import { startAppServer } from '../../http/app.js';
import { createSendMail } from '../../http/mail-transport.js';
import { defaultActor } from '../actor.js';
import { UsageError } from '../main.js';
import type { CliRuntime } from '../runtime.js';

/** Worker roles from a comma-separated list ("all": every role). */
export function workerRoles(value: string): WorkerRole[] {
  if (value.trim() === 'all') return [...ALL_ROLES];
  const roles = value
    .split(',')
    .map((r) => r.trim())
    .filter(Boolean) as WorkerRole[];
  const unknown = roles.filter((r) => !ALL_ROLES.includes(r));
  if (unknown.length || !roles.length)
    throw new UsageError(
      `unknown worker role(s): ${unknown.join(', ') || '(none)'}; use ${ALL_ROLES.join(',')}`,
    );
  return roles;
}

function locale(value: string | undefined): Locale | undefined {
  if (value === undefined) return undefined;
  if (!LOCALES.includes(value as Locale))
    throw new UsageError(`--locale must be zh-CN or en (got "${value}")`);
  return value as Locale;
}

function status(value: string | undefined): SubscriberStatus | undefined {
  if (value === undefined) return undefined;
  if (!SUBSCRIBER_STATUSES.includes(value as SubscriberStatus)) {
    throw new UsageError(`--status must be one of ${SUBSCRIBER_STATUSES.join(', ')} (got "${value}")`);
  }
  return value as SubscriberStatus;
}

function sections(value: string | undefined): string[] | 'all' | undefined {
  if (value === undefined) return undefined;
  if (value === 'all') return 'all';
  return value
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
}

/** A subscriber by numeric id or by address. */
async function find(ctx: AppContext, ref: string): Promise<SubscriberRecord> {
  const sub = /^\d+$/.test(ref)
    ? await getSubscriber(ctx.db, Number(ref))
    : await getSubscriberByEmail(ctx.db, ref);
  if (!sub) throw new UsageError(`No subscriber ${ref}`);
  return sub;
}

function line(s: SubscriberRecord): string {
  const topics = s.all_sections ? 'all sections' : s.sectionKeys.join(',') || '(none)';
  return `${String(s.id).padStart(6)}  ${s.status.padEnd(12)} ${s.locale.padEnd(5)} ${s.email}  ${s.name ?? ''}  [${topics}]`;
}

export function registerSubscriberCommands(program: Command, runtime: CliRuntime): void {
  const subs = program.command('subscribers').description('subscribers: add, list, import/export, privacy');

  subs
    .command('add <email>')
    .description('add a subscriber (consent source: editor)')
    .option('--name <name>')
    .option('--locale <locale>', 'zh-CN or en')
    .option('--sections <keys>', 'comma-separated section keys (default: all)')
    .option('--status <status>', 'active (default) or pending')
    .action(
      async (email: string, o: { name?: string; locale?: string; sections?: string; status?: string }) => {
        const ctx = await runtime.context();
        const keys = sections(o.sections);
        const sub = await addSubscriber(ctx.db, {
          email,
          consentSource: 'editor',
          ...(o.name ? { name: o.name } : {}),
          ...(locale(o.locale) ? { locale: locale(o.locale) } : {}),
          ...(keys && keys !== 'all' ? { sectionKeys: keys } : {}),
          ...(status(o.status) ? { status: status(o.status) } : {}),
        });
        runtime.print(sub, `Added subscriber ${sub.id}.\n${line(sub)}`);
      },
    );

  subs
    .command('list')
    .description('list subscribers (keyset pages: --after <last id>)')
    .option('--status <status>')
    .option('--search <text>')
    .option('--after <id>', 'show ids after this one', Number)
    .option('--limit <n>', 'rows (max 1000)', Number, 100)
    .action(async (o: { status?: string; search?: string; after?: number; limit: number }) => {
      const ctx = await runtime.context();
      const rows = await listSubscribers(ctx.db, {
        limit: o.limit,
        ...(status(o.status) ? { status: status(o.status) } : {}),
        ...(o.search ? { search: o.search } : {}),
        ...(o.after !== undefined ? { afterId: o.after } : {}),
      });
      runtime.print(rows, rows.length ? rows.map(line).join('\n') : 'No subscribers.');
    });

  subs.command('show <idOrEmail>').action(async (ref: string) => {
    const ctx = await runtime.context();
    const sub = await find(ctx, ref);
    runtime.print(sub, line(sub));
  });

  subs
    .command('edit <idOrEmail>')
    .description('change name, locale, sections or status (never re-activates someone who left)')
    .option('--name <name>')
    .option('--locale <locale>')
    .option('--sections <keys>', 'comma-separated section keys, or "all"')
    .option('--status <status>')
    .action(
      async (ref: string, o: { name?: string; locale?: string; sections?: string; status?: string }) => {
        const ctx = await runtime.context();
        const sub = await find(ctx, ref);
        const updated = await updateSubscriber(ctx.db, sub.id, {
          ...(o.name !== undefined ? { name: o.name } : {}),
          ...(locale(o.locale) ? { locale: locale(o.locale) } : {}),
          ...(sections(o.sections) ? { sectionKeys: sections(o.sections) } : {}),
          ...(status(o.status) ? { status: status(o.status) } : {}),
        });
        runtime.print(updated, line(updated));
      },
    );

  subs
    .command('import <file>')
    // The same stage function the import job runs, reading the file where it lies: this process
    // holds no server, so nothing waits on it, and it needs neither Redis nor a worker.
    .description(
      'import a CSV (columns: email, name, locale, topics) in this process; streams any size, no worker needed',
    )
    .option('--status <status>', 'status of new subscribers: active (default) or pending', 'active')
    .option('--locale <locale>', 'locale when a row has none')
    .action(async (file: string, o: { status: string; locale?: string }) => {
      if (o.status !== 'active' && o.status !== 'pending')
        throw new UsageError('--status must be active or pending');
      const ctx = await runtime.context();
      // A fresh install's sections exist before its first document (ensurePublication seeds them).
      await ensurePublication(ctx.db, ctx.env);
      const summary = await importSubscribersCsv(ctx.db, file, {
        status: o.status,
        ...(locale(o.locale) ? { defaultLocale: locale(o.locale) } : {}),
        onProblem: (p) => {
          if (!runtime.json) runtime.io.stderr.write(`${file}:${p.line}: ${p.reason}\n`);
        },
      });
      ctx.log.info(
        {
          event: 'subscribers.import.done',
          added: summary.added,
          updated: summary.updated,
          skipped: summary.skipped,
          invalid: summary.invalid,
        },
        'import finished',
      );
      const { problems: _p, ...counts } = summary;
      runtime.print(
        runtime.json ? summary : counts,
        `added ${summary.added}, updated ${summary.updated}, skipped ${summary.skipped}, invalid ${summary.invalid}` +
          (summary.skipped
            ? ` (skipped: ${Object.entries(summary.skippedReasons)
                .map(([k, v]) => `${k} ${v}`)
                .join(', ')})`
            : ''),
      );
    });

  subs
    .command('export [file]')
    .description('export as CSV in the import format (stdout when no file)')
    .option('--status <status>', 'only this status')
    .action(async (file: string | undefined, o: { status?: string }) => {
      const ctx = await runtime.context();
      const out = file ? createWriteStream(file) : runtime.io.stdout;
      const count = await exportSubscribersCsv(ctx.db, out, {
        ...(status(o.status) ? { status: status(o.status) } : {}),
      });
      if (file) {
        if (!out.writableFinished) await once(out, 'finish');
        runtime.io.stderr.write(`Exported ${count} subscribers to ${file}.\n`);
      }
    });

  subs
    .command('export-data <idOrEmail>')
    .description('everything held about one subscriber, as JSON')
    .option('--out <file>')
    .action(async (ref: string, o: { out?: string }) => {
      const ctx = await runtime.context();
      const sub = await find(ctx, ref);
      const data = await exportSubscriberData(ctx.db, sub.id);
      const json = `${JSON.stringify(data, null, 2)}\n`;
      if (o.out) writeFileSync(o.out, json);
      else runtime.io.stdout.write(json);
    });

  subs
    .command('erase <idOrEmail>')
    .description('erase a subscriber, keeping only a hash of the address')
    .option('--yes', 'confirm')
    .action(async (ref: string, o: { yes?: boolean }) => {
      if (!o.yes)
        throw new UsageError('erase removes the subscriber and their history; add --yes to confirm');
      const ctx = await runtime.context();
      const sub = await find(ctx, ref);
      await eraseSubscriber(ctx.db, sub.id);
      ctx.log.info({ event: 'subscriber.erased', subscriberId: sub.id }, 'subscriber erased');
      runtime.print({ erased: sub.id }, `Erased subscriber ${sub.id}.`);
    });

  const sup = program.command('suppressions').description('addresses and domains that are never sent to');
  sup
    .command('add <value>')
    .option('--domain', 'value is a whole domain')
    .option('--note <note>')
    .action(async (value: string, o: { domain?: boolean; note?: string }) => {
      const ctx = await runtime.context();
      const row = await suppress(ctx.db, {
        kind: o.domain ? 'domain' : 'address',
        value,
        reason: 'manual',
        ...(o.note ? { note: o.note } : {}),
      });
      runtime.print(row, `Suppressed ${row.kind} ${row.value} (${row.reason}).`);
    });
  sup
    .command('remove <value>')
    .option('--domain', 'value is a whole domain')
    .option('--actor <name>', 'who lifts it (suppression audit)', defaultActor())
    .action(async (value: string, o: { domain?: boolean; actor: string }) => {
      const ctx = await runtime.context();
      const removed = await unsuppress(ctx.db, {
        kind: o.domain ? 'domain' : 'address',
        value,
        actor: o.actor,
      });
      if (!removed) throw new UsageError(`${value} is not on the suppression list`);
      runtime.print({ removed: value }, `Removed ${value} from the suppression list.`);
    });
  sup
    .command('list')
    .option('--domain', 'only domains')
    .option('--after <id>', 'ids after this one', Number)
    .option('--limit <n>', 'rows', Number, 1000)
    .action(async (o: { domain?: boolean; after?: number; limit: number }) => {
      const ctx = await runtime.context();
      const rows = await listSuppressions(ctx.db, {
        limit: o.limit,
        ...(o.domain ? { kind: 'domain' as const } : {}),
        ...(o.after !== undefined ? { afterId: o.after } : {}),
      });
      runtime.print(
        rows,
        rows.length
          ? rows
              .map(
                (r) =>
                  `${String(r.id).padStart(6)}  ${r.kind.padEnd(8)} ${r.value}  ${r.reason}  ${r.note ?? ''}`,
              )
              .join('\n')
          : 'The suppression list is empty.',
      );
    });

  program
    .command('api-key <name>')
    .description(
      'create an API key for /api/v1 holding a role (shown once; only its hash is stored; the audit log records its name)',
    )
    .option('--role <role>', 'viewer, editor or admin: what a user of that role may do on the pages', 'admin')
    .action(async (name: string, opts: { role: string }) => {
      if (!isUserRole(opts.role))
        throw new UsageError(`--role must be viewer, editor or admin (got "${opts.role}")`);
      const ctx = await runtime.context();
      const created = await createApiKey(ctx.db, name, opts.role);
      runtime.print(
        created,
        `API key ${created.id} (${name}, ${created.role}): ${created.key}\nSend it as the X-API-Key header.`,
      );
    });

  program
    .command('serve')
    .description(
      'run the web server (subscriber pages, JSON API, archive, tracking, webhooks, /healthz) on HTTP_HOST:HTTP_PORT',
    )
    .option(
      '--workers <roles>',
      `also run these worker roles in this process (comma-separated subset of ${ALL_ROLES.join(',')}, or "all"): for one-process setups such as PGlite`,
    )
    .action(async (o: { workers?: string }) => {
      const roles = o.workers === undefined ? [] : workerRoles(o.workers);
      const ctx = await runtime.context();
      const mail = await createSendMail(
        ctx.env,
        () => storedRelaySpecs(ctx.db, ctx.secrets),
        () => loadSender(ctx.db, ctx.env),
      );
      const { app, url } = await startAppServer(ctx, mail.sendMail);
      const workers = roles.length ? await startWorkers(ctx, { roles }) : undefined;
      runtime.io.stderr.write(
        `Gazette web server on ${url} (public URL ${ctx.env.PUBLIC_URL})${workers ? `, with workers: ${roles.join(', ')}` : ''}\n`,
      );
      await new Promise<void>((resolve) => {
        const stop = () => resolve();
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
      });
      await workers?.close();
      await app.close();
      await mail.close();
    });
}
