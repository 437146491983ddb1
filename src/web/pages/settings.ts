import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { IANAZone } from 'luxon';
import nodemailer from 'nodemailer';
import type { Env } from '../../config/env.js';
import type { Masthead } from '../../db/schema.js';
import { parseTransportSpecs, TransportConfigError } from '../../delivery/transports.js';
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
import { defineStrings } from '../strings.js';
import { field, textsFor } from './subscribers/form.js';

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
    smtpIntro: '由环境变量 SMTP_URL 配置（只读）；凭据不显示。“测试连接”会连接服务器并登录，但不发送邮件。',
    smtpNone: '未设置 SMTP_URL：邮件由内置的测试收件服务器接收，并以 .eml 文件保存在 {dir}。',
    smtpName: '名称',
    smtpHost: '服务器',
    smtpSecurity: '加密',
    smtpUser: '用户名',
    smtpPassword: '密码',
    smtpWeight: '权重',
    smtpPerSecond: '每秒上限',
    smtpPerHour: '每小时上限',
    smtpUnlimited: '不限',
    smtpPool: '每个发送进程对每个通道最多 {n} 个连接。',
    smtpVerify: '测试连接',
    smtpVerified: '{name}：连接和登录成功。',
    smtpVerifyFailed: '{name}：连接失败：{message}',
    smtpConfigError: 'SMTP_URL 无法解析：{message}',
    smtpImplicitTls: 'TLS（smtps）',
    smtpStartTls: 'STARTTLS（如服务器支持）',
    smtpSet: '已设置',
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
      'Configured by the SMTP_URL variable (read-only); credentials are not shown. "Verify connection" connects and signs in, and sends nothing.',
    smtpNone:
      'SMTP_URL is not set: messages go to the built-in catcher, which writes .eml files under {dir}.',
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
  },
});

const ADMIN = { config: { access: { kind: 'session', role: 'admin' } } } as const;
const EMAIL = /^[^\s@<>]+@[^\s@<>]+\.[^\s@<>]+$/;

/** What the page shows of one relay: never the password, and the user name only as "set". */
export interface RelayView {
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

/** The relays SMTP_URL configures, masked for display (pure). Throws TransportConfigError. */
export function relayViews(
  env: Pick<Env, 'SMTP_URL' | 'SMTP_RATE_PER_SECOND' | 'SMTP_RATE_PER_HOUR'>,
): RelayView[] {
  const specs = parseTransportSpecs(env.SMTP_URL ?? [], {
    perSecond: env.SMTP_RATE_PER_SECOND,
    perHour: env.SMTP_RATE_PER_HOUR,
  });
  return specs.map((spec, index) => {
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
  });
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
 * and a read-only view of the SMTP relays with a "verify connection" button.
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

  return async (app) => {
    app.get('/admin/settings', ADMIN, async (req, reply) => {
      const t = await texts(req);
      const locale = await requestLocale(deps, req);
      const publication = await ensurePublication(db, env);
      const sections = await listSections(db);
      let relays: RelayView[] = [];
      let relayError: string | null = null;
      try {
        relays = relayViews(env);
      } catch (err) {
        if (!(err instanceof TransportConfigError || err instanceof TypeError)) throw err;
        relayError = t.smtpConfigError.replace('{message}', err.message);
      }
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
          relays,
          relayError,
          catcher: !env.SMTP_URL,
          outbox: `${env.DATA_DIR}/outbox`,
          poolConnections: env.SMTP_POOL_CONNECTIONS,
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

    // Connects, greets, upgrades to TLS where offered and signs in; sends nothing. The error
    // shown is nodemailer's message, which names the failing step and never the password.
    app.post('/admin/settings/transports/:index/verify', ADMIN, async (req, reply) => {
      const t = await texts(req);
      const index = Number((req.params as { index: string }).index);
      const specs = parseTransportSpecs(env.SMTP_URL ?? []);
      const spec = Number.isInteger(index) ? specs[index] : undefined;
      if (!spec) return reply.callNotFound();
      const mailer = nodemailer.createTransport({
        url: spec.url,
        connectionTimeout: 10_000,
        greetingTimeout: 10_000,
        socketTimeout: 15_000,
      } as unknown as Parameters<typeof nodemailer.createTransport>[0]);
      try {
        await mailer.verify();
        ctx.log.info({ event: 'web.settings.smtp_verified', transport: spec.name }, 'SMTP relay verified');
        return back(reply, 'smtp', 'notice', t.smtpVerified.replace('{name}', spec.name));
      } catch (err) {
        const message = (err instanceof Error ? err.message : String(err)).replace(
          new URL(spec.url).password || '\u0000',
          '***',
        );
        ctx.log.warn(
          { event: 'web.settings.smtp_verify_failed', transport: spec.name, message },
          'SMTP verify failed',
        );
        return back(
          reply,
          'smtp',
          'error',
          t.smtpVerifyFailed.replace('{name}', spec.name).replace('{message}', message),
        );
      } finally {
        mailer.close();
      }
    });
  };
}
