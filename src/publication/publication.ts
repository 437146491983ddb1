import { IANAZone } from 'luxon';
import { hasControl } from '../../subscribers/text.js';
import type { Env } from '../config/env.js';
import {
  type Branding,
  type Db,
  LOCALES,
  type Locale,
  type Masthead,
  type Publication,
} from '../db/schema.js';
import { seedModelSections } from './model-sections.js';
import { isLocalSender } from './sender.js';

export type { Publication };

export interface PublicationPatch {
  name?: string;
  locale?: Locale;
  timeZone?: string;
  fromName?: string;
  fromEmail?: string;
  replyTo?: string | null;
  masthead?: Masthead;
  branding?: Branding;
  postalAddress?: string | null;
  trackingEnabled?: boolean;
  listId?: string | null;
  /** Bounce policy: N soft-bounced issues in a row, within the last M, suppress a reader. */
  softBounceLimit?: number;
  softBounceIssues?: number;
}

/** Splits `Name <addr@host>` (or a bare address) into its parts. */
export function parseMailbox(value: string): { name: string; email: string } {
  const m = /^\s*"?([^"<]*?)"?\s*<([^>]+)>\s*$/.exec(value);
  if (m) return { name: (m[1] ?? '').trim(), email: (m[2] ?? '').trim() };
  return { name: '', email: value.trim() };
}

export async function getPublication(db: Db): Promise<Publication | undefined> {
  return db.selectFrom('publication').selectAll().where('id', '=', 1).executeTakeFirst();
}

/**
 * The single publication row, created from MAIL_FROM / DEFAULT_TIME_ZONE / DEFAULT_LOCALE if
 * missing. A new publication starts with the model newsletter's four sections when it has none
 * (an admin renames them; a subscriber CSV can name them before any document is imported), and
 * with the operator's MAIL_FROM as its verified sender unless that is a local address.
 */
export async function ensurePublication(
  db: Db,
  env: Pick<Env, 'MAIL_FROM' | 'DEFAULT_TIME_ZONE' | 'DEFAULT_LOCALE'>,
): Promise<Publication> {
  const existing = await getPublication(db);
  if (existing) return existing;
  const from = parseMailbox(env.MAIL_FROM);
  await db.transaction().execute(async (tx) => {
    const created = await tx
      .insertInto('publication')
      .values({
        id: 1,
        name: from.name || 'Gazette',
        locale: env.DEFAULT_LOCALE,
        time_zone: env.DEFAULT_TIME_ZONE,
        from_name: from.name || 'Gazette',
        from_email: from.email,
        ...(isLocalSender(from.email)
          ? {}
          : { sender_verified_email: from.email, sender_verified_at: new Date() }),
      })
      .onConflict((oc) => oc.column('id').doNothing())
      .returning('id')
      .executeTakeFirst();
    if (created) await seedModelSections(tx);
  });
  const row = await getPublication(db);
  if (!row) throw new Error('publication row could not be created');
  return row;
}

export class PublicationInputError extends Error {
  override name = 'PublicationInputError';
  readonly userFacing = true;
}

/** A value that goes into a mail header (From, Reply-To, List-Id) and holds a control character. */
export class HeaderFieldError extends PublicationInputError {
  override name = 'HeaderFieldError';
  constructor(readonly field: 'name' | 'fromName' | 'fromEmail' | 'replyTo' | 'listId') {
    super(`${field} contains a line break or another control character, which would change the mail headers`);
  }
}

export async function updatePublication(db: Db, patch: PublicationPatch): Promise<Publication> {
  // Refused where it is entered (settings, CLI, API), not only stripped at send time.
  for (const field of ['name', 'fromName', 'fromEmail', 'replyTo', 'listId'] as const) {
    const value = patch[field];
    if (typeof value === 'string' && hasControl(value)) throw new HeaderFieldError(field);
  }
  if (patch.timeZone !== undefined && !IANAZone.isValidZone(patch.timeZone)) {
    throw new PublicationInputError(`"${patch.timeZone}" is not an IANA time zone such as Asia/Shanghai`);
  }
  if (patch.locale !== undefined && !LOCALES.includes(patch.locale)) {
    throw new PublicationInputError(`Locale must be one of ${LOCALES.join(', ')}`);
  }
  for (const [name, v] of [
    ['soft bounce limit', patch.softBounceLimit],
    ['soft bounce issues', patch.softBounceIssues],
  ] as const) {
    if (v !== undefined && (!Number.isInteger(v) || v < 1 || v > 50))
      throw new PublicationInputError(`The ${name} must be a whole number from 1 to 50 (got ${v})`);
  }
  const values: Record<string, unknown> = {};
  if (patch.softBounceLimit !== undefined) values.soft_bounce_limit = patch.softBounceLimit;
  if (patch.softBounceIssues !== undefined) values.soft_bounce_issues = patch.softBounceIssues;
  if (patch.name !== undefined) values.name = patch.name;
  if (patch.locale !== undefined) values.locale = patch.locale;
  if (patch.timeZone !== undefined) values.time_zone = patch.timeZone;
  if (patch.fromName !== undefined) values.from_name = patch.fromName;
  if (patch.fromEmail !== undefined) values.from_email = patch.fromEmail;
  if (patch.replyTo !== undefined) values.reply_to = patch.replyTo;
  if (patch.masthead !== undefined) values.masthead = JSON.stringify(patch.masthead);
  if (patch.branding !== undefined) values.branding = JSON.stringify(patch.branding);
  if (patch.postalAddress !== undefined) values.postal_address = patch.postalAddress;
  if (patch.trackingEnabled !== undefined) values.tracking_enabled = patch.trackingEnabled;
  if (patch.listId !== undefined) values.list_id = patch.listId;
  const row = await db
    .updateTable('publication')
    .set({ ...values, updated_at: new Date() })
    .where('id', '=', 1)
    .returningAll()
    .executeTakeFirst()
    .catch((err: { constraint?: string }) => {
      if (err.constraint === 'publication_soft_bounce_window')
        throw new PublicationInputError(
          'The soft bounce limit cannot be larger than the issues it counts over',
        );
      throw err;
    });
  if (!row)
    throw new Error('No publication yet: run a command that creates it (e.g. `gazette publication show`)');
  return row;
}
