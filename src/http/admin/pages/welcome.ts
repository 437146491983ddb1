import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { domainsAlign, mailboxDomain } from '../../../config/env.js';
import type { Locale } from '../../../db/schema.js';
import { currentRelaySpecs } from '../../../delivery/relay-store.js';
import {
  ensurePublication,
  getPublication,
  listSections,
  updatePublication,
  upsertSection,
} from '../../../publication/index.js';
import { HeaderFieldError } from '../../../publication/publication.js';
import { isLocalSender, senderState } from '../../../publication/sender.js';
import { ADMIN_ROUTE } from '../../auth/access.js';
import type { WebDeps } from '../deps.js';
import { requestLocale, sendAdminPage, setFlash } from '../respond.js';
import { defineStrings, interpolate } from '../strings.js';
import { mailSenderVerification, SENDER_STRINGS, senderView } from './sender.js';
import { SETTINGS_STRINGS } from './settings-strings.js';
import { field } from './subscribers/form.js';

const EMAIL = /^[^\s@<>]+@[^\s@<>]+\.[^\s@<>]+$/;

export const WELCOME_STRINGS = defineStrings({
  'zh-CN': {
    welcomeTitle: '首次设置',
    welcomeIntro: '发出第一期之前，请按顺序完成这几步。以后都可以在“设置”中修改。',
    stepDone: '已完成',
    stepTodo: '待完成',
    step1Title: '第 1 步：刊物与发件人',
    step1Intro: '读者看到的刊物名称和发件人。发件地址须是刊物真实的邮箱：保存后会向它发一封验证邮件。',
    step1Save: '保存并发送验证邮件',
    step1Saved: '已保存刊物与发件人。',
    step2Title: '第 2 步：栏目',
    step2Intro:
      '订阅者按栏目选择想看的内容；订阅者名单（CSV）中的栏目也按这些名称识别。下面是示范刊物的四个栏目，可以直接改名。',
    step2Key: '代码',
    step2Save: '保存栏目名称',
    step2Saved: '已保存栏目名称。',
    step2More: '增加、删除或调整顺序：设置 › 栏目',
    step3Title: '第 3 步：发送服务器（中继）',
    step3Catcher: '还没有配置发送服务器：邮件只会写入本机的 {dir}，不会发给任何读者。',
    step3Settings: '正在使用设置中保存的发送服务器：{names}。',
    step3Env: '正在使用 SMTP_URL 配置的发送服务器：{names}。',
    step3Add: '在设置中添加或验证发送服务器',
    step4Title: '第 4 步：开始',
    step4Import: '导入委员会的 Markdown 文稿，生成第一期草稿',
    step4Subscribers: '导入订阅者名单（CSV）',
    welcomeNeedName: '请填写刊物名称和发件人名称。',
    welcomeNeedEmail: '请填写刊物的发件地址。',
    welcomeBadEmail: '发件地址无效。',
    welcomeDkim: '邮件按 DKIM_DOMAIN（{domain}）签名，发件地址须在该域名下。',
    welcomeHeaderControl: '名称或地址中有换行或控制字符，请删除后再保存。',
    welcomeNeedSectionName: '每个栏目至少需要一个名称（中文或英文）。',
  },
  en: {
    welcomeTitle: 'First-time setup',
    welcomeIntro:
      'Before the first issue goes out, take these steps in order. Each can be changed later in the settings.',
    stepDone: 'Done',
    stepTodo: 'To do',
    step1Title: 'Step 1: the publication and its sender',
    step1Intro:
      'The name readers see and who the mail is from. The sender address must be the publication’s real mailbox: saving sends it a verification message.',
    step1Save: 'Save and send the verification message',
    step1Saved: 'The publication and its sender are saved.',
    step2Title: 'Step 2: sections',
    step2Intro:
      'Subscribers choose sections to read; a subscriber list (CSV) names sections by these names too. These are the model newsletter’s four: rename them here.',
    step2Key: 'Key',
    step2Save: 'Save the section names',
    step2Saved: 'Section names saved.',
    step2More: 'Add, remove or reorder: Settings › Sections',
    step3Title: 'Step 3: the sending server (relay)',
    step3Catcher: 'No relay yet: mail is only written to {dir} on this machine and reaches no reader.',
    step3Settings: 'Sending through the relays saved in the settings: {names}.',
    step3Env: 'Sending through the relays SMTP_URL configures: {names}.',
    step3Add: 'Add or verify a relay in the settings',
    step4Title: 'Step 4: start',
    step4Import: 'Import the committee’s Markdown document as the first draft',
    step4Subscribers: 'Import the subscriber list (CSV)',
    welcomeNeedName: 'The publication and the sender need a name.',
    welcomeNeedEmail: 'Give the publication’s sender address.',
    welcomeBadEmail: 'The sender address is not valid.',
    welcomeDkim: 'Mail is signed for DKIM_DOMAIN ({domain}): the sender address must be under it.',
    welcomeHeaderControl:
      'A name or address holds a line break or a control character; remove it and save again.',
    welcomeNeedSectionName: 'Every section needs a name (Chinese or English).',
  },
});

/** Its own strings, the sender's, and the settings' field labels (the same fields, the same words). */
const PAGE_STRINGS = {
  'zh-CN': { ...SETTINGS_STRINGS['zh-CN'], ...WELCOME_STRINGS['zh-CN'], ...SENDER_STRINGS['zh-CN'] },
  en: { ...SETTINGS_STRINGS.en, ...WELCOME_STRINGS.en, ...SENDER_STRINGS.en },
};

/** Whether an admin still has the first-run page ahead: no sender that can reach anyone yet. */
export async function needsFirstRun(deps: Pick<WebDeps, 'ctx'>): Promise<boolean> {
  return senderState(await getPublication(deps.ctx.db)) === 'local';
}

/**
 * /admin/welcome (admins): the first-run page a fresh install lands on while no sender is set.
 * It walks through the publication's name and sender (verified by a mailed link), the sections
 * (the model's four, renamed in place), and the relay, then points at the first imports.
 */
export function welcomePages(deps: WebDeps): FastifyPluginAsync {
  const { ctx } = deps;
  const { db, env } = ctx;

  async function relayStep(locale: Locale) {
    const t = WELCOME_STRINGS[locale];
    try {
      const { source, specs } = await currentRelaySpecs({ db, secrets: ctx.secrets, env });
      const names = specs.map((s) => s.name).join(', ');
      if (!specs.length)
        return { done: false, text: interpolate(t.step3Catcher, { dir: `${env.DATA_DIR}/outbox` }) };
      return {
        done: true,
        text: interpolate(source === 'settings' ? t.step3Settings : t.step3Env, { names }),
      };
    } catch (err) {
      return { done: false, text: (err as Error).message };
    }
  }

  async function render(
    req: FastifyRequest,
    reply: FastifyReply,
    kept?: { form: 'publication' | 'sections'; error: string; values: Record<string, string> },
  ) {
    const locale = await requestLocale(deps, req);
    const pub = await ensurePublication(db, env);
    const sections = await listSections(db);
    const sender = senderView(pub, locale);
    const typed = kept?.form === 'publication' ? kept.values : null;
    return sendAdminPage(deps, req, reply, {
      page: 'welcome',
      title: 'welcomeTitle',
      strings: PAGE_STRINGS,
      status: kept ? 400 : 200,
      data: {
        sender,
        pub: typed ?? {
          name: pub.name,
          fromName: pub.from_name,
          fromEmail: sender.fromEmail,
          postalAddress: pub.postal_address ?? '',
        },
        pubError: typed ? kept?.error : null,
        step1Done: sender.state !== 'local',
        sections: sections.map((s) => ({
          key: s.key,
          zh: kept?.form === 'sections' ? (kept.values[`zh-${s.key}`] ?? '') : (s.names['zh-CN'] ?? ''),
          en: kept?.form === 'sections' ? (kept.values[`en-${s.key}`] ?? '') : (s.names.en ?? ''),
        })),
        sectionsError: kept?.form === 'sections' ? kept.error : null,
        relay: await relayStep(locale),
      },
    });
  }

  return async (app) => {
    app.get('/admin/welcome', ADMIN_ROUTE, (req, reply) => render(req, reply));

    app.post('/admin/welcome/publication', ADMIN_ROUTE, async (req, reply) => {
      const locale = await requestLocale(deps, req);
      const t = WELCOME_STRINGS[locale];
      const values = Object.fromEntries(
        ['name', 'fromName', 'fromEmail', 'postalAddress'].map((k) => [k, field(req.body, k).trim()]),
      ) as Record<'name' | 'fromName' | 'fromEmail' | 'postalAddress', string>;
      const refuse = (error: string) => render(req, reply, { form: 'publication', error, values });
      if (!values.name || !values.fromName) return refuse(t.welcomeNeedName);
      if (!values.fromEmail) return refuse(t.welcomeNeedEmail);
      if (values.fromEmail.includes('@') && isLocalSender(values.fromEmail))
        return refuse(interpolate(SENDER_STRINGS[locale].senderLocalRefused, { email: values.fromEmail }));
      if (!EMAIL.test(values.fromEmail)) return refuse(t.welcomeBadEmail);
      if (env.DKIM_DOMAIN && !domainsAlign(mailboxDomain(values.fromEmail), env.DKIM_DOMAIN))
        return refuse(interpolate(t.welcomeDkim, { domain: env.DKIM_DOMAIN }));
      await ensurePublication(db, env);
      try {
        await updatePublication(db, {
          name: values.name,
          fromName: values.fromName,
          fromEmail: values.fromEmail,
          postalAddress: values.postalAddress || null,
        });
      } catch (err) {
        if (!(err instanceof HeaderFieldError)) throw err;
        return refuse(t.welcomeHeaderControl);
      }
      ctx.log.info({ event: 'web.welcome.publication_saved' }, 'first-run publication saved');
      const mailed = await mailSenderVerification(deps, locale);
      setFlash(reply, mailed?.kind ?? 'notice', [t.step1Saved, mailed?.message].filter(Boolean).join(' '));
      return reply.redirect('/admin/welcome#step-sections', 303);
    });

    app.post('/admin/welcome/sections', ADMIN_ROUTE, async (req, reply) => {
      const locale = await requestLocale(deps, req);
      const t = WELCOME_STRINGS[locale];
      const sections = await listSections(db);
      const values: Record<string, string> = {};
      for (const s of sections) {
        values[`zh-${s.key}`] = field(req.body, `zh-${s.key}`).trim();
        values[`en-${s.key}`] = field(req.body, `en-${s.key}`).trim();
      }
      if (sections.some((s) => !values[`zh-${s.key}`] && !values[`en-${s.key}`]))
        return render(req, reply, { form: 'sections', error: t.welcomeNeedSectionName, values });
      for (const s of sections) {
        const zh = values[`zh-${s.key}`];
        const en = values[`en-${s.key}`];
        await upsertSection(db, {
          key: s.key,
          position: s.position,
          names: { ...(zh ? { 'zh-CN': zh } : {}), ...(en ? { en } : {}) },
        });
      }
      ctx.log.info(
        { event: 'web.welcome.sections_saved', sections: sections.length },
        'first-run sections saved',
      );
      setFlash(reply, 'notice', t.step2Saved);
      return reply.redirect('/admin/welcome#step-relay', 303);
    });
  };
}
