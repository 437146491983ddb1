import { IANAZone } from 'luxon';
import { z } from 'zod';
import { isUniqueViolation } from '../db/errors.js';
import type { Db, Source, SourceRule } from '../db/schema.js';
import { ProblemError } from '../problem.js';
import { parseHttpUrl } from './canonical-url.js';

/**
 * Sources: a feed URL with a default section, keyword rules, a polling interval and a switch.
 * Bad input is refused with a message that names the problem.
 */

/** What an editor got wrong about a source, by a stable code (see StageProblem in src/issues/store.ts). */
export type SourceErrorCode =
  | 'source-url'
  | 'source-scheme'
  | 'source-rule'
  | 'source-interval'
  | 'source-section'
  | 'source-time-zone'
  | 'source-name'
  | 'source-exists'
  | 'source-missing'
  | 'item-url'
  | 'item-date'
  | 'item-title'
  | 'item-missing';

export class SourceInputError extends ProblemError<SourceErrorCode> {
  override name = 'SourceInputError';
}

export interface SourceInput {
  name: string;
  url: string;
  sectionKey?: string;
  rules?: SourceRule[];
  pollIntervalMinutes?: number;
  allowPrivate?: boolean;
  enabled?: boolean;
  /** IANA zone for this source's dates (overrides the publication's); null or "" for none. */
  timeZone?: string | null;
}

export type SourceUpdate = Partial<Omit<SourceInput, 'sectionKey'>> & { sectionKey?: string | null };

const ruleSchema = z.object({
  type: z.enum(['include', 'exclude']),
  keywords: z.array(z.string().trim().min(1)).min(1, 'a rule needs at least one keyword'),
  sectionKey: z.string().min(1).optional(),
});

function checkUrl(url: string): string {
  if (!URL.canParse(url.trim())) throw new SourceInputError(`"${url}" is not a URL`, 'source-url', { url });
  const parsed = parseHttpUrl(url);
  if (!parsed) {
    throw new SourceInputError(`"${url}" must start with http:// or https://`, 'source-scheme', { url });
  }
  return parsed.href;
}

function checkRules(rules: unknown): SourceRule[] {
  const parsed = z.array(ruleSchema).safeParse(rules);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new SourceInputError(
      `invalid rule at ${issue?.path.join('.') || 'rules'}: ${issue?.message}`,
      'source-rule',
      { n: typeof issue?.path[0] === 'number' ? issue.path[0] + 1 : 1 },
    );
  }
  return parsed.data.map((r) => ({
    type: r.type,
    keywords: r.keywords,
    ...(r.sectionKey ? { sectionKey: r.sectionKey } : {}),
  }));
}

function checkTimeZone(zone: string | null | undefined): string | null {
  const value = zone?.trim();
  if (!value) return null;
  if (!IANAZone.isValidZone(value))
    throw new SourceInputError(
      `"${value}" is not an IANA time zone (e.g. Asia/Shanghai)`,
      'source-time-zone',
      { tz: value },
    );
  return value;
}

function checkInterval(minutes: number): number {
  if (!Number.isInteger(minutes) || minutes < 1 || minutes > 7 * 24 * 60) {
    throw new SourceInputError(
      `polling interval must be a whole number of minutes from 1 to 10080 (got ${minutes})`,
      'source-interval',
      { minutes },
    );
  }
  return minutes;
}

export async function sectionIdForKey(db: Db, key: string): Promise<number> {
  const row = await db.selectFrom('sections').select('id').where('key', '=', key).executeTakeFirst();
  if (!row) {
    const known = await db.selectFrom('sections').select('key').orderBy('position').execute();
    throw new SourceInputError(
      `no section "${key}"${known.length ? ` (known: ${known.map((k) => k.key).join(', ')})` : ' (no sections exist yet)'}`,
      'source-section',
      { key },
    );
  }
  return row.id;
}

async function checkRuleSections(db: Db, rules: SourceRule[]): Promise<void> {
  for (const rule of rules) if (rule.sectionKey) await sectionIdForKey(db, rule.sectionKey);
}

export async function addSource(db: Db, input: SourceInput): Promise<Source> {
  const name = input.name?.trim();
  if (!name) throw new SourceInputError('a source needs a name', 'source-name');
  const url = checkUrl(input.url);
  const rules = checkRules(input.rules ?? []);
  await checkRuleSections(db, rules);
  const sectionId = input.sectionKey ? await sectionIdForKey(db, input.sectionKey) : null;
  try {
    return await db
      .insertInto('sources')
      .values({
        name,
        url,
        kind: 'feed',
        section_id: sectionId,
        rules: JSON.stringify(rules),
        poll_interval_minutes: checkInterval(input.pollIntervalMinutes ?? 60),
        allow_private: input.allowPrivate ?? false,
        enabled: input.enabled ?? true,
        time_zone: checkTimeZone(input.timeZone),
      })
      .returningAll()
      .executeTakeFirstOrThrow();
  } catch (err) {
    if (isUniqueViolation(err))
      throw new SourceInputError(`a source with URL ${url} already exists`, 'source-exists', { url });
    throw err;
  }
}

export async function getSource(db: Db, id: number): Promise<Source | undefined> {
  return db.selectFrom('sources').selectAll().where('id', '=', id).executeTakeFirst();
}

export async function requireSource(db: Db, id: number): Promise<Source> {
  const source = await getSource(db, id);
  if (!source) throw new SourceInputError(`no source with id ${id}`, 'source-missing', { id });
  return source;
}

export async function listSources(db: Db, opts: { enabledOnly?: boolean } = {}): Promise<Source[]> {
  let q = db.selectFrom('sources').selectAll().where('kind', '=', 'feed');
  if (opts.enabledOnly) q = q.where('enabled', '=', true);
  return q.orderBy('id').execute();
}

export async function updateSource(db: Db, id: number, update: SourceUpdate): Promise<Source> {
  await requireSource(db, id);
  const set: Record<string, unknown> = { updated_at: new Date() };
  if (update.name !== undefined) {
    if (!update.name.trim()) throw new SourceInputError('a source needs a name', 'source-name');
    set.name = update.name.trim();
  }
  if (update.url !== undefined) {
    set.url = checkUrl(update.url);
    // A new URL is a new conversation with a server: forget validators and past failures.
    Object.assign(set, {
      etag: null,
      last_modified: null,
      consecutive_failures: 0,
      status: 'ok',
      next_poll_at: null,
    });
  }
  if (update.sectionKey !== undefined)
    set.section_id = update.sectionKey ? await sectionIdForKey(db, update.sectionKey) : null;
  if (update.rules !== undefined) {
    const rules = checkRules(update.rules);
    await checkRuleSections(db, rules);
    set.rules = JSON.stringify(rules);
  }
  if (update.pollIntervalMinutes !== undefined)
    set.poll_interval_minutes = checkInterval(update.pollIntervalMinutes);
  if (update.allowPrivate !== undefined) set.allow_private = update.allowPrivate;
  if (update.timeZone !== undefined) set.time_zone = checkTimeZone(update.timeZone);
  if (update.enabled !== undefined) {
    set.enabled = update.enabled;
    if (update.enabled) Object.assign(set, { next_poll_at: null });
  }
  try {
    return await db
      .updateTable('sources')
      .set(set)
      .where('id', '=', id)
      .returningAll()
      .executeTakeFirstOrThrow();
  } catch (err) {
    if (isUniqueViolation(err))
      throw new SourceInputError(`a source with URL ${String(set.url)} already exists`, 'source-exists', {
        url: String(set.url),
      });
    throw err;
  }
}

/** Removes a source. Its items stay (they may be in issues); they no longer point at it. */
export async function removeSource(db: Db, id: number): Promise<void> {
  await requireSource(db, id);
  await db.deleteFrom('sources').where('id', '=', id).execute();
}
