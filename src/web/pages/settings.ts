import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { IANAZone } from 'luxon';
import nodemailer from 'nodemailer';
import type { Env } from '../../config/env.js';
import type { Locale, Masthead, RelaySecurity } from '../../db/schema.js';
import {
  addRelay,
  currentRelaySpecs,
  getRelay,
  listRelays,
  openPassword,
  type RelayInput,
  RelayInputError,
  relayUrl,
  removeRelay,
  setRelayEnabled,
  updateRelay,
} from '../../delivery/relays.js';
import { parseTransportSpecs, TransportConfigError, type TransportSpec } from '../../delivery/transports.js';
import {
  editSection,
  ensurePublication,
  getSectionByKey,
  listSections,
  type PublicationPatch,
  updatePublication,
  upsertSection,
} from '../../publication/index.js';
import { PublicationInputError } from '../../publication/publication.js';
import type { WebDeps } from '../deps.js';
import { requestLocale, sendAdminPage, setFlash } from '../respond.js';
import { stageErrorText } from '../stage-errors.js';
import { defineStrings, interpolate } from '../strings.js';
import { field, parseId, type Texts, textsFor } from './subscribers/form.js';

export const SETTINGS_STRINGS = defineStrings({
  'zh-CN': {
    settingsTitle: '设置',
    settingsIntro: '刊物信息、栏目和邮件发送通道。仅管理员可见。',
    pubTitle: '刊物',
    pubName: '刊物名称',
    pubLocale: '刊物语言',
    pubFromName: '发件人名称',
    pubFromEmail: '发件人地址',
    pubReplyTo: '回复地址（可选）',
    pubTimeZone: '时区',
    pubTimeZoneHint: 'IANA 时区，例如 Asia/Shanghai。排期和期号按此时区计算。',
    pubPostal: '通讯地址（显示在邮件页脚）',
    pubTracking: '统计打开和点击（跟踪像素与链接跳转）',
    pubMasthead: '刊头默认值',
    pubMastheadHint: '新一期的刊头从这里开始；每行一个名字。',
    mastCommittee: '委员会',
    mastDirector: '主任',
    mastDeputies: '副主任',
    mastBoard: '编委',
    mastEditor: '本期编辑',
    pubSave: '保存刊物信息',
    pubSaved: '已保存刊物信息。',
    pubBadEmail: '发件人地址无效。',
    pubBadReplyTo: '回复地址无效。',
    pubBadZone: '“{zone}”不是 IANA 时区（例如 Asia/Shanghai）。',
    pubNameRequired: '请填写刊物名称和发件人名称。',
    secTitle: '栏目',
    secIntro: '订阅者按栏目选择内容。栏目的键（key）用于链接和导入，创建后不可修改。',
    secPosition: '顺序',
    secKey: '键',
    secNameZh: '中文名称',
    secNameEn: '英文名称',
    secRename: '保存名称',
    secUp: '上移',
    secDown: '下移',
    secMoveUp: '将“{name}”上移',
    secMoveDown: '将“{name}”下移',
    secAddTitle: '添加栏目',
    secAdd: '添加栏目',
    secAdded: '已添加栏目。',
    secRenamed: '已保存栏目名称。',
    secMoved: '已调整栏目顺序。',
    secExists: '已有键为“{key}”的栏目。',
    secNameRequired: '请至少填写一个名称。',
    secInvalid: '无法保存：{message}',
    smtpTitle: 'SMTP 发送通道',
    smtpIntro:
      '邮件经由 SMTP 中继（发信服务器）发出。只要下方“已保存的中继”中有一个已启用，就只使用这些中继，忽略环境变量 SMTP_URL；否则使用 SMTP_URL。“测试连接”会连接服务器并登录，但不发送任何邮件。',
    smtpInUse: '当前发信使用：',
    smtpFromSettings: '下方已启用的中继',
    smtpEnvIgnored:
      '环境变量 SMTP_URL 也配置了中继，但只要这里有已启用的中继，就不会使用它们。停用下方全部中继后，将恢复使用 SMTP_URL。',
    smtpFromEnv: '环境变量 SMTP_URL 中的中继（只读，不显示凭据），因为下方没有已启用的中继。',
    smtpNone:
      '内置的测试收件服务器：邮件不会真正发出，而是以 .eml 文件保存在 {dir}。（未设置 SMTP_URL，下方也没有已启用的中继。）',
    smtpApplyNote: '修改保存后，发送进程会在开始下一个发送任务前读取，无需重启。',
    smtpName: '名称',
    smtpHost: '服务器',
    smtpSecurity: '加密',
    smtpUser: '用户名',
    smtpPassword: '密码',
    smtpWeight: '权重',
    smtpPerSecond: '每秒上限',
    smtpPerHour: '每小时上限',
    smtpUnlimited: '不限',
    smtpPool: '每个发送进程对每个中继最多建立 {n} 个连接。',
    smtpVerify: '测试连接',
    smtpVerified: '{name}：连接和登录成功。',
    smtpVerifyFailed: '{name}：连接失败：{message}',
    smtpConfigError: 'SMTP_URL 无法解析：{message}',
    smtpImplicitTls: 'TLS（smtps）',
    smtpStartTls: 'STARTTLS（如服务器支持）',
    smtpSet: '已设置',
    smtpStoredTitle: '已保存的中继',
    smtpStoredEmpty: '还没有保存任何中继。',
    smtpStatus: '状态',
    smtpOn: '已启用',
    smtpOff: '已停用',
    smtpFallback: '仅备用',
    smtpEnable: '启用',
    smtpDisable: '停用',
    smtpRowSuffix: '：{name}',
    smtpRemoveConfirm: '确定删除中继“{name}”吗？此操作无法撤销。',
    smtpEnableFirstConfirm:
      '启用“{name}”后，发信将只使用这里已启用的中继，不再使用 SMTP_URL 或测试收件服务器。确定启用吗？',
    smtpDisableLastConfirm:
      '“{name}”是唯一已启用的中继。停用后，发信将改用环境变量 SMTP_URL；未设置时，邮件只保存在测试收件服务器，不会真正发出。确定停用吗？',
    smtpRemoveLastConfirm:
      '“{name}”是唯一已启用的中继。删除后，发信将改用环境变量 SMTP_URL；未设置时，邮件只保存在测试收件服务器，不会真正发出。确定删除吗？此操作无法撤销。',
    smtpEditTitle: '编辑中继“{name}”',
    smtpSave: '保存修改',
    smtpNameHint: '用来区分各个中继，会记在每封邮件的发送记录里。可用字母、数字和 . _ : -，例如 mail-1。',
    smtpHostName: '服务器地址',
    smtpPort: '端口',
    smtpPortHint: 'STARTTLS 通常用 587 端口，TLS 通常用 465 端口。',
    smtpUserHint: '服务器不需要登录时，用户名和密码都留空。清空用户名会同时删除已保存的密码。',
    smtpPasswordKeep: '留空则保留已保存的密码',
    smtpWeightHint: '按权重比例分配发信量；0 表示仅作备用，其他中继发送失败时才使用。',
    smtpLimitHint: '填 0 表示不限。',
    smtpEnableNow: '立即启用',
    smtpEnableNowHint:
      '启用后，发信将只使用这里已启用的中继，不再使用 SMTP_URL。建议先不勾选，保存后“测试连接”成功再启用。',
    smtpAddTitle: '添加中继',
    smtpAdd: '添加中继',
    smtpAdded: '已添加中继“{name}”，并已启用。',
    smtpAddedDisabled: '已添加中继“{name}”（尚未启用）。可以先测试连接，成功后再启用。',
    smtpUpdated: '已保存中继“{name}”。',
    smtpEnabledNow: '已启用中继“{name}”。',
    smtpDisabledNow: '已停用中继“{name}”。',
    smtpRemoved: '已删除中继“{name}”。',
    smtpNotSaved: '未保存：{message}',
  },
  en: {
    settingsTitle: 'Settings',
    settingsIntro: 'The publication, its sections, and the mail relays. Admins only.',
    pubTitle: 'Publication',
    pubName: 'Name of the publication',
    pubLocale: 'Language of the publication',
    pubFromName: 'Sender name',
    pubFromEmail: 'Sender address',
    pubReplyTo: 'Reply-to address (optional)',
    pubTimeZone: 'Time zone',
    pubTimeZoneHint: 'An IANA time zone such as Asia/Shanghai. Schedules and periods use it.',
    pubPostal: 'Postal address (in the email footer)',
    pubTracking: 'Count opens and clicks (tracking pixel and link redirects)',
    pubMasthead: 'Masthead defaults',
    pubMastheadHint: 'A new issue starts its masthead from these; one name per line.',
    mastCommittee: 'Committee',
    mastDirector: 'Director',
    mastDeputies: 'Deputy directors',
    mastBoard: 'Editorial board',
    mastEditor: 'Editor of the issue',
    pubSave: 'Save the publication',
    pubSaved: 'Publication saved.',
    pubBadEmail: 'The sender address is not valid.',
    pubBadReplyTo: 'The reply-to address is not valid.',
    pubBadZone: '"{zone}" is not an IANA time zone (such as Asia/Shanghai).',
    pubNameRequired: 'The publication and the sender need a name.',
    secTitle: 'Sections',
    secIntro: 'Subscribers choose sections. A section key is used in links and imports and cannot change.',
    secPosition: 'Order',
    secKey: 'Key',
    secNameZh: 'Chinese name',
    secNameEn: 'English name',
    secRename: 'Save names',
    secUp: 'Up',
    secDown: 'Down',
    secMoveUp: 'Move "{name}" up',
    secMoveDown: 'Move "{name}" down',
    secAddTitle: 'Add a section',
    secAdd: 'Add section',
    secAdded: 'Section added.',
    secRenamed: 'Section names saved.',
    secMoved: 'Section order changed.',
    secExists: 'A section with the key "{key}" already exists.',
    secNameRequired: 'Give the section at least one name.',
    secInvalid: 'Not saved: {message}',
    smtpTitle: 'SMTP relays',
    smtpIntro:
      'Mail leaves through SMTP relays (sending servers). While any saved relay below is enabled, only the saved relays are used and the SMTP_URL variable is ignored; otherwise SMTP_URL is used. "Verify connection" connects and signs in, and sends nothing.',
    smtpInUse: 'Sending now uses: ',
    smtpFromSettings: 'the enabled relays below',
    smtpEnvIgnored:
      'SMTP_URL names relays too, but they are not used while a relay here is enabled. Disable every relay below to go back to SMTP_URL.',
    smtpFromEnv:
      'the relays of the SMTP_URL variable (read-only, credentials not shown), because no relay below is enabled.',
    smtpNone:
      'the built-in catcher: nothing really leaves; messages are written as .eml files under {dir}. (SMTP_URL is not set and no relay below is enabled.)',
    smtpApplyNote: 'Send workers read a change before their next job; no restart is needed.',
    smtpName: 'Name',
    smtpHost: 'Server',
    smtpSecurity: 'Encryption',
    smtpUser: 'User',
    smtpPassword: 'Password',
    smtpWeight: 'Weight',
    smtpPerSecond: 'Per second',
    smtpPerHour: 'Per hour',
    smtpUnlimited: 'no limit',
    smtpPool: 'Each send worker process opens at most {n} connections per relay.',
    smtpVerify: 'Verify connection',
    smtpVerified: '{name}: connected and signed in.',
    smtpVerifyFailed: '{name}: the connection failed: {message}',
    smtpConfigError: 'SMTP_URL cannot be read: {message}',
    smtpImplicitTls: 'TLS (smtps)',
    smtpStartTls: 'STARTTLS (when offered)',
    smtpSet: 'set',
    smtpStoredTitle: 'Saved relays',
    smtpStoredEmpty: 'No relay is saved yet.',
    smtpStatus: 'Status',
    smtpOn: 'Enabled',
    smtpOff: 'Disabled',
    smtpFallback: 'fallback only',
    smtpEnable: 'Enable',
    smtpDisable: 'Disable',
    smtpRowSuffix: ': {name}',
    smtpRemoveConfirm: 'Remove the relay "{name}"? This cannot be undone.',
    smtpEnableFirstConfirm:
      'Once "{name}" is enabled, mail goes only through the enabled relays here, no longer through SMTP_URL or the catcher. Enable it?',
    smtpDisableLastConfirm:
      '"{name}" is the only enabled relay. Once it is disabled, mail goes through SMTP_URL, or, when that is not set, only to the catcher and nowhere else. Disable it?',
    smtpRemoveLastConfirm:
      '"{name}" is the only enabled relay. Once it is removed, mail goes through SMTP_URL, or, when that is not set, only to the catcher and nowhere else. Remove it? This cannot be undone.',
    smtpEditTitle: 'Edit relay "{name}"',
    smtpSave: 'Save changes',
    smtpNameHint:
      'Tells the relays apart and is recorded with every delivery. Letters, digits and . _ : -, e.g. mail-1.',
    smtpHostName: 'Server host',
    smtpPort: 'Port',
    smtpPortHint: 'Usually 587 with STARTTLS, 465 with TLS.',
    smtpUserHint:
      'Leave user and password blank for a server that needs no sign-in. Clearing the user also deletes the saved password.',
    smtpPasswordKeep: 'Leave blank to keep the saved password',
    smtpWeightHint:
      'Mail is shared out in proportion to the weights; 0 = fallback only, used when the others fail.',
    smtpLimitHint: '0 = no limit.',
    smtpEnableNow: 'Enable now',
    smtpEnableNowHint:
      'Once enabled, mail goes only through the enabled relays here, no longer through SMTP_URL. Better: save it unticked, verify the connection, then enable it.',
    smtpAddTitle: 'Add a relay',
    smtpAdd: 'Add relay',
    smtpAdded: 'Relay "{name}" added and enabled.',
    smtpAddedDisabled: 'Relay "{name}" added (not enabled yet). Verify the connection, then enable it.',
    smtpUpdated: 'Relay "{name}" saved.',
    smtpEnabledNow: 'Relay "{name}" enabled.',
    smtpDisabledNow: 'Relay "{name}" disabled.',
    smtpRemoved: 'Relay "{name}" removed.',
    smtpNotSaved: 'Not saved: {message}',
  },
});

type SettingsTexts = Texts<keyof (typeof SETTINGS_STRINGS)['zh-CN']>;

const ADMIN = { config: { access: { kind: 'session', role: 'admin' } } } as const;
const EMAIL = /^[^\s@<>]+@[^\s@<>]+\.[^\s@<>]+$/;

/** What the page shows of one SMTP_URL relay: never the password, and the user name only as "set". */
export interface EnvRelayView {
  index: number;
  name: string;
  host: string;
  port: number;
  tls: boolean;
  hasUser: boolean;
  hasPassword: boolean;
  weight: number;
  perSecond: number;
  perHour: number;
}

/** One SMTP_URL relay, masked for display (pure). */
function envRelayView(spec: TransportSpec, index: number): EnvRelayView {
  const u = new URL(spec.url);
  const tls = u.protocol === 'smtps:';
  return {
    index,
    name: spec.name,
    host: u.hostname,
    port: Number(u.port || (tls ? 465 : 587)),
    tls,
    hasUser: u.username !== '',
    hasPassword: u.password !== '',
    weight: spec.weight,
    perSecond: spec.perSecond,
    perHour: spec.perHour,
  };
}

/** The relays SMTP_URL configures, masked for display (pure). Throws TransportConfigError. */
export function relayViews(
  env: Pick<Env, 'SMTP_URL' | 'SMTP_RATE_PER_SECOND' | 'SMTP_RATE_PER_HOUR'>,
): EnvRelayView[] {
  const specs = parseTransportSpecs(env.SMTP_URL ?? [], {
    perSecond: env.SMTP_RATE_PER_SECOND,
    perHour: env.SMTP_RATE_PER_HOUR,
  });
  return specs.map(envRelayView);
}

/**
 * The add/edit relay form as a RelayInput. A number that is not one is refused here with what was
 * typed (checkRelayInput would only see NaN); ranges and names are checkRelayInput's to judge.
 */
export function readRelayForm(body: unknown): RelayInput {
  const security = field(body, 'security') as RelaySecurity;
  const whole = (name: 'port' | 'weight' | 'perSecond' | 'perHour', fallback: number): number => {
    const raw = field(body, name).trim();
    if (raw === '') return fallback;
    if (/^\d{1,10}$/.test(raw)) return Number(raw);
    if (name === 'port')
      throw new RelayInputError(`port must be 1-65535 (got "${raw}")`, 'relay-port', { port: raw });
    throw new RelayInputError(`${name} must be a whole number ≥ 0 (got "${raw}")`, 'relay-number', {
      field: name,
      value: raw,
    });
  };
  return {
    name: field(body, 'name'),
    host: field(body, 'host'),
    port: whole('port', security === 'tls' ? 465 : 587),
    security,
    username: field(body, 'username'),
    // Not trimmed: a password may begin or end with a space. Blank on an edit keeps the stored one.
    password: field(body, 'password'),
    weight: whole('weight', 1),
    perSecond: whole('perSecond', 0),
    perHour: whole('perHour', 0),
    enabled: field(body, 'enabled') === '1',
  };
}

/** A secret's raw and URL-encoded forms replaced by *** (messages a relay or nodemailer wrote). */
function maskSecret(message: string, url: string): string {
  const encoded = new URL(url).password;
  if (!encoded) return message;
  let decoded = encoded;
  try {
    decoded = decodeURIComponent(encoded);
  } catch {} // a stray % in SMTP_URL: only the form as written can appear
  let out = message;
  for (const secret of new Set([encoded, decoded])) out = out.split(secret).join('***');
  return out;
}

/**
 * Connects, greets, upgrades to TLS where offered and signs in, with nodemailer's verify(); sends
 * nothing. Null when it worked, else nodemailer's message (it names the failing step), masked.
 */
export async function verifyRelay(spec: TransportSpec): Promise<string | null> {
  const mailer = nodemailer.createTransport({
    url: spec.url,
    connectionTimeout: 10_000,
    greetingTimeout: 10_000,
    socketTimeout: 15_000,
  } as unknown as Parameters<typeof nodemailer.createTransport>[0]);
  try {
    await mailer.verify();
    return null;
  } catch (err) {
    return maskSecret(err instanceof Error ? err.message : String(err), spec.url);
  } finally {
    mailer.close();
  }
}

/** One name per line (blank lines dropped), for the masthead's lists of people. */
export function lines(text: string): string[] {
  return text
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter(Boolean);
}

/**
 * /admin/settings (admins): the publication (name, sender, reply-to, time zone, postal address,
 * tracking, masthead defaults), sections (add, rename in both languages, reorder with buttons),
 * and the SMTP relays: which ones send now, the saved relays (add, edit, enable/disable, remove)
 * and SMTP_URL's read-only while they are in effect, each with "verify connection".
 */
export function settingsPages(deps: WebDeps): FastifyPluginAsync {
  const { ctx } = deps;
  const { db, env } = ctx;

  const texts = async (req: FastifyRequest) => textsFor(await requestLocale(deps, req), SETTINGS_STRINGS);
  const back = (reply: FastifyReply, anchor: string, kind: 'notice' | 'error', message: string) =>
    setFlash(reply, kind, message).redirect(`/admin/settings#${anchor}`, 303);

  /** Renumbers sections 1..n in the given order, writing only the ones whose position changes. */
  async function renumber(keys: string[]) {
    const current = await listSections(db);
    for (const [i, key] of keys.entries()) {
      const s = current.find((c) => c.key === key);
      if (s && s.position !== i + 1) await editSection(db, key, { position: i + 1 });
    }
  }

  /** One saved relay (enabled or not) as a transport spec, credentials included, for verify only. */
  async function storedRelaySpec(id: number): Promise<TransportSpec> {
    const row = await db.selectFrom('smtp_relays').selectAll().where('id', '=', id).executeTakeFirst();
    if (!row) throw new RelayInputError(`no SMTP relay with id ${id}`, 'relay-missing', { id });
    const auth =
      row.username && row.password_encrypted
        ? { user: row.username, pass: openPassword(ctx.secrets, row.password_encrypted) }
        : undefined;
    return {
      name: row.name,
      url: relayUrl(row, auth),
      weight: row.weight,
      perSecond: row.per_second,
      perHour: row.per_hour,
    };
  }

  /** The SMTP section: what sends now (as delivery decides it), the saved relays, SMTP_URL's. */
  async function smtpView(t: SettingsTexts, locale: Locale) {
    const saved = await listRelays(db);
    const enabledCount = saved.filter((r) => r.enabled).length;
    const stored = saved.map((r) => {
      // Confirm the moves that switch delivery between these relays and SMTP_URL (or the catcher).
      const last = r.enabled && enabledCount === 1;
      return {
        ...r,
        formId: `relay-${r.id}`,
        tls: r.security === 'tls',
        fallback: r.weight === 0,
        suffix: interpolate(t.smtpRowSuffix, { name: r.name }),
        editTitle: interpolate(t.smtpEditTitle, { name: r.name }),
        toggleConfirm: last
          ? interpolate(t.smtpDisableLastConfirm, { name: r.name })
          : !r.enabled && enabledCount === 0
            ? interpolate(t.smtpEnableFirstConfirm, { name: r.name })
            : null,
        removeConfirm: interpolate(last ? t.smtpRemoveLastConfirm : t.smtpRemoveConfirm, { name: r.name }),
      };
    });
    const base = {
      stored,
      blank: { port: 587, security: 'starttls', weight: 1, perSecond: 0, perHour: 0 },
      envSet: !!env.SMTP_URL,
      outbox: `${env.DATA_DIR}/outbox`,
      poolConnections: env.SMTP_POOL_CONNECTIONS,
    };
    try {
      const { source, specs } = await currentRelaySpecs({ db, secrets: ctx.secrets, env });
      const inUse = source === 'settings' ? 'settings' : specs.length ? 'env' : 'catcher';
      return { ...base, inUse, names: specs.map((s) => s.name), envRelays: specs.map(envRelayView) };
    } catch (err) {
      // A saved password SECRET_KEY cannot open (delivery fails the same way), or a bad SMTP_URL.
      if (err instanceof RelayInputError) {
        const names = saved.filter((r) => r.enabled).map((r) => r.name);
        return { ...base, inUse: 'settings', names, envRelays: [], problem: stageErrorText(locale, err) };
      }
      if (!(err instanceof TransportConfigError || err instanceof TypeError)) throw err;
      const problem = interpolate(t.smtpConfigError, { message: err.message });
      return { ...base, inUse: 'env', names: [], envRelays: [], problem };
    }
  }

  /** Verifies one relay and says how it went, on the page and in the log (never its URL). */
  async function answerVerify(
    reply: FastifyReply,
    t: SettingsTexts,
    spec: TransportSpec,
    source: 'settings' | 'env',
  ) {
    const failure = await verifyRelay(spec);
    if (failure === null) {
      ctx.log.info({ event: 'web.settings.relay_verified', relay: spec.name, source }, 'SMTP relay verified');
      return back(reply, 'smtp', 'notice', interpolate(t.smtpVerified, { name: spec.name }));
    }
    ctx.log.warn(
      { event: 'web.settings.relay_verify_failed', relay: spec.name, source, message: failure },
      'SMTP relay verify failed',
    );
    return back(
      reply,
      'smtp',
      'error',
      interpolate(t.smtpVerifyFailed, { name: spec.name, message: failure }),
    );
  }

  /** A refused relay change: the stage's sentence in the admin's language; anything else is a bug. */
  function refuse(reply: FastifyReply, locale: Locale, err: unknown, template = '{message}') {
    if (!(err instanceof RelayInputError)) throw err;
    return back(reply, 'smtp', 'error', interpolate(template, { message: stageErrorText(locale, err) }));
  }

  return async (app) => {
    app.get('/admin/settings', ADMIN, async (req, reply) => {
      const t = await texts(req);
      const locale = await requestLocale(deps, req);
      const publication = await ensurePublication(db, env);
      const sections = await listSections(db);
      const m = publication.masthead ?? {};
      return sendAdminPage(deps, req, reply, {
        page: 'settings-index',
        title: 'settingsTitle',
        strings: SETTINGS_STRINGS,
        scripts: ['settings.js'],
        data: {
          pub: publication,
          masthead: {
            committee: m.committee ?? '',
            director: (m.director ?? []).join('\n'),
            deputyDirectors: (m.deputyDirectors ?? []).join('\n'),
            editorialBoard: (m.editorialBoard ?? []).join('\n'),
            editor: m.editor ?? '',
          },
          sections: sections.map((s, i) => {
            const name = s.names[locale] || s.names['zh-CN'] || s.names.en || s.key;
            return {
              key: s.key,
              position: i + 1,
              zh: s.names['zh-CN'] ?? '',
              en: s.names.en ?? '',
              first: i === 0,
              last: i === sections.length - 1,
              upLabel: t.secMoveUp.replace('{name}', name),
              downLabel: t.secMoveDown.replace('{name}', name),
            };
          }),
          smtp: await smtpView(t, locale),
        },
      });
    });

    app.post('/admin/settings/publication', ADMIN, async (req, reply) => {
      const t = await texts(req);
      const b = req.body;
      const name = field(b, 'name').trim();
      const fromName = field(b, 'fromName').trim();
      const fromEmail = field(b, 'fromEmail').trim();
      const replyTo = field(b, 'replyTo').trim();
      const timeZone = field(b, 'timeZone').trim();
      const locale = field(b, 'locale');
      if (!name || !fromName) return back(reply, 'publication', 'error', t.pubNameRequired);
      if (!EMAIL.test(fromEmail)) return back(reply, 'publication', 'error', t.pubBadEmail);
      if (replyTo && !EMAIL.test(replyTo)) return back(reply, 'publication', 'error', t.pubBadReplyTo);
      if (!IANAZone.isValidZone(timeZone))
        return back(reply, 'publication', 'error', t.pubBadZone.replace('{zone}', timeZone));
      const committee = field(b, 'committee').trim();
      const editor = field(b, 'editor').trim();
      await ensurePublication(db, env);
      const current = (await ensurePublication(db, env)).masthead ?? {};
      const masthead: Masthead = {
        ...current,
        director: lines(field(b, 'director')),
        deputyDirectors: lines(field(b, 'deputyDirectors')),
        editorialBoard: lines(field(b, 'editorialBoard')),
      };
      if (committee) masthead.committee = committee;
      else delete masthead.committee;
      if (editor) masthead.editor = editor;
      else delete masthead.editor;
      const patch: PublicationPatch = {
        name,
        fromName,
        fromEmail,
        replyTo: replyTo || null,
        timeZone,
        postalAddress: field(b, 'postalAddress').trim() || null,
        trackingEnabled: field(b, 'trackingEnabled') === '1',
        masthead,
        ...(locale === 'zh-CN' || locale === 'en' ? { locale } : {}),
      };
      await updatePublication(db, patch);
      ctx.log.info({ event: 'web.settings.publication_saved' }, 'publication saved');
      return back(reply, 'publication', 'notice', t.pubSaved);
    });

    app.post('/admin/settings/sections', ADMIN, async (req, reply) => {
      const t = await texts(req);
      const key = field(req.body, 'key').trim().toLowerCase();
      const zh = field(req.body, 'zh').trim();
      const en = field(req.body, 'en').trim();
      if (!zh && !en) return back(reply, 'sections', 'error', t.secNameRequired);
      if (await getSectionByKey(db, key))
        return back(reply, 'sections', 'error', t.secExists.replace('{key}', key));
      const sections = await listSections(db);
      try {
        await upsertSection(db, {
          key,
          position: sections.length + 1,
          names: { ...(zh ? { 'zh-CN': zh } : {}), ...(en ? { en } : {}) },
        });
      } catch (err) {
        if (!(err instanceof PublicationInputError)) throw err;
        return back(reply, 'sections', 'error', t.secInvalid.replace('{message}', err.message));
      }
      await renumber([...sections.map((s) => s.key), key]);
      ctx.log.info({ event: 'web.settings.section_added', key }, 'section added');
      return back(reply, 'sections', 'notice', t.secAdded);
    });

    app.post('/admin/settings/sections/:key', ADMIN, async (req, reply) => {
      const t = await texts(req);
      const key = (req.params as { key: string }).key;
      const zh = field(req.body, 'zh').trim();
      const en = field(req.body, 'en').trim();
      if (!zh && !en) return back(reply, 'sections', 'error', t.secNameRequired);
      const section = await getSectionByKey(db, key);
      if (!section) return reply.callNotFound();
      // Replace both names: an emptied field removes that language's name.
      await upsertSection(db, {
        key,
        position: section.position,
        names: { ...(zh ? { 'zh-CN': zh } : {}), ...(en ? { en } : {}) },
      });
      ctx.log.info({ event: 'web.settings.section_renamed', key }, 'section renamed');
      return back(reply, 'sections', 'notice', t.secRenamed);
    });

    app.post('/admin/settings/sections/:key/move', ADMIN, async (req, reply) => {
      const t = await texts(req);
      const key = (req.params as { key: string }).key;
      const keys = (await listSections(db)).map((s) => s.key);
      const from = keys.indexOf(key);
      if (from < 0) return reply.callNotFound();
      const direction = field(req.body, 'direction');
      const to = direction === 'up' ? from - 1 : direction === 'down' ? from + 1 : from;
      const moved = to >= 0 && to < keys.length && to !== from;
      if (moved) {
        keys.splice(from, 1);
        keys.splice(to, 0, key);
        await renumber(keys);
        ctx.log.info({ event: 'web.settings.section_moved', key, position: to + 1 }, 'section moved');
      }
      // Back to the button just pressed (the browser focuses a fragment's target), so Enter
      // moves the section again; at the end of the list, to the other direction's button.
      const at = moved ? to : from;
      const again = direction === 'up' ? at > 0 : at < keys.length - 1;
      const target =
        keys.length < 2 ? 'sections' : `sec-${key}-${again === (direction === 'up') ? 'up' : 'down'}`;
      return back(reply, target, 'notice', t.secMoved);
    });

    app.post('/admin/settings/transports/:index/verify', ADMIN, async (req, reply) => {
      const t = await texts(req);
      const index = Number((req.params as { index: string }).index);
      const specs = parseTransportSpecs(env.SMTP_URL ?? []);
      const spec = Number.isInteger(index) ? specs[index] : undefined;
      if (!spec) return reply.callNotFound();
      return answerVerify(reply, t, spec, 'env');
    });

    /* ---------- saved relays; relays.ts checks, seals passwords, refuses with codes ---------- */

    const relayId = (req: FastifyRequest) => parseId((req.params as { id?: string }).id);

    app.post('/admin/settings/relays', ADMIN, async (req, reply) => {
      const locale = await requestLocale(deps, req);
      const t = textsFor(locale, SETTINGS_STRINGS);
      try {
        const relay = await addRelay(db, ctx.secrets, readRelayForm(req.body));
        ctx.log.info(
          { event: 'web.settings.relay_added', relay: relay.name, relayId: relay.id, enabled: relay.enabled },
          'SMTP relay added',
        );
        const message = relay.enabled ? t.smtpAdded : t.smtpAddedDisabled;
        return back(reply, 'smtp', 'notice', interpolate(message, { name: relay.name }));
      } catch (err) {
        return refuse(reply, locale, err, t.smtpNotSaved);
      }
    });

    app.post('/admin/settings/relays/:id', ADMIN, async (req, reply) => {
      const id = relayId(req);
      if (!id) return reply.callNotFound();
      const locale = await requestLocale(deps, req);
      const t = textsFor(locale, SETTINGS_STRINGS);
      try {
        const input = readRelayForm(req.body);
        // The form edits the relay, not whether it sends: that is the enable/disable button's.
        const { enabled } = await getRelay(db, id);
        const relay = await updateRelay(db, ctx.secrets, id, { ...input, enabled });
        ctx.log.info(
          {
            event: 'web.settings.relay_updated',
            relay: relay.name,
            relayId: id,
            passwordChanged: !!(input.username && input.password),
          },
          'SMTP relay updated',
        );
        return back(reply, 'smtp', 'notice', interpolate(t.smtpUpdated, { name: relay.name }));
      } catch (err) {
        return refuse(reply, locale, err, t.smtpNotSaved);
      }
    });

    app.post('/admin/settings/relays/:id/enabled', ADMIN, async (req, reply) => {
      const id = relayId(req);
      if (!id) return reply.callNotFound();
      const locale = await requestLocale(deps, req);
      const t = textsFor(locale, SETTINGS_STRINGS);
      const enabled = field(req.body, 'enabled') === '1';
      try {
        const { name } = await getRelay(db, id);
        await setRelayEnabled(db, id, enabled);
        ctx.log.info(
          {
            event: enabled ? 'web.settings.relay_enabled' : 'web.settings.relay_disabled',
            relay: name,
            relayId: id,
          },
          enabled ? 'SMTP relay enabled' : 'SMTP relay disabled',
        );
        return back(
          reply,
          'smtp',
          'notice',
          interpolate(enabled ? t.smtpEnabledNow : t.smtpDisabledNow, { name }),
        );
      } catch (err) {
        return refuse(reply, locale, err);
      }
    });

    app.post('/admin/settings/relays/:id/remove', ADMIN, async (req, reply) => {
      const id = relayId(req);
      if (!id) return reply.callNotFound();
      const locale = await requestLocale(deps, req);
      const t = textsFor(locale, SETTINGS_STRINGS);
      try {
        const { name } = await getRelay(db, id);
        await removeRelay(db, id);
        ctx.log.info({ event: 'web.settings.relay_removed', relay: name, relayId: id }, 'SMTP relay removed');
        return back(reply, 'smtp', 'notice', interpolate(t.smtpRemoved, { name }));
      } catch (err) {
        return refuse(reply, locale, err);
      }
    });

    app.post('/admin/settings/relays/:id/verify', ADMIN, async (req, reply) => {
      const id = relayId(req);
      if (!id) return reply.callNotFound();
      const locale = await requestLocale(deps, req);
      let spec: TransportSpec;
      try {
        spec = await storedRelaySpec(id);
      } catch (err) {
        return refuse(reply, locale, err);
      }
      return answerVerify(reply, textsFor(locale, SETTINGS_STRINGS), spec, 'settings');
    });
  };
}
