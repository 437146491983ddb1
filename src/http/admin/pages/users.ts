import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { USER_ROLES, type UserRole } from '../../../db/schema.js';
import { MIN_PASSWORD_LENGTH, verifyPassword, WeakPasswordError } from '../../../accounts/passwords.js';
import { isUserRole } from '../../../accounts/roles.js';
import { createSession } from '../../../accounts/sessions.js';
import {
  createUser,
  findUserByEmail,
  getUser,
  listUsers,
  UserError,
  updateUser,
} from '../../../accounts/users.js';
import type { WebDeps } from '../deps.js';
import { currentUser, requestLocale, sendAdminPage, setFlash } from '../respond.js';
import { setSessionCookie } from '../session-cookie.js';
import { defineStrings } from '../strings.js';
import { field, isLocale, parseId, textsFor } from './subscribers/form.js';

export const USER_STRINGS = defineStrings({
  'zh-CN': {
    usersTitle: '用户',
    usersIntro:
      '管理可以登录编辑台的账户。管理员可做一切操作，编辑管理信息源、条目和期刊，只读用户只能查看。',
    userEmail: '邮箱地址',
    userName: '姓名',
    userRole: '角色',
    userState: '状态',
    userLastSignIn: '上次登录',
    userActive: '正常',
    userDisabled: '已停用',
    userNever: '从未',
    userYou: '（您）',
    userAddTitle: '添加用户',
    userInitialPassword: '初始密码',
    userPasswordHint: '至少 {n} 个字符。请通过安全的渠道告知对方，并请其登录后修改。',
    userAddButton: '添加用户',
    userAdded: '已添加用户。',
    userChangeRole: '修改角色',
    userRoleChanged: '已修改角色。',
    userDisable: '停用',
    userEnable: '启用',
    userDisableConfirm: '停用后该用户将立即退出，且无法再登录。确定吗？',
    userDisabledDone: '已停用该用户，其所有会话已结束。',
    userEnabledDone: '已启用该用户。',
    userResetPassword: '重设密码',
    userNewPassword: '新密码',
    userPasswordReset: '已重设密码，该用户的所有会话已结束。',
    userLastAdmin: '不能降级或停用最后一位管理员：请先将另一位用户设为管理员。',
    userExists: '该邮箱地址已有账户。',
    userInvalid: '输入有误：{message}',
    userWeakPassword: '密码至少需要 {n} 个字符。',
    userGuessablePassword: '这个密码太容易被猜到（常见密码、单词、规律或重复）。请用更长的短语。',
    userNotFound: '找不到该用户。',
    meTitle: '我的账户',
    meIntro: '修改您的姓名、界面语言和密码。',
    meProfile: '个人资料',
    meLanguage: '界面语言',
    meFollowBrowser: '跟随浏览器',
    meSaved: '已保存。',
    mePasswordTitle: '修改密码',
    meCurrentPassword: '当前密码',
    meNewPassword: '新密码',
    meConfirmPassword: '再次输入新密码',
    mePasswordButton: '修改密码',
    mePasswordChanged: '密码已修改；您在其他设备上的登录已结束。',
    meWrongPassword: '当前密码不正确。',
    meMismatch: '两次输入的新密码不一致。',
  },
  en: {
    usersTitle: 'Users',
    usersIntro:
      'The accounts that may sign in to the editor. Admins can do everything; editors manage sources, items and issues; viewers only read.',
    userEmail: 'Email address',
    userName: 'Name',
    userRole: 'Role',
    userState: 'State',
    userLastSignIn: 'Last sign-in',
    userActive: 'Active',
    userDisabled: 'Disabled',
    userNever: 'Never',
    userYou: '(you)',
    userAddTitle: 'Add a user',
    userInitialPassword: 'Initial password',
    userPasswordHint:
      'At least {n} characters. Pass it on by a safe channel and ask them to change it after signing in.',
    userAddButton: 'Add user',
    userAdded: 'User added.',
    userChangeRole: 'Change role',
    userRoleChanged: 'Role changed.',
    userDisable: 'Disable',
    userEnable: 'Enable',
    userDisableConfirm: 'The user is signed out at once and cannot sign in again. Disable?',
    userDisabledDone: 'The user is disabled and every session of theirs has ended.',
    userEnabledDone: 'The user is enabled.',
    userResetPassword: 'Reset password',
    userNewPassword: 'New password',
    userPasswordReset: 'Password reset; every session of that user has ended.',
    userLastAdmin: 'The last admin cannot be demoted or disabled: make another user an admin first.',
    userExists: 'An account with this address already exists.',
    userInvalid: 'Not valid: {message}',
    userWeakPassword: 'The password must be at least {n} characters long.',
    userGuessablePassword:
      'This password is too easy to guess (a common password, a word, a pattern or a repetition). Use a longer phrase.',
    userNotFound: 'No such user.',
    meTitle: 'My account',
    meIntro: 'Your name, the language of these pages, and your password.',
    meProfile: 'Profile',
    meLanguage: 'Page language',
    meFollowBrowser: 'Follow the browser',
    meSaved: 'Saved.',
    mePasswordTitle: 'Change password',
    meCurrentPassword: 'Current password',
    meNewPassword: 'New password',
    meConfirmPassword: 'New password again',
    mePasswordButton: 'Change password',
    mePasswordChanged: 'Password changed; your sessions on other devices have ended.',
    meWrongPassword: 'The current password is not right.',
    meMismatch: 'The two new passwords differ.',
  },
});

const ADMIN = { access: { kind: 'session', role: 'admin' } } as const;
const SIGNED_IN = { access: { kind: 'session', role: 'viewer' } } as const;

/** A user-facing message for the account errors, in the page's language (null: not ours). */
export function userErrorMessage(err: unknown, t: Record<string, string | undefined>): string | null {
  if (err instanceof WeakPasswordError)
    return err.reason === 'guessable'
      ? (t.userGuessablePassword ?? err.message)
      : (t.userWeakPassword ?? '').replace('{n}', String(MIN_PASSWORD_LENGTH));
  if (err instanceof UserError) {
    if (err.code === 'last-admin') return t.userLastAdmin ?? err.message;
    if (err.code === 'exists') return t.userExists ?? err.message;
    if (err.code === 'not-found') return t.userNotFound ?? err.message;
    return (t.userInvalid ?? '').replace('{message}', err.message);
  }
  return null;
}

/**
 * /admin/users (admins): list, add, change role, disable/enable, reset a password. The last
 * active admin cannot be demoted or disabled (src/accounts/users.ts refuses; the page says why).
 * /admin/users/me (anyone signed in): own name, page language, password (the current one first).
 */
export function usersPages(deps: WebDeps): FastifyPluginAsync {
  const { ctx } = deps;
  const { db } = ctx;

  const texts = async (req: FastifyRequest) => textsFor(await requestLocale(deps, req), USER_STRINGS);
  const back = (reply: FastifyReply, url: string, kind: 'notice' | 'error', message: string) =>
    setFlash(reply, kind, message).redirect(url, 303);

  /** Runs one change to a user; a refusal becomes a flash message on the list. */
  async function change(
    req: FastifyRequest,
    reply: FastifyReply,
    run: (id: number) => Promise<unknown>,
    done: string,
    event: string,
  ) {
    const t = await texts(req);
    const id = parseId((req.params as { id: string }).id);
    if (!id) return reply.callNotFound();
    try {
      await run(id);
    } catch (err) {
      const message = userErrorMessage(err, t);
      if (!message) throw err;
      return back(reply, '/admin/users', 'error', message);
    }
    ctx.log.info({ event, userId: id, by: currentUser(req).id }, 'user changed');
    return back(reply, '/admin/users', 'notice', t[done] ?? '');
  }

  return async (app) => {
    app.get('/admin/users', { config: ADMIN }, async (req, reply) => {
      const t = await texts(req);
      const me = currentUser(req);
      const users = await listUsers(db);
      return sendAdminPage(deps, req, reply, {
        page: 'users-list',
        title: 'usersTitle',
        strings: USER_STRINGS,
        data: {
          users: users.map((u) => ({
            ...u,
            isMe: u.id === me.id,
            roleLabel: t[`role${u.role[0]?.toUpperCase()}${u.role.slice(1)}`],
            roles: USER_ROLES.map((r) => ({
              value: r,
              label: t[`role${r[0]?.toUpperCase()}${r.slice(1)}`],
              selected: r === u.role,
            })),
          })),
          roles: USER_ROLES.map((r) => ({
            value: r,
            label: t[`role${r[0]?.toUpperCase()}${r.slice(1)}`],
            selected: r === 'editor',
          })),
          minPassword: MIN_PASSWORD_LENGTH,
        },
      });
    });

    app.post('/admin/users', { config: ADMIN }, async (req, reply) => {
      const t = await texts(req);
      const role = field(req.body, 'role');
      try {
        const user = await createUser(db, {
          email: field(req.body, 'email'),
          name: field(req.body, 'name') || null,
          role: (isUserRole(role) ? role : 'viewer') as UserRole,
          password: field(req.body, 'password'),
        });
        ctx.log.info({ event: 'web.user.created', userId: user.id, by: currentUser(req).id }, 'user created');
        return back(reply, '/admin/users', 'notice', t.userAdded);
      } catch (err) {
        const message = userErrorMessage(err, t);
        if (!message) throw err;
        return back(reply, '/admin/users', 'error', message);
      }
    });

    app.post('/admin/users/:id/role', { config: ADMIN }, (req, reply) => {
      const role = field(req.body, 'role');
      return change(
        req,
        reply,
        (id) =>
          isUserRole(role)
            ? updateUser(db, id, { role }, ctx.now())
            : Promise.reject(new UserError('invalid', `role must be ${USER_ROLES.join(', ')}`)),
        'userRoleChanged',
        'web.user.role_changed',
      );
    });
    app.post('/admin/users/:id/disable', { config: ADMIN }, (req, reply) =>
      change(
        req,
        reply,
        (id) => updateUser(db, id, { disabled: true }, ctx.now()),
        'userDisabledDone',
        'web.user.disabled',
      ),
    );
    app.post('/admin/users/:id/enable', { config: ADMIN }, (req, reply) =>
      change(
        req,
        reply,
        (id) => updateUser(db, id, { disabled: false }, ctx.now()),
        'userEnabledDone',
        'web.user.enabled',
      ),
    );
    app.post('/admin/users/:id/password', { config: ADMIN }, (req, reply) =>
      change(
        req,
        reply,
        (id) => updateUser(db, id, { password: field(req.body, 'password') }, ctx.now()),
        'userPasswordReset',
        'web.user.password_reset',
      ),
    );

    app.get('/admin/users/me', { config: SIGNED_IN }, async (req, reply) => {
      const me = await getUser(db, currentUser(req).id);
      if (!me) return reply.callNotFound();
      return sendAdminPage(deps, req, reply, {
        page: 'users-me',
        title: 'meTitle',
        strings: USER_STRINGS,
        data: { me, minPassword: MIN_PASSWORD_LENGTH },
      });
    });

    app.post('/admin/users/me', { config: SIGNED_IN }, async (req, reply) => {
      const id = currentUser(req).id;
      const locale = field(req.body, 'locale');
      await updateUser(
        db,
        id,
        { name: field(req.body, 'name') || null, locale: isLocale(locale) ? locale : null },
        ctx.now(),
      );
      // The locale is read fresh on every page, so the answer below is already in the new language.
      const t = await texts(req);
      ctx.log.info({ event: 'web.user.profile_saved', userId: id }, 'own profile saved');
      return back(reply, '/admin/users/me', 'notice', t.meSaved);
    });

    // A new password ends every session of the account (a stolen cookie dies with the old
    // password); this browser gets a fresh session so the person who changed it stays signed in.
    // Checking the current password is a guess like a sign-in: the same limit, per account.
    const passwordGuesses = {
      max: 10,
      timeWindow: 15 * 60 * 1000,
      keyGenerator: (req: FastifyRequest) => `password-check:user:${currentUser(req).id}`,
    };
    app.post(
      '/admin/users/me/password',
      { config: { ...SIGNED_IN, rateLimit: passwordGuesses } },
      async (req, reply) => {
        const t = await texts(req);
        const me = currentUser(req);
        const stored = await findUserByEmail(db, me.email);
        const current = field(req.body, 'current');
        const next = field(req.body, 'password');
        if (!stored || !(await verifyPassword(stored.password_hash, current))) {
          ctx.log.info({ event: 'web.user.password_refused', userId: me.id }, 'wrong current password');
          return back(reply, '/admin/users/me', 'error', t.meWrongPassword);
        }
        if (next !== field(req.body, 'confirm')) return back(reply, '/admin/users/me', 'error', t.meMismatch);
        try {
          await updateUser(db, me.id, { password: next }, ctx.now());
        } catch (err) {
          const message = userErrorMessage(err, t);
          if (!message) throw err;
          return back(reply, '/admin/users/me', 'error', message);
        }
        const session = await createSession(db, me.id, ctx.now());
        setSessionCookie(reply, session.token);
        ctx.log.info({ event: 'web.user.password_changed', userId: me.id }, 'own password changed');
        return back(reply, '/admin/users/me', 'notice', t.mePasswordChanged);
      },
    );
  };
}
