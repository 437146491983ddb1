import { readFileSync, writeFileSync } from 'node:fs';
import { Queue } from 'bullmq';
import type { Command } from 'commander';
import type { Locale, Masthead } from '../../db/schema.js';
import { assembleDraft } from '../../issues/assemble.js';
import { checkIssue, type LinkProbe, type RenderFn } from '../../issues/check.js';
import {
  addIssueItem,
  moveIssueItem,
  removeIssueItem,
  reorderIssueSections,
  type SourceInput,
  updateIssueFields,
  updateIssueItem,
} from '../../issues/edit.js';
import {
  exportIssue,
  importIssueMarkdown,
  ImportPeriodTakenError,
  MarkdownImportError,
} from '../../issues/import.js';
import { approveIssue } from '../../issues/lifecycle.js';
import { createLinkProbe } from '../../issues/link-probe.js';
import { loadIssueDocument, loadIssueSections } from '../../issues/load.js';
import { rescheduleIssue, scheduleIssue, unscheduleIssue } from '../../issues/schedule.js';
import { type EditorialDeps, EditorialInputError, getIssue, listAudit } from '../../issues/store.js';
import { type SendMailFn, testSend } from '../../issues/test-send.js';
import { loadIssueLegal } from '../../legal/load.js';
import { MODEL_SECTIONS } from '../../publication/model-sections.js';
import {
  ensurePublication,
  getPublication,
  type PublicationPatch,
  updatePublication,
} from '../../publication/publication.js';
import { isLocalSender, markSenderVerified } from '../../publication/sender.js';
import { editSection, listSections, upsertSection } from '../../publication/sections.js';
import { QUEUES, type QueueName } from '../../queue/names.js';
import { assertRedisReachable, createRedis } from '../../queue/redis.js';
import { type ArchiveRequests, queueArchiveRequests } from '../../snapshots/request.js';
import { actorOption } from '../actor.js';
import type { CliRuntime } from '../runtime.js';

/**
 * Functions owned by other stages (rendering, mail transport, safe fetch). The lead passes them in;
 * commands that need a missing one say so instead of guessing.
 */
export interface IssueCommandHooks {
  render?: RenderFn;
  sendMail?: SendMailFn;
  probeLink?: LinkProbe;
}

function id(value: string): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n <= 0) throw new EditorialInputError(`"${value}" is not an id`);
  return n;
}

/** "https://x.org/a" or "https://x.org/a|Label" */
function source(value: string, previous: SourceInput[] = []): SourceInput[] {
  const bar = value.indexOf('|');
  const entry = bar < 0 ? { url: value } : { url: value.slice(0, bar), label: value.slice(bar + 1) };
  return [...previous, entry];
}

function json<T>(value: string, what: string): T {
  try {
    return JSON.parse(value) as T;
  } catch {
    throw new EditorialInputError(`${what} must be JSON, e.g. '{"committee":"…"}'`);
  }
}

async function withQueue<T>(
  runtime: CliRuntime,
  work: (queue: Queue) => Promise<T>,
  name: QueueName = QUEUES.issues,
): Promise<T> {
  const env = runtime.env();
  await assertRedisReachable(env.REDIS_URL);
  const queue = new Queue(name, {
    connection: createRedis(env.REDIS_URL),
    prefix: env.QUEUE_PREFIX,
  });
  try {
    return await work(queue);
  } finally {
    await queue.close();
  }
}

export function registerIssueCommands(
  program: Command,
  runtime: CliRuntime,
  hooks: IssueCommandHooks = {},
): void {
  const deps = async (): Promise<EditorialDeps> => {
    const ctx = await runtime.context();
    return { db: ctx.db, log: ctx.log, env: ctx.env, now: ctx.now };
  };
  const issue = program.command('issue').description('draft, edit, approve and schedule issues');

  issue
    .command('draft')
    .description('assemble (or top up) the draft for a period from fetched items')
    .requiredOption('--period <period>', 'e.g. 2025-07, or 2025-W30 with --kind week')
    .option('--kind <kind>', 'month or week')
    .action(async (o: { period: string; kind?: 'month' | 'week' }) => {
      if (o.kind && o.kind !== 'month' && o.kind !== 'week')
        throw new EditorialInputError('--kind is month or week');
      const r = await assembleDraft(await deps(), { period: o.period, ...(o.kind ? { kind: o.kind } : {}) });
      runtime.print(
        r,
        `${r.created ? 'Created' : 'Updated'} draft issue ${r.issueId}: ${r.added} item(s) added${r.unsectioned ? `, ${r.unsectioned} item(s) without a section left out` : ''}.`,
      );
    });

  issue
    .command('list')
    .description('list issues')
    .option('--state <state>', 'only issues in this state')
    .action(async (o: { state?: string }) => {
      const { db } = await deps();
      let q = db
        .selectFrom('issues')
        .select(['id', 'period', 'period_kind', 'title', 'state', 'revision', 'scheduled_at', 'hold_reason'])
        .orderBy('id', 'desc');
      if (o.state) q = q.where('state', '=', o.state as never);
      const rows = await q.execute();
      runtime.print(
        rows,
        rows
          .map(
            (r) =>
              `${r.id}\t${r.period}\t${r.state}${r.scheduled_at ? ` @ ${r.scheduled_at.toISOString()}` : ''}\tr${r.revision}\t${r.title}${r.hold_reason ? `\n\t${r.hold_reason}` : ''}`,
          )
          .join('\n') || 'No issues.',
      );
    });

  issue
    .command('show <id>')
    .description('show an issue with its sections, items and audit log')
    .action(async (idArg: string) => {
      const { db } = await deps();
      const issueId = id(idArg);
      const row = await getIssue(db, issueId);
      const sections = await loadIssueSections(db, issueId);
      const audit = await listAudit(db, issueId);
      const legal = await loadIssueLegal(db, row, sections);
      const value = {
        ...row,
        sections: sections.map(({ section, items }) => ({
          key: section.key,
          names: section.names,
          items: items.map((i) => ({
            id: i.id,
            title: i.title,
            summary: i.summary,
            sources: i.sources,
            legal: legal.get(i.id),
          })),
        })),
        audit,
      };
      const lines = [
        `Issue ${row.id} (${row.period}) — ${row.title} — ${row.state}, revision ${row.revision}`,
        ...(row.scheduled_at
          ? [`Scheduled for ${row.scheduled_at.toISOString()} (${row.schedule_time_zone})`]
          : []),
        ...(row.hold_reason ? [`HELD: ${row.hold_reason}`] : []),
        ...sections.flatMap(({ section, items }) => [
          `\n[${section.key}] ${section.names['zh-CN'] ?? section.names.en ?? ''}`,
          ...items.map((i, n) => `  ${n + 1}. (#${i.id}) ${i.title}  [${i.sources.length} source(s)]`),
        ]),
        `\nAudit: ${audit.length} entr${audit.length === 1 ? 'y' : 'ies'}; last: ${audit.at(-1)?.action ?? '-'} by ${audit.at(-1)?.actor ?? '-'}`,
      ];
      runtime.print(value, lines.join('\n'));
    });

  actorOption(
    issue
      .command('edit <id>')
      .description('set title, subject, preheader, intro or masthead')
      .option('--title <text>')
      .option('--subject <text>')
      .option('--preheader <text>')
      .option('--intro <text>')
      .option('--masthead <json>', 'masthead as JSON'),
  ).action(
    async (
      idArg: string,
      o: {
        title?: string;
        subject?: string;
        preheader?: string;
        intro?: string;
        masthead?: string;
        actor: string;
      },
    ) => {
      await updateIssueFields(
        await deps(),
        id(idArg),
        {
          ...(o.title !== undefined ? { title: o.title } : {}),
          ...(o.subject !== undefined ? { subject: o.subject } : {}),
          ...(o.preheader !== undefined ? { preheader: o.preheader } : {}),
          ...(o.intro !== undefined ? { intro: o.intro } : {}),
          ...(o.masthead !== undefined ? { masthead: json<Masthead>(o.masthead, '--masthead') } : {}),
        },
        o.actor,
      );
      runtime.print({ ok: true }, `Issue ${idArg} updated.`);
    },
  );

  const item = issue.command('item').description('add, edit, move or remove items of an issue');
  actorOption(
    item
      .command('add <id>')
      .requiredOption('--section <key>')
      .requiredOption('--title <text>')
      .option('--summary <text>')
      .option('--source <url|label>', 'a source URL, optionally |label; repeatable', source)
      .option('--position <n>', '0-based position in the section'),
  ).action(
    async (
      idArg: string,
      o: {
        section: string;
        title: string;
        summary?: string;
        source?: SourceInput[];
        position?: string;
        actor: string;
      },
    ) => {
      const newId = await addIssueItem(
        await deps(),
        id(idArg),
        {
          sectionKey: o.section,
          title: o.title,
          ...(o.summary !== undefined ? { summary: o.summary } : {}),
          sources: o.source ?? [],
          ...(o.position !== undefined ? { position: Number(o.position) } : {}),
        },
        o.actor,
      );
      runtime.print({ id: newId }, `Added item #${newId}.`);
    },
  );
  actorOption(
    item
      .command('edit <id> <itemId>')
      .option('--title <text>')
      .option('--summary <text>')
      .option('--source <url|label>', 'replaces the sources; repeatable', source),
  ).action(
    async (
      idArg: string,
      itemArg: string,
      o: { title?: string; summary?: string; source?: SourceInput[]; actor: string },
    ) => {
      await updateIssueItem(
        await deps(),
        id(idArg),
        id(itemArg),
        {
          ...(o.title !== undefined ? { title: o.title } : {}),
          ...(o.summary !== undefined ? { summary: o.summary } : {}),
          ...(o.source !== undefined ? { sources: o.source } : {}),
        },
        o.actor,
      );
      runtime.print({ ok: true }, `Item #${itemArg} updated.`);
    },
  );
  actorOption(
    item
      .command('move <id> <itemId>')
      .option('--section <key>', 'move to another section')
      .requiredOption('--position <n>', '0-based position in the (target) section'),
  ).action(
    async (idArg: string, itemArg: string, o: { section?: string; position: string; actor: string }) => {
      await moveIssueItem(
        await deps(),
        id(idArg),
        id(itemArg),
        { ...(o.section ? { sectionKey: o.section } : {}), position: Number(o.position) },
        o.actor,
      );
      runtime.print({ ok: true }, `Item #${itemArg} moved.`);
    },
  );
  actorOption(item.command('remove <id> <itemId>')).action(
    async (idArg: string, itemArg: string, o: { actor: string }) => {
      await removeIssueItem(await deps(), id(idArg), id(itemArg), o.actor);
      runtime.print({ ok: true }, `Item #${itemArg} removed.`);
    },
  );

  actorOption(
    issue.command('order <id> <sectionKeys...>').description("set the order of the issue's sections"),
  ).action(async (idArg: string, keys: string[], o: { actor: string }) => {
    await reorderIssueSections(await deps(), id(idArg), keys, o.actor);
    runtime.print({ ok: true }, 'Sections reordered.');
  });

  actorOption(
    issue
      .command('approve <id>')
      .description('run the checklist and approve')
      .option('--force', 'approve despite failed checks'),
  ).action(async (idArg: string, o: { force?: boolean; actor: string }) => {
    // Redis is reached only after the approval is committed; when it is down, approveIssue warns.
    const archive: ArchiveRequests = {
      request: (issueId, revision) =>
        withQueue(runtime, (queue) => queueArchiveRequests(queue).request(issueId, revision), QUEUES.archive),
    };
    const row = await approveIssue(
      { ...(await deps()), ...(hooks.render ? { render: hooks.render } : {}), archive },
      id(idArg),
      o.actor,
      {
        force: !!o.force,
      },
    );
    runtime.print(row, `Issue ${row.id} approved (revision ${row.revision}).`);
  });

  for (const action of ['schedule', 'reschedule'] as const) {
    actorOption(
      issue
        .command(`${action} <id>`)
        .description(action === 'schedule' ? 'schedule an approved issue' : 'move a scheduled or held issue')
        .requiredOption('--at <time>', 'e.g. "2025-08-01 09:00"')
        .option('--tz <zone>', "IANA time zone (default: the publication's)"),
    ).action(async (idArg: string, o: { at: string; tz?: string; actor: string }) => {
      const d = await deps();
      const fn = action === 'schedule' ? scheduleIssue : rescheduleIssue;
      const row = await withQueue(runtime, (queue) =>
        fn({ ...d, queue }, id(idArg), { at: o.at, ...(o.tz ? { tz: o.tz } : {}) }, o.actor),
      );
      runtime.print(
        row,
        `Issue ${row.id} scheduled for ${row.scheduled_at?.toISOString()} (${row.schedule_time_zone}).`,
      );
    });
  }
  actorOption(
    issue
      .command('unschedule <id>')
      .description('take a scheduled issue off the schedule (back to approved)'),
  ).action(async (idArg: string, o: { actor: string }) => {
    const d = await deps();
    const row = await withQueue(runtime, (queue) => unscheduleIssue({ ...d, queue }, id(idArg), o.actor));
    runtime.print(row, `Issue ${row.id} is ${row.state}.`);
  });
  // `issue cancel` is registered with the send commands (src/cli/commands/send.ts): one cancel,
  // whatever the issue's state.

  actorOption(
    issue
      .command('import <file>')
      .description("create a draft from the committee's Markdown document")
      .option('--period <period>', 'override the period found on the cover')
      .option('--replace', 'the period already has a draft: replace its content (same issue, next revision)')
      .option('--new', 'the period already has an issue: create another one beside it'),
  ).action(async (file: string, o: { period?: string; actor: string; replace?: boolean; new?: boolean }) => {
    const text = readFileSync(file, 'utf8');
    if (o.replace && o.new) throw new EditorialInputError('give --replace or --new, not both');
    try {
      const r = await importIssueMarkdown(await deps(), text, {
        actor: o.actor,
        ...(o.period ? { period: o.period } : {}),
        ...(o.replace ? { existing: 'replace' as const } : o.new ? { existing: 'new' as const } : {}),
      });
      const count = r.sections.reduce((n, s) => n + s.items.length, 0);
      runtime.print(
        r,
        [
          `Imported issue ${r.id} (${r.period}): ${r.sections.length} sections, ${count} items.`,
          ...r.problems.map((p) => `  line ${p.line}: ${p.message}`),
        ].join('\n'),
      );
    } catch (err) {
      if (err instanceof ImportPeriodTakenError) {
        if (runtime.json) {
          runtime.print({ error: 'period_taken', period: err.period, existing: err.existing });
          runtime.exitCode = 1;
          return;
        }
        throw new EditorialInputError(
          `${err.period} already has ${err.existing.map((e) => `issue ${e.id} (${e.state})`).join(', ')}: run again with --replace to replace the draft's content, or --new to create another issue for the period`,
        );
      }
      if (err instanceof MarkdownImportError && runtime.json) {
        runtime.print({ error: 'import_failed', problems: err.problems });
        runtime.exitCode = 1;
        return;
      }
      throw err;
    }
  });

  issue
    .command('export <id>')
    .description("write the issue in the committee's Markdown style")
    .option('--format <format>', 'md (Markdown) or json', 'md')
    .option('--out <file>', 'write to a file instead of stdout')
    .action(async (idArg: string, o: { format: string; out?: string }) => {
      const d = await deps();
      let text: string;
      if (o.format === 'md') text = await exportIssue(d, id(idArg));
      else if (o.format === 'json')
        text = `${JSON.stringify(await loadIssueDocument(d.db, id(idArg)), null, 2)}\n`;
      else throw new EditorialInputError('--format is md or json');
      if (o.out) writeFileSync(o.out, text);
      else runtime.io.stdout.write(text);
    });

  issue
    .command('check <id>')
    .description('pre-send checklist')
    .option('--links', 'also load every source link (bounded)')
    .action(async (idArg: string, o: { links?: boolean }) => {
      const probeLink = hooks.probeLink ?? createLinkProbe(runtime.env());
      const list = await checkIssue(
        {
          db: (await deps()).db,
          ...(hooks.render ? { render: hooks.render } : {}),
          ...(o.links ? { probeLink } : {}),
        },
        id(idArg),
      );
      runtime.print(
        list,
        [
          `Issue ${list.issueId} revision ${list.revision}: ${list.ok ? 'OK' : 'FAILED'}`,
          ...list.checks.map((c) => `  [${c.status}] ${c.id}: ${c.message}`),
        ].join('\n'),
      );
      if (!list.ok) runtime.exitCode = 1;
    });

  actorOption(
    issue
      .command('test-send <id>')
      .description('send the issue to a few addresses (no subscribers, no ledger)')
      .requiredOption('--to <addresses>', 'comma-separated addresses')
      .option('--sections <keys>', 'comma-separated section keys (default: all)')
      .option('--locale <locale>', 'zh-CN or en'),
  ).action(async (idArg: string, o: { to: string; sections?: string; locale?: Locale; actor: string }) => {
    if (!hooks.render || !hooks.sendMail)
      throw new EditorialInputError(
        'test send needs the renderer and mail transport, which are not wired in this build',
      );
    const r = await testSend(
      { ...(await deps()), render: hooks.render, sendMail: hooks.sendMail },
      id(idArg),
      o.to.split(','),
      {
        actor: o.actor,
        ...(o.sections ? { sectionKeys: o.sections.split(',').map((s) => s.trim()) } : {}),
        ...(o.locale ? { locale: o.locale } : {}),
      },
    );
    runtime.print(r, `Test sent to ${r.sent} address(es): ${r.subject}`);
  });

  const sections = program.command('sections').description('newsletter sections (topics)');
  sections.command('list').action(async () => {
    const rows = await listSections((await deps()).db);
    runtime.print(
      rows,
      rows.map((s) => `${s.position}\t${s.key}\t${s.names['zh-CN'] ?? ''}\t${s.names.en ?? ''}`).join('\n') ||
        'No sections.',
    );
  });
  sections
    .command('add [key]')
    .option('--zh <name>', 'zh-CN name')
    .option('--en <name>', 'English name')
    .option('--position <n>', 'order (default: last)')
    .option('--model', "add the model newsletter's four sections")
    .action(
      async (
        key: string | undefined,
        o: { zh?: string; en?: string; position?: string; model?: boolean },
      ) => {
        const { db } = await deps();
        if (o.model) {
          const rows = [];
          for (const s of MODEL_SECTIONS) rows.push(await upsertSection(db, s));
          runtime.print(rows, `Saved ${rows.length} sections.`);
          return;
        }
        if (!key || !o.zh) throw new EditorialInputError('give a key and --zh <name> (or --model)');
        const existing = await listSections(db);
        const position =
          o.position !== undefined ? Number(o.position) : Math.max(0, ...existing.map((s) => s.position)) + 1;
        const row = await upsertSection(db, {
          key,
          position,
          names: { 'zh-CN': o.zh, ...(o.en ? { en: o.en } : {}) },
        });
        runtime.print(row, `Section ${row.key} saved.`);
      },
    );
  sections
    .command('edit <key>')
    .option('--zh <name>')
    .option('--en <name>')
    .option('--position <n>')
    .action(async (key: string, o: { zh?: string; en?: string; position?: string }) => {
      const row = await editSection((await deps()).db, key, {
        ...(o.position !== undefined ? { position: Number(o.position) } : {}),
        names: { ...(o.zh ? { 'zh-CN': o.zh } : {}), ...(o.en ? { en: o.en } : {}) },
      });
      runtime.print(row, `Section ${row.key} saved.`);
    });

  const publication = program
    .command('publication')
    .description('the publication: name, sender, masthead, time zone');
  publication.command('show').action(async () => {
    const d = await deps();
    const row = await ensurePublication(d.db, d.env);
    runtime.print(row, `${row.name} <${row.from_email}> — ${row.time_zone}, ${row.locale}`);
  });
  publication
    .command('set')
    .option('--name <text>')
    .option('--from-name <text>')
    .option('--from-email <address>')
    .option('--reply-to <address>')
    .option('--time-zone <zone>')
    .option('--locale <locale>')
    .option('--masthead <json>')
    .option('--postal-address <text>')
    .option('--tracking <on|off>')
    .option('--soft-bounce-limit <n>', 'soft-bounced issues in a row that suppress a reader (default 3)')
    .option('--soft-bounce-issues <n>', 'how many of the reader’s latest issues count (default 3)')
    .action(async (o: Record<string, string | undefined>) => {
      const d = await deps();
      await ensurePublication(d.db, d.env);
      const patch: PublicationPatch = {
        ...(o.name !== undefined ? { name: o.name } : {}),
        ...(o.fromName !== undefined ? { fromName: o.fromName } : {}),
        ...(o.fromEmail !== undefined ? { fromEmail: o.fromEmail } : {}),
        ...(o.replyTo !== undefined ? { replyTo: o.replyTo } : {}),
        ...(o.timeZone !== undefined ? { timeZone: o.timeZone } : {}),
        ...(o.locale !== undefined ? { locale: o.locale as Locale } : {}),
        ...(o.masthead !== undefined ? { masthead: json<Masthead>(o.masthead, '--masthead') } : {}),
        ...(o.postalAddress !== undefined ? { postalAddress: o.postalAddress } : {}),
        ...(o.tracking !== undefined ? { trackingEnabled: o.tracking === 'on' } : {}),
        ...(o.softBounceLimit !== undefined ? { softBounceLimit: Number(o.softBounceLimit) } : {}),
        ...(o.softBounceIssues !== undefined ? { softBounceIssues: Number(o.softBounceIssues) } : {}),
      };
      let row = await updatePublication(d.db, patch);
      // Whoever runs the CLI runs the server: a public sender set here needs no mailed link.
      if (patch.fromEmail !== undefined && !isLocalSender(patch.fromEmail)) {
        await markSenderVerified(d.db, patch.fromEmail, d.now());
        row = (await getPublication(d.db)) ?? row;
      }
      runtime.print(row, `Publication updated.`);
    });
}
