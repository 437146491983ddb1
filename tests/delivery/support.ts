import { randomBytes } from 'node:crypto';
import { sql } from 'kysely';
import pino from 'pino';
import type { Env } from '../../src/config/env.js';
import type { Db } from '../../src/db/schema.js';
import type { DeliveryContent, DeliveryDeps } from '../../src/delivery/deps.js';
import { type Logger, silentLogger } from '../../src/log.js';
import type { RenderableIssue } from '../../src/rendering/types.js';
import { variantKey } from '../../src/rendering/variant-plan.js';

/**
 * Local stand-ins for the editorial, rendering and subscriber stages (tests only): the delivery
 * engine is specified against their contracts, not their internals.
 */
export const SECTION_KEYS = ['domestic', 'foreign', 'cases', 'industry'] as const;

export async function seedSections(db: Db): Promise<Map<string, number>> {
  const ids = new Map<string, number>();
  for (const [i, key] of SECTION_KEYS.entries()) {
    const row = await db
      .insertInto('sections')
      .values({ key, position: i + 1, names: JSON.stringify({ 'zh-CN': key, en: key }) })
      .returning('id')
      .executeTakeFirstOrThrow();
    ids.set(key, row.id);
  }
  await db
    .insertInto('publication')
    .values({
      name: '数字科技与人工智能专业委员会',
      from_name: 'Gazette',
      from_email: 'news@gazette.test',
      list_id: 'digest.gazette.test',
    })
    .execute();
  return ids;
}

export async function createIssue(db: Db, state: 'approved' | 'draft' = 'approved'): Promise<number> {
  const row = await db
    .insertInto('issues')
    .values({ period: `2025-${randomBytes(2).toString('hex')}`, title: '数字科技月报', state })
    .returning('id')
    .executeTakeFirstOrThrow();
  return row.id;
}

/** An issue whose `emptySections` have no items. */
export function renderable(issueId: number, emptySections: string[] = []): RenderableIssue {
  return {
    id: issueId,
    revision: 1,
    period: '2025-07',
    periodKind: 'month',
    title: '数字科技月报',
    subject: '数字科技与人工智能月报 2025年7月',
    preheader: '',
    intro: '',
    locale: 'zh-CN',
    masthead: {},
    trackingEnabled: true,
    publication: {
      name: 'Gazette',
      timeZone: 'Asia/Shanghai',
      postalAddress: null,
      branding: {},
      listId: null,
    },
    sections: SECTION_KEYS.map((key, i) => ({
      key,
      names: { 'zh-CN': key },
      items: emptySections.includes(key)
        ? []
        : [{ id: i + 1, title: `条目 ${key}`, summary: '人工智能监管新规。'.repeat(20), sources: [] }],
    })),
  };
}

export function standInContent(
  issue: (id: number) => RenderableIssue,
  compiled: string[] = [],
): DeliveryContent {
  return {
    async loadIssue(_db, issueId) {
      return issue(issueId);
    },
    async compileVariant(_db, _issue, { sectionKeys, locale }) {
      compiled.push(variantKey(sectionKeys, locale));
      const body = sectionKeys
        .map((k) => `<h2>${k}</h2><p>${'人工智能监管新规，'.repeat(40)}</p>`)
        .join('\n');
      return {
        subject: '数字科技月报 {{name}}',
        html: `<html><body><p>您好 {{name}}</p>\n${body}\n<a href="{{unsubscribeUrl}}">退订</a> <a href="{{preferencesUrl}}">偏好</a> <a href="{{webVersionUrl}}">网页版</a><img src="https://t.test/o/{{trackingToken}}.gif"></body></html>`,
        text: `您好 {{name}}\n\n${sectionKeys.join('\n')}\n\n退订: {{unsubscribeUrl}}\n`,
      };
    },
    recipientLinks(_secrets, publicUrl, { subscriberId, issueId, deliveryId }) {
      const t = `${issueId}.${subscriberId}.${deliveryId}`;
      return {
        unsubscribeUrl: `${publicUrl}/u/${t}?a=1&b=2`,
        oneClickUnsubscribeUrl: `${publicUrl}/u/${t}/one-click`,
        preferencesUrl: `${publicUrl}/p/${t}`,
        webVersionUrl: `${publicUrl}/w/${t}`,
        trackingToken: t,
      };
    },
    async suppress(db, { kind, value, reason }) {
      await db
        .insertInto('suppressions')
        .values({ kind, value, reason })
        .onConflict((oc) => oc.doNothing())
        .execute();
    },
  };
}

export interface SubscriberSpec {
  email: string;
  name?: string | null;
  status?: 'active' | 'pending' | 'unsubscribed';
  sections?: string[] | 'all';
}

export async function addSubscribers(
  db: Db,
  sectionIds: Map<string, number>,
  specs: SubscriberSpec[],
): Promise<number[]> {
  const ids: number[] = [];
  for (const s of specs) {
    const row = await db
      .insertInto('subscribers')
      .values({
        email: s.email,
        email_normalized: s.email.toLowerCase(),
        name: s.name ?? null,
        status: s.status ?? 'active',
        all_sections: s.sections === undefined || s.sections === 'all',
        consent_source: 'import',
      })
      .returning('id')
      .executeTakeFirstOrThrow();
    ids.push(row.id);
    if (Array.isArray(s.sections) && s.sections.length) {
      await db
        .insertInto('subscriber_sections')
        .values(s.sections.map((k) => ({ subscriber_id: row.id, section_id: sectionIds.get(k) as number })))
        .execute();
    }
  }
  return ids;
}

/** Many subscribers at once (all sections), by SQL. */
export async function addManySubscribers(db: Db, n: number, tag: string): Promise<void> {
  await sql`
    INSERT INTO subscribers (email, email_normalized, name, status, all_sections, consent_source)
    SELECT 'r' || g || '.' || ${tag} || '@example.test', 'r' || g || '.' || ${tag} || '@example.test', '读者' || g, 'active', true, 'import'
    FROM generate_series(1, ${n}) g
  `.execute(db);
}

export function deps(db: Db, env: Env, content: DeliveryContent): DeliveryDeps {
  return { db, env, log: silentLogger, secrets: { current: 'x'.repeat(32) }, now: () => new Date(), content };
}

/** A logger that keeps every line (parsed), so a test can read the events a run logged. */
export function captureLog(level: 'debug' | 'info' = 'debug'): {
  log: Logger;
  lines: Record<string, unknown>[];
  events(name: string): Record<string, unknown>[];
} {
  const lines: Record<string, unknown>[] = [];
  const log = pino({ level, base: undefined }, { write: (l: string) => lines.push(JSON.parse(l)) });
  return { log, lines, events: (name) => lines.filter((l) => l.event === name) };
}
