import type { Command } from 'commander';
import { RELAY_SECURITY, type RelaySecurity } from '../../db/schema.js';
import { type RelayInput, RelayInputError } from '../../delivery/relay-input.js';
import {
  addRelay,
  currentRelaySpecs,
  listRelays,
  type RelayView,
  removeRelay,
  setRelayEnabled,
  updateRelay,
} from '../../delivery/relay-store.js';
import { UsageError } from '../errors.js';
import type { CliRuntime } from '../runtime.js';
import { readFirstLine } from '../stdin.js';

interface RelayOptions {
  host?: string;
  port?: string;
  security?: string;
  user?: string;
  passwordStdin?: boolean;
  weight?: string;
  perSecond?: string;
  perHour?: string;
  disabled?: boolean;
}

const whole = (name: string, value: string | undefined, fallback: number): number => {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n)) throw new UsageError(`${name} must be a whole number (got "${value}")`);
  return n;
};

function security(value: string | undefined, fallback: RelaySecurity): RelaySecurity {
  if (value === undefined) return fallback;
  if (!RELAY_SECURITY.includes(value as RelaySecurity))
    throw new UsageError(`--security must be starttls or tls (got "${value}")`);
  return value as RelaySecurity;
}

/** Options over what is stored (an edit changes only what it names). */
async function inputOf(
  name: string,
  o: RelayOptions,
  stdin: NodeJS.ReadableStream,
  was?: RelayView,
): Promise<RelayInput> {
  const host = o.host ?? was?.host;
  if (!host) throw new UsageError('--host is required');
  const sec = security(o.security, was?.security ?? 'starttls');
  return {
    name,
    host,
    port: whole('--port', o.port, was?.port ?? (sec === 'tls' ? 465 : 587)),
    security: sec,
    username: o.user ?? was?.username ?? '',
    ...(o.passwordStdin ? { password: await readFirstLine('--password-stdin', stdin) } : {}),
    weight: whole('--weight', o.weight, was?.weight ?? 1),
    perSecond: whole('--per-second', o.perSecond, was?.perSecond ?? 0),
    perHour: whole('--per-hour', o.perHour, was?.perHour ?? 0),
    enabled: o.disabled ? false : (was?.enabled ?? true),
  };
}

function line(r: RelayView): string {
  const limits = `${r.perSecond || '∞'}/s ${r.perHour || '∞'}/h`;
  const auth = r.username ? `${r.username} (password ${r.hasPassword ? 'set' : 'missing'})` : 'no login';
  return `${r.enabled ? 'on ' : 'off'} ${r.name.padEnd(20)} ${`${r.host}:${r.port}`.padEnd(32)} ${r.security.padEnd(8)} weight ${r.weight}  ${limits}  ${auth}`;
}

async function explained<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (err) {
    if (err instanceof RelayInputError) throw new UsageError(err.message);
    throw err;
  }
}

/** `gazette relays …`: the SMTP relays of the settings, as in /admin/settings. */
export function registerRelayCommands(program: Command, runtime: CliRuntime): void {
  const relays = program
    .command('relays')
    .description('SMTP relays kept in the settings; while any is enabled they replace SMTP_URL');

  const byName = async (name: string) => {
    const ctx = await runtime.context();
    const found = (await listRelays(ctx.db)).find((r) => r.name === name);
    if (!found) throw new UsageError(`No relay named "${name}" (see \`gazette relays list\`)`);
    return { ctx, relay: found };
  };
  const withOptions = (cmd: Command) =>
    cmd
      .option('--host <host>', 'host name or address')
      .option('--port <port>', 'default 587 (465 with --security tls)')
      .option('--security <mode>', 'starttls (smtp://) or tls (smtps://)')
      .option('--user <name>', 'login; empty for none')
      .option('--password-stdin', 'read the password from the first line of stdin')
      .option('--weight <n>', 'share of the messages; 0 = only when the others are out of budget')
      .option('--per-second <n>', 'messages per second, 0 = unlimited')
      .option('--per-hour <n>', 'messages per hour, 0 = unlimited')
      .option('--disabled', 'store it switched off');

  relays
    .command('list')
    .description('the stored relays, and which relays delivery uses now')
    .action(async () => {
      const ctx = await runtime.context();
      const list = await listRelays(ctx.db);
      const now = await currentRelaySpecs(ctx);
      const inUse =
        now.source === 'settings'
          ? 'the relays above'
          : now.specs.length
            ? 'SMTP_URL'
            : 'no relay (SMTP_URL is unset: send workers will not start; one-off mail goes to the built-in catcher)';
      runtime.print(
        { relays: list, inUse: now.source, names: now.specs.map((s) => s.name) },
        `${list.length ? list.map(line).join('\n') : 'No relays stored.'}\nDelivery uses ${inUse}.`,
      );
    });

  withOptions(
    relays.command('add <name>').description('store a relay (workers use it from their next job)'),
  ).action(async (name: string, o: RelayOptions) => {
    const ctx = await runtime.context();
    const relay = await explained(async () =>
      addRelay(ctx.db, ctx.secrets, await inputOf(name, o, runtime.io.stdin)),
    );
    runtime.print(relay, `Relay ${relay.name} stored.\n${line(relay)}`);
  });

  withOptions(
    relays.command('edit <name>').description('change a relay; options not given stay as they are'),
  ).action(async (name: string, o: RelayOptions) => {
    const { ctx, relay: was } = await byName(name);
    const relay = await explained(async () =>
      updateRelay(ctx.db, ctx.secrets, was.id, await inputOf(name, o, runtime.io.stdin, was)),
    );
    runtime.print(relay, `Relay ${relay.name} changed.\n${line(relay)}`);
  });

  for (const [verb, enabled] of [
    ['enable', true],
    ['disable', false],
  ] as const) {
    relays
      .command(`${verb} <name>`)
      .description(`${verb} a relay`)
      .action(async (name: string) => {
        const { ctx, relay } = await byName(name);
        await setRelayEnabled(ctx.db, relay.id, enabled);
        runtime.print({ name, enabled }, `Relay ${name} ${enabled ? 'enabled' : 'disabled'}.`);
      });
  }

  relays
    .command('remove <name>')
    .description('delete a relay (deliveries keep its name)')
    .action(async (name: string) => {
      const { ctx, relay } = await byName(name);
      await removeRelay(ctx.db, relay.id);
      runtime.print({ name, removed: true }, `Relay ${name} removed.`);
    });
}
