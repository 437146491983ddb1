import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { IANAZone } from 'luxon';
import { domainsAlign, mailboxDomain } from '../../../config/env.js';
import type { Masthead } from '../../../db/schema.js';
import { ADMIN_ROUTE } from '../../auth/access.js';
import { mastheadAsText, mastheadFromText } from '../../../issues/masthead.js';
import { MAX_LOGO_BYTES, sniffLogo, storeLogo } from '../../../publication/brand-assets.js';
import { brandingFromForm } from '../../../publication/branding.js';
import {
  editSection,
  ensurePublication,
  getSectionByKey,
  listSections,
  type PublicationPatch,
  updatePublication,
  upsertSection,
} from '../../../publication/index.js';
import { HeaderFieldError, PublicationInputError } from '../../../publication/publication.js';
import { isLocalSender, senderState } from '../../../publication/sender.js';
import { interpolate } from '../strings.js';
import type { WebDeps } from '../deps.js';
import { requestLocale, sendAdminPage, setFlash } from '../respond.js';
import { acceptImportUploads, type ImportForm } from './issues/upload.js';
import { type KeptForm, settingsRelays } from './settings-relays.js';
import { mailSenderVerification, registerSenderRoutes, SENDER_STRINGS, senderView } from './sender.js';
import { SETTINGS_STRINGS } from './settings-strings.js';
import { field, textsFor } from './subscribers/form.js';

const ADMIN = ADMIN_ROUTE;
const EMAIL = /^[^\s@<>]+@[^\s@<>]+\.[^\s@<>]+$/;

/** A soft-bounce policy number as typed: a whole number 1..20, or null (pure). */
function policyNumber(typed: string): number | null {
  const v = /^\d{1,2}$/.test(typed) ? Number(typed) : Number.NaN;
  return v >= 1 && v <= 20 ? v : null;
}

/** One name per line (blank lines dropped), for the masthead's lists of people. */
export function lines(text: string): string[] {
  return text
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter(Boolean);
}

const PUBLICATION_FIELDS = [
  'name',
  'locale',
  'fromName',
  'fromEmail',
  'replyTo',
  'timeZone',
  'postalAddress',
  'subtitle',
  'committee',
  'director',
  'deputyDirectors',
  'editorialBoard',
  'editor',
  'softBounceLimit',
  'softBounceIssues',
] as const;

/** The publication form as typed, to show it again after a refusal. */
function typedValues(body: unknown): KeptForm['values'] {
  return {
    ...Object.fromEntries(PUBLICATION_FIELDS.map((k) => [k, field(body, k)])),
    trackingEnabled: field(body, 'trackingEnabled') === '1',
  };
}

const text = (v: string | boolean | undefined) => (typeof v === 'string' ? v : '');

/** Typed values in the shape the page shows a stored publication in (pure). */
function typedPublication(v: KeptForm['values']) {
  return {
    name: text(v.name),
    locale: text(v.locale) as 'zh-CN' | 'en',
    from_name: text(v.fromName),
    from_email: text(v.fromEmail),
    reply_to: text(v.replyTo),
    time_zone: text(v.timeZone),
    postal_address: text(v.postalAddress),
    tracking_enabled: v.trackingEnabled === true,
    // Absent from the form (see the POST handler): the stored numbers show.
    ...(text(v.softBounceLimit) ? { soft_bounce_limit: text(v.softBounceLimit) } : {}),
    ...(text(v.softBounceIssues) ? { soft_bounce_issues: text(v.softBounceIssues) } : {}),
  };
}

function typedMasthead(v: KeptForm['values']): Masthead {
  return mastheadFromText({
    subtitle: text(v.subtitle),
    committee: text(v.committee),
    director: text(v.director),
    deputyDirectors: text(v.deputyDirectors),
    editorialBoard: text(v.editorialBoard),
    editor: text(v.editor),
  });
}

const BRANDING_FIELDS = ['logoUrl', 'logoAlt', 'logoWidth', 'logoHeight', 'accentColor', 'contact'] as const;

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

  /** The page; after a refused form (a relay, the publication), with it as typed and why (`kept`). */
  async function renderSettings(req: FastifyRequest, reply: FastifyReply, kept?: KeptForm, status = 200) {
    const locale = await requestLocale(deps, req);
    const t = textsFor(locale, SETTINGS_STRINGS);
    const stored = await ensurePublication(db, env);
    const sections = await listSections(db);
    // A refused publication form comes back as it was typed, with the reason inside it.
    const typed = kept?.formId === 'publication' ? kept.values : null;
    const sender = senderView(stored, locale);
    // A local sender (newsletter@localhost) is not offered as a value: the field starts empty.
    const publication = typed
      ? { ...stored, ...typedPublication(typed) }
      : { ...stored, from_email: sender.fromEmail };
    const m = typed ? typedMasthead(typed) : (stored.masthead ?? {});
    const brandTyped = kept?.formId === 'branding' ? kept.values : null;
    const b = stored.branding ?? {};
    return sendAdminPage(deps, req, reply, {
      page: 'settings-index',
      status,
      title: 'settingsTitle',
      strings: {
        'zh-CN': { ...SETTINGS_STRINGS['zh-CN'], ...SENDER_STRINGS['zh-CN'] },
        en: { ...SETTINGS_STRINGS.en, ...SENDER_STRINGS.en },
      },
      scripts: ['settings.js'],
      data: {
        pub: publication,
        sender,
        masthead: mastheadAsText(m),
        brand: brandTyped ?? {
          logoUrl: b.logoUrl ?? '',
          logoAlt: b.logoAlt ?? '',
          logoWidth: b.logoWidth ?? '',
          logoHeight: b.logoHeight ?? '',
          accentColor: b.accentColor ?? '',
          contact: b.contact ?? '',
        },
        brandError: brandTyped ? kept?.error : null,
        brandField: brandTyped ? brandTyped.field : null,
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
        pubError: typed ? kept?.error : null,
        smtp: await relays.view(t, locale, kept),
      },
    });
  }

  const relays = settingsRelays(deps, renderSettings);

  return async (app) => {
    // The branding form may carry a logo file (multipart), parsed whole so `_csrf` is checked.
    acceptImportUploads(app, { fileField: 'logoFile', maxFormBytes: MAX_LOGO_BYTES + 64 * 1024 });
    relays.register(app);
    registerSenderRoutes(app, deps);

    app.get('/admin/settings', ADMIN, (req, reply) => renderSettings(req, reply));

    app.post('/admin/settings/publication', ADMIN, async (req, reply) => {
      const pageLocale = await requestLocale(deps, req);
      const t = textsFor(pageLocale, SETTINGS_STRINGS);
      const b = req.body;
      const name = field(b, 'name').trim();
      const fromName = field(b, 'fromName').trim();
      const fromEmail = field(b, 'fromEmail').trim();
      const replyTo = field(b, 'replyTo').trim();
      const timeZone = field(b, 'timeZone').trim();
      const locale = field(b, 'locale');
      const refuse = (error: string) =>
        renderSettings(req, reply, { formId: 'publication', values: typedValues(b), error }, 400);
      if (!name || !fromName) return refuse(t.pubNameRequired);
      const stored = await ensurePublication(db, env);
      // Empty while no sender is set yet: the other fields are saved, the sender stays unset.
      const keepUnset = !fromEmail && senderState(stored) === 'local';
      // A local address (news@localhost) is refused as local, which says more than "not valid".
      if (!keepUnset && fromEmail.includes('@') && isLocalSender(fromEmail))
        return refuse(interpolate(SENDER_STRINGS[pageLocale].senderLocalRefused, { email: fromEmail }));
      if (!keepUnset && !EMAIL.test(fromEmail)) return refuse(t.pubBadEmail);
      if (replyTo && !EMAIL.test(replyTo)) return refuse(t.pubBadReplyTo);
      // Mail is signed for DKIM_DOMAIN: a sender outside it would fail DMARC at every receiver.
      if (!keepUnset && env.DKIM_DOMAIN && !domainsAlign(mailboxDomain(fromEmail), env.DKIM_DOMAIN))
        return refuse(t.pubDkimMisaligned.replace('{domain}', env.DKIM_DOMAIN));
      if (!IANAZone.isValidZone(timeZone)) return refuse(t.pubBadZone.replace('{zone}', timeZone));
      // The policy N of M; a form without the fields (an older page, a script) keeps the stored ones.
      const typedLimit = field(b, 'softBounceLimit').trim();
      const typedIssues = field(b, 'softBounceIssues').trim();
      const softBounceLimit = typedLimit ? policyNumber(typedLimit) : stored.soft_bounce_limit;
      const softBounceIssues = typedIssues ? policyNumber(typedIssues) : stored.soft_bounce_issues;
      if (softBounceLimit === null || softBounceIssues === null || softBounceLimit > softBounceIssues)
        return refuse(t.pubBadSoftBounce);
      const current = stored.masthead ?? {};
      // The other lines are not on this form: they stay as they were.
      const masthead: Masthead = {
        ...mastheadFromText({
          subtitle: field(b, 'subtitle'),
          committee: field(b, 'committee'),
          director: field(b, 'director'),
          deputyDirectors: field(b, 'deputyDirectors'),
          editorialBoard: field(b, 'editorialBoard'),
          editor: field(b, 'editor'),
        }),
        ...(current.lines ? { lines: current.lines } : {}),
      };
      const patch: PublicationPatch = {
        name,
        fromName,
        ...(keepUnset ? {} : { fromEmail }),
        replyTo: replyTo || null,
        timeZone,
        postalAddress: field(b, 'postalAddress').trim() || null,
        trackingEnabled: field(b, 'trackingEnabled') === '1',
        softBounceLimit,
        softBounceIssues,
        masthead,
        ...(locale === 'zh-CN' || locale === 'en' ? { locale } : {}),
      };
      try {
        await updatePublication(db, patch);
      } catch (err) {
        if (!(err instanceof HeaderFieldError)) throw err;
        return refuse(t.pubHeaderControl);
      }
      ctx.log.info({ event: 'web.settings.publication_saved' }, 'publication saved');
      // A new sender address gets its verification link now (nothing if it is verified already).
      const mailed = await mailSenderVerification(deps, pageLocale);
      return back(
        reply,
        'publication',
        mailed?.kind ?? 'notice',
        [t.pubSaved, mailed?.message].filter(Boolean).join(' '),
      );
    });

    app.post('/admin/settings/branding', ADMIN, async (req, reply) => {
      const t = await texts(req);
      const values: Record<string, string> = Object.fromEntries(
        BRANDING_FIELDS.map((k) => [k, field(req.body, k)]),
      );
      const refuse = (fieldName: string, error: string) =>
        renderSettings(
          req,
          reply,
          { formId: 'branding', values: { ...values, field: fieldName }, error },
          400,
        );
      const file = (req.body as ImportForm | undefined)?.file;
      if (file) {
        if (file.data.length > MAX_LOGO_BYTES) return refuse('logoFile', t.brandLogoTooBig);
        const image = sniffLogo(file.data);
        if (!image) return refuse('logoFile', t.brandBadLogoFile);
        if (!env.PUBLIC_URL.startsWith('https://'))
          return refuse('logoFile', t.brandLogoNeedsHttps.replace('{url}', env.PUBLIC_URL));
        values.logoUrl = `${env.PUBLIC_URL.replace(/\/+$/, '')}${await storeLogo(db, file.data, image)}`;
        // Unless given, shown at its own size, at most 240 px wide.
        if (!values.logoWidth && image.width && image.height) {
          const width = Math.min(image.width, 240);
          values.logoWidth = String(width);
          values.logoHeight = String(Math.max(1, Math.round((image.height * width) / image.width)));
        }
      }
      const stored = await ensurePublication(db, env);
      const result = brandingFromForm(values, stored.branding ?? {});
      if ('problem' in result) return refuse(result.problem.field, t[result.problem.code]);
      await updatePublication(db, { branding: result.branding });
      ctx.log.info({ event: 'web.settings.branding_saved' }, 'branding saved');
      return back(reply, 'branding', 'notice', t.brandSaved);
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
  };
}
