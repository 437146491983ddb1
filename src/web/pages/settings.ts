import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { IANAZone } from 'luxon';
import type { Masthead } from '../../db/schema.js';
import { ADMIN_ROUTE } from '../../http/auth/access.js';
import {
  editSection,
  ensurePublication,
  getSectionByKey,
  listSections,
  type PublicationPatch,
  updatePublication,
  upsertSection,
} from '../../publication/index.js';
import { HeaderFieldError, PublicationInputError } from '../../publication/publication.js';
import type { WebDeps } from '../deps.js';
import { requestLocale, sendAdminPage, setFlash } from '../respond.js';
import { type KeptForm, settingsRelays } from './settings-relays.js';
import { SETTINGS_STRINGS } from './settings-strings.js';
import { field, textsFor } from './subscribers/form.js';

const ADMIN = ADMIN_ROUTE;
const EMAIL = /^[^\s@<>]+@[^\s@<>]+\.[^\s@<>]+$/;

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
  'committee',
  'director',
  'deputyDirectors',
  'editorialBoard',
  'editor',
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
  };
}

function typedMasthead(v: KeptForm['values']): Masthead {
  return {
    committee: text(v.committee),
    director: lines(text(v.director)),
    deputyDirectors: lines(text(v.deputyDirectors)),
    editorialBoard: lines(text(v.editorialBoard)),
    editor: text(v.editor),
  };
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

  /** The page; after a refused form (a relay, the publication), with it as typed and why (`kept`). */
  async function renderSettings(req: FastifyRequest, reply: FastifyReply, kept?: KeptForm, status = 200) {
    const locale = await requestLocale(deps, req);
    const t = textsFor(locale, SETTINGS_STRINGS);
    const stored = await ensurePublication(db, env);
    const sections = await listSections(db);
    // A refused publication form comes back as it was typed, with the reason inside it.
    const typed = kept?.formId === 'publication' ? kept.values : null;
    const publication = typed ? { ...stored, ...typedPublication(typed) } : stored;
    const m = typed ? typedMasthead(typed) : (stored.masthead ?? {});
    return sendAdminPage(deps, req, reply, {
      page: 'settings-index',
      status,
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
        pubError: typed ? kept?.error : null,
        smtp: await relays.view(t, locale, kept),
      },
    });
  }

  const relays = settingsRelays(deps, renderSettings);

  return async (app) => {
    relays.register(app);

    app.get('/admin/settings', ADMIN, (req, reply) => renderSettings(req, reply));

    app.post('/admin/settings/publication', ADMIN, async (req, reply) => {
      const t = await texts(req);
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
      if (!EMAIL.test(fromEmail)) return refuse(t.pubBadEmail);
      if (replyTo && !EMAIL.test(replyTo)) return refuse(t.pubBadReplyTo);
      if (!IANAZone.isValidZone(timeZone)) return refuse(t.pubBadZone.replace('{zone}', timeZone));
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
      try {
        await updatePublication(db, patch);
      } catch (err) {
        if (!(err instanceof HeaderFieldError)) throw err;
        return refuse(t.pubHeaderControl);
      }
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
  };
}
