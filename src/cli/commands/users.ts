import { randomBytes } from 'node:crypto';
import type { Command } from 'commander';
import { LOCALES, type Locale, USER_ROLES, type UserRole } from '../../db/schema.js';
import { WeakPasswordError } from '../../accounts/passwords.js';
import { isUserRole } from '../../accounts/roles.js';
import {
  createUser,
  findUserByEmail,
  listUsers,
  type PublicUser,
  UserError,
  updateUser,
} from '../../accounts/users.js';
import { UsageError } from '../errors.js';
import type { CliRuntime } from '../runtime.js';
import { readFirstLine } from '../stdin.js';

function role(value: string | undefined): UserRole | undefined {
  if (value === undefined) return undefined;
  if (!isUserRole(value))
    throw new UsageError(`--role must be one of ${USER_ROLES.join(', ')} (got "${value}")`);
  return value;
}

function locale(value: string | undefined): Locale | undefined {
  if (value === undefined) return undefined;
  if (!LOCALES.includes(value as Locale))
    throw new UsageError(`--locale must be zh-CN or en (got "${value}")`);
  return value as Locale;
}

/** Domain refusals are the caller's to fix: print them as usage errors, without a stack. */
async function explained<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (err) {
    if (err instanceof UserError || err instanceof WeakPasswordError) throw new UsageError(err.message);
    throw err;
  }
}

/** The password from stdin (first line) when asked, else a generated one shown once. */
async function readPassword(
  fromStdin: boolean,
  stdin: NodeJS.ReadableStream,
): Promise<{ password: string; generated: boolean }> {
  if (!fromStdin) return { password: randomBytes(15).toString('base64url'), generated: true };
  return { password: await readFirstLine('--password-stdin', stdin), generated: false };
}

function line(u: PublicUser): string {
  const state = u.disabled_at ? 'disabled' : 'active';
  return `${String(u.id).padStart(4)}  ${u.role.padEnd(7)} ${state.padEnd(9)} ${u.email}  ${u.name ?? ''}`;
}

async function byEmail(runtime: CliRuntime, email: string): Promise<PublicUser> {
  const ctx = await runtime.context();
  const user = await findUserByEmail(ctx.db, email);
  if (!user) throw new UsageError(`No user ${email}`);
  return user;
}

export function registerUserCommands(program: Command, runtime: CliRuntime): void {
  const users = program.command('users').description("accounts for the editors' web app (/admin)");

  users
    .command('add <email>')
    .description('create an account; without --password-stdin a password is generated and printed once')
    .requiredOption('--role <role>', 'admin, editor or viewer')
    .option('--name <name>')
    .option('--locale <locale>', 'zh-CN or en (default: follow the browser)')
    .option('--password-stdin', 'read the password from the first line of stdin')
    .action(
      async (email: string, o: { role: string; name?: string; locale?: string; passwordStdin?: boolean }) => {
        const ctx = await runtime.context();
        const { password, generated } = await readPassword(o.passwordStdin === true, runtime.io.stdin);
        const user = await explained(() =>
          createUser(ctx.db, {
            email,
            role: role(o.role) as UserRole,
            password,
            name: o.name ?? null,
            locale: locale(o.locale) ?? null,
          }),
        );
        runtime.print(
          { id: user.id, email: user.email, role: user.role, ...(generated ? { password } : {}) },
          `created ${user.role} ${user.email} (id ${user.id})${generated ? `\npassword (shown once): ${password}` : ''}`,
        );
      },
    );

  users
    .command('list')
    .description('every account with its role and state')
    .action(async () => {
      const ctx = await runtime.context();
      const all = await listUsers(ctx.db);
      runtime.print(
        all,
        all.map(line).join('\n') || '(no users: create one with `gazette users add <email> --role admin`)',
      );
    });

  users
    .command('edit <email>')
    .description('change role, name, language; disable or enable; set a new password (ends their sessions)')
    .option('--role <role>')
    .option('--name <name>')
    .option('--locale <locale>')
    .option('--disable')
    .option('--enable')
    .option('--password-stdin', 'read a new password from stdin')
    .action(
      async (
        email: string,
        o: {
          role?: string;
          name?: string;
          locale?: string;
          disable?: boolean;
          enable?: boolean;
          passwordStdin?: boolean;
        },
      ) => {
        if (o.disable && o.enable) throw new UsageError('--disable and --enable cannot be given together');
        const ctx = await runtime.context();
        const user = await byEmail(runtime, email);
        const password = o.passwordStdin ? (await readPassword(true, runtime.io.stdin)).password : undefined;
        const updated = await explained(() =>
          updateUser(
            ctx.db,
            user.id,
            {
              ...(o.role !== undefined ? { role: role(o.role) } : {}),
              ...(o.name !== undefined ? { name: o.name } : {}),
              ...(o.locale !== undefined ? { locale: locale(o.locale) } : {}),
              ...(o.disable ? { disabled: true } : o.enable ? { disabled: false } : {}),
              ...(password !== undefined ? { password } : {}),
            },
            ctx.now(),
          ),
        );
        runtime.print(updated, line(updated));
      },
    );
}
