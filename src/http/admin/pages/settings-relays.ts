import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import nodemailer from 'nodemailer';
import type { Env } from '../../../config/env.js';
import type { Locale, RelaySecurity } from '../../../db/schema.js';
import { type RelayInput, RelayInputError } from '../../../delivery/relay-input.js';
import { parseRelayUrls, RelayConfigError, type RelaySpec } from '../../../delivery/relay-spec.js';
import {
  addRelay,
  currentRelaySpecs,
  getRelay,
  listRelays,
  relaySpec,
  removeRelay,
  setRelayEnabled,
  updateRelay,
} from '../../../delivery/relay-store.js';
import { ADMIN_ROUTE } from '../../auth/access.js';
import type { WebDeps } from '../deps.js';
import { requestLocale, setFlash } from '../respond.js';
import { stageErrorText } from '../stage-errors.js';
import { interpolate } from '../strings.js';
import { SETTINGS_STRINGS, type SettingsTexts } from './settings-strings.js';
import { field, parseId, textsFor } from './subscribers/form.js';

/**
 * The SMTP part of /admin/settings: which relays send now (as delivery decides it), the relays
 * saved in the settings (add, edit, enable/disable, remove; src/delivery/relays.ts checks them
 * and seals passwords) and SMTP_URL's, read-only while they are in effect, each with "verify
 * connection".
 */

const ADMIN = ADMIN_ROUTE;

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
function envRelayView(spec: RelaySpec, index: number): EnvRelayView {
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

/** The relays SMTP_URL configures, masked for display (pure). Throws RelayConfigError. */
export function relayViews(
  env: Pick<Env, 'SMTP_URL' | 'SMTP_RATE_PER_SECOND' | 'SMTP_RATE_PER_HOUR'>,
): EnvRelayView[] {
  const specs = parseRelayUrls(env.SMTP_URL ?? [], {
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
 * Connects, greets, upgrades to TLS (required before signing in) and signs in, with nodemailer's
 * verify(); sends nothing. Null when it worked, else nodemailer's message (it names the failing
 * step), masked, and whether it failed because TLS was not to be had (so no password was sent).
 */
export async function verifyRelay(spec: RelaySpec): Promise<{ message: string; noTls: boolean } | null> {
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
    const message = maskSecret(err instanceof Error ? err.message : String(err), spec.url);
    return { message, noTls: (err as { code?: string }).code === 'ETLS' || /STARTTLS/i.test(message) };
  } finally {
    mailer.close();
  }
}

/** A refused form (a relay, the publication), shown again with what was typed (never a password) and why. */
export interface KeptForm {
  formId: string;
  values: Record<string, string | boolean>;
  error: string;
}

/** What the admin typed into a relay form, to fill it in again after a refusal. */
function keptValues(body: unknown): KeptForm['values'] {
  const keys = ['name', 'host', 'port', 'security', 'username', 'weight', 'perSecond', 'perHour'];
  return {
    ...Object.fromEntries(keys.map((k) => [k, field(body, k)])),
    enabled: field(body, 'enabled') === '1',
  };
}

export type SettingsPageRenderer = (
  req: FastifyRequest,
  reply: FastifyReply,
  kept: KeptForm,
  status: number,
) => Promise<FastifyReply>;

export function settingsRelays(deps: WebDeps, renderPage: SettingsPageRenderer) {
  const { ctx } = deps;
  const { db, env } = ctx;
  const back = (reply: FastifyReply, kind: 'notice' | 'error', message: string) =>
    setFlash(reply, kind, message).redirect('/admin/settings#smtp', 303);

  /** The SMTP section: what sends now (as delivery decides it), the saved relays, SMTP_URL's. */
  async function smtpView(t: SettingsTexts, locale: Locale, kept?: KeptForm) {
    const saved = await listRelays(db);
    const enabledCount = saved.filter((r) => r.enabled).length;
    const stored = saved.map((r) => {
      // Confirm the moves that switch delivery between these relays and SMTP_URL (or the catcher).
      const last = r.enabled && enabledCount === 1;
      const mine = kept?.formId === `relay-${r.id}`;
      return {
        ...r,
        // The edit form shows what was typed when it was refused, and opens with the reason.
        form: mine ? { ...r, ...kept.values } : r,
        open: mine,
        formError: mine ? kept.error : null,
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
      blank: {
        port: 587,
        security: 'starttls',
        weight: 1,
        perSecond: 0,
        perHour: 0,
        ...(kept?.formId === 'relay-new' ? kept.values : {}),
      },
      newError: kept?.formId === 'relay-new' ? kept.error : null,
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
      if (!(err instanceof RelayConfigError || err instanceof TypeError)) throw err;
      const problem = interpolate(t.smtpConfigError, { message: err.message });
      return { ...base, inUse: 'env', names: [], envRelays: [], problem };
    }
  }

  /** Verifies one relay and says how it went, on the page and in the log (never its URL). */
  async function answerVerify(
    reply: FastifyReply,
    t: SettingsTexts,
    spec: RelaySpec,
    source: 'settings' | 'env',
  ) {
    const failure = await verifyRelay(spec);
    if (failure === null) {
      ctx.log.info({ event: 'web.settings.relay_verified', relay: spec.name, source }, 'SMTP relay verified');
      return back(reply, 'notice', interpolate(t.smtpVerified, { name: spec.name }));
    }
    ctx.log.warn(
      { event: 'web.settings.relay_verify_failed', relay: spec.name, source, message: failure.message },
      'SMTP relay verify failed',
    );
    const said = failure.noTls ? t.smtpVerifyNoTls : t.smtpVerifyFailed;
    return back(reply, 'error', interpolate(said, { name: spec.name, message: failure.message }));
  }

  /** A refused relay change: the stage's sentence in the admin's language; anything else is a bug. */
  function refuse(reply: FastifyReply, locale: Locale, err: unknown, template = '{message}') {
    if (!(err instanceof RelayInputError)) throw err;
    return back(reply, 'error', interpolate(template, { message: stageErrorText(locale, err) }));
  }

  /** A refused add or edit: the page again (400) with the form as typed and the reason beside it. */
  function refuseForm(
    req: FastifyRequest,
    reply: FastifyReply,
    locale: Locale,
    err: unknown,
    formId: string,
  ) {
    if (!(err instanceof RelayInputError)) throw err;
    const t = textsFor(locale, SETTINGS_STRINGS);
    const error = interpolate(t.smtpNotSaved, { message: stageErrorText(locale, err) });
    return renderPage(req, reply, { formId, values: keptValues(req.body), error }, 400);
  }

  function register(app: FastifyInstance): void {
    app.post('/admin/settings/transports/:index/verify', ADMIN, async (req, reply) => {
      const t = textsFor(await requestLocale(deps, req), SETTINGS_STRINGS);
      const index = Number((req.params as { index: string }).index);
      const specs = parseRelayUrls(env.SMTP_URL ?? []);
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
        return back(reply, 'notice', interpolate(message, { name: relay.name }));
      } catch (err) {
        return refuseForm(req, reply, locale, err, 'relay-new');
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
        return back(reply, 'notice', interpolate(t.smtpUpdated, { name: relay.name }));
      } catch (err) {
        return refuseForm(req, reply, locale, err, `relay-${id}`);
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
        return back(reply, 'notice', interpolate(enabled ? t.smtpEnabledNow : t.smtpDisabledNow, { name }));
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
        return back(reply, 'notice', interpolate(t.smtpRemoved, { name }));
      } catch (err) {
        return refuse(reply, locale, err);
      }
    });

    app.post('/admin/settings/relays/:id/verify', ADMIN, async (req, reply) => {
      const id = relayId(req);
      if (!id) return reply.callNotFound();
      const locale = await requestLocale(deps, req);
      let spec: RelaySpec;
      try {
        spec = await relaySpec(db, ctx.secrets, id);
      } catch (err) {
        return refuse(reply, locale, err);
      }
      return answerVerify(reply, textsFor(locale, SETTINGS_STRINGS), spec, 'settings');
    });
  }

  return { view: smtpView, register };
}
