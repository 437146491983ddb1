import { fileURLToPath } from 'node:url';
import type { FastifyReply, FastifyRequest } from 'fastify';
import Handlebars from 'handlebars';
import { DateTime } from 'luxon';
import type { Locale, UserRole } from '../../db/schema.js';
import { roleAllows } from '../../accounts/roles.js';
import { compileTemplateFolder } from '../public/pages.js';
import { stageErrorCatalogue } from './stage-errors.js';
import { interpolate, type PageStrings, stringsFor } from './strings.js';

const ADMIN_DIR = fileURLToPath(new URL('../../../templates/admin/', import.meta.url));

/** What the layout needs about the request; built by the web app from the session. */
export interface ViewContext {
  locale: Locale;
  user: { id: number; email: string; name: string | null; role: UserRole } | null;
  csrf: string;
  /** The publication's own name, or null while it is still the product's default ("Gazette"). */
  publication: string | null;
  timeZone: string;
  /** For admins while no issue can go out from the sender (none yet, or unverified). */
  setup?: { state: 'local' | 'unverified'; email: string } | undefined;
  path: string;
  flash?: { kind: 'notice' | 'error'; message: string } | undefined;
}

export interface AdminView {
  /** templates/admin/<page>.hbs */
  page: string;
  /** A key of the page's strings (or the common ones) or literal text. */
  title: string;
  strings?: PageStrings;
  data?: Record<string, unknown>;
  /** Extra scripts under /static/ (src/http/admin/assets), loaded with defer after admin.js. */
  scripts?: string[];
  status?: number;
  /** The page's template alone, without the layout: a fragment a page script swaps in. */
  fragment?: boolean;
}

export type AdminRenderer = (view: AdminView, context: ViewContext) => string;

const NAV: { key: string; href: string; role: UserRole }[] = [
  { key: 'navIssues', href: '/admin/issues', role: 'viewer' },
  { key: 'navInbox', href: '/admin/inbox', role: 'viewer' },
  { key: 'navSubscribers', href: '/admin/subscribers', role: 'viewer' },
  { key: 'navSources', href: '/admin/sources', role: 'viewer' },
  { key: 'navStats', href: '/admin/stats', role: 'viewer' },
  { key: 'navUsers', href: '/admin/users', role: 'admin' },
  { key: 'navSettings', href: '/admin/settings', role: 'admin' },
  { key: 'navOps', href: '/admin/ops', role: 'admin' },
];

function registerHelpers(hb: typeof Handlebars): void {
  hb.registerHelper('eq', (a: unknown, b: unknown) => a === b);
  hb.registerHelper('ne', (a: unknown, b: unknown) => a !== b);
  hb.registerHelper('not', (a: unknown) => !a);
  hb.registerHelper('and', (...args: unknown[]) => args.slice(0, -1).every(Boolean));
  hb.registerHelper('or', (...args: unknown[]) => args.slice(0, -1).some(Boolean));
  hb.registerHelper('fmt', (text: unknown, options: Handlebars.HelperOptions) =>
    interpolate(String(text ?? ''), options.hash as Record<string, unknown>),
  );
  // Dates in the publication's time zone: editors schedule in it, whatever the browser says.
  hb.registerHelper('date', (value: unknown, options: Handlebars.HelperOptions) => {
    if (!value) return '';
    const root = options.data.root as ViewContext;
    const d = value instanceof Date ? value : new Date(String(value));
    if (Number.isNaN(d.getTime())) return '';
    const format = typeof options.hash.format === 'string' ? options.hash.format : 'yyyy-MM-dd HH:mm';
    return DateTime.fromJSDate(d, { zone: root.timeZone }).setLocale(root.locale).toFormat(format);
  });
  // For <script type="application/json">: "</" cannot end the element early.
  hb.registerHelper(
    'json',
    (value: unknown) => new hb.SafeString(JSON.stringify(value ?? null).replace(/</g, '\\u003c')),
  );
  hb.registerHelper('can', (role: UserRole, options: Handlebars.HelperOptions) => {
    const user = (options.data.root as ViewContext).user;
    return !!user && roleAllows(user.role, role);
  });
}

/**
 * Compiles templates/admin/*.hbs once at start (`_name.hbs` are partials). Every page is wrapped
 * in layout.hbs, which draws the navigation the user's role allows and the language switch.
 */
export function loadAdminRenderer(dir = ADMIN_DIR): AdminRenderer {
  const hb = Handlebars.create();
  registerHelpers(hb);
  const compiled = compileTemplateFolder(hb, dir);
  const layout = compiled.get('layout');
  if (!layout) throw new Error(`templates/admin/layout.hbs is missing in ${dir}`);
  return (view, context) => {
    const template = compiled.get(view.page);
    if (!template) throw new Error(`No admin page template "${view.page}"`);
    const t = stringsFor(context.locale, view.strings);
    const nav = context.user
      ? NAV.filter((n) => roleAllows(context.user?.role ?? 'viewer', n.role)).map((n) => ({
          label: t[n.key],
          href: n.href,
          current: context.path === n.href || context.path.startsWith(`${n.href}/`),
        }))
      : [];
    const roleLabel = context.user
      ? t[`role${context.user.role[0]?.toUpperCase()}${context.user.role.slice(1)}`]
      : '';
    const data = { ...context, ...view.data, t, nav, roleLabel, title: t[view.title] ?? view.title };
    if (view.fragment) return template(data);
    // Pages with scripts get the table that explains the JSON API's refusals in this locale.
    const scripts = view.scripts ?? [];
    const stageErrors = scripts.length ? stageErrorCatalogue(context.locale) : null;
    return layout({ ...data, scripts, stageErrors, body: template(data) });
  };
}

export type PageResponder = (
  req: FastifyRequest,
  reply: FastifyReply,
  view: AdminView,
) => Promise<FastifyReply>;
