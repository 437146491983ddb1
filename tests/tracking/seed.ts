import type { Db } from '../../src/db/schema.js';

/** A small sent issue written straight into the ledger: sections, issue, subscribers, deliveries. */
export interface SeededIssue {
  issueId: number;
  sectionIds: Record<string, number>;
  subscribers: Array<{ id: number; email: string }>;
  deliveries: Array<{
    id: number;
    subscriberId: number;
    email: string;
    messageId: string;
    variantKey: string;
  }>;
}

let counter = 0;

export async function seedSentIssue(
  db: Db,
  opts: { recipients?: number; variants?: Record<string, string[]>; states?: string[]; period?: string } = {},
): Promise<SeededIssue> {
  const tag = `${Date.now().toString(36)}${counter++}`;
  const sectionIds: Record<string, number> = {};
  for (const [i, key] of ['domestic', 'foreign', 'cases', 'industry'].entries()) {
    const row = await db
      .insertInto('sections')
      .values({ key, position: i, names: JSON.stringify({ en: key }) as never })
      .onConflict((oc) => oc.column('key').doUpdateSet({ position: i }))
      .returning('id')
      .executeTakeFirstOrThrow();
    sectionIds[key] = row.id;
  }
  const issue = await db
    .insertInto('issues')
    .values({ period: opts.period ?? '2025-07', title: 'Digest 2025-07', state: 'sent' } as never)
    .returning('id')
    .executeTakeFirstOrThrow();
  const variants = opts.variants ?? {
    all: ['domestic', 'foreign', 'cases', 'industry'],
    'domestic+cases': ['domestic', 'cases'],
  };
  const variantKeys = Object.keys(variants);
  for (const [key, sections] of Object.entries(variants)) {
    await db
      .insertInto('issue_variants')
      .values({
        issue_id: issue.id,
        revision: 1,
        variant_key: key,
        locale: 'zh-CN',
        section_keys: sections,
        subject: 'Digest',
        html: '<p>x</p>',
        text: 'x',
        html_bytes: 8,
        text_bytes: 1,
      } as never)
      .execute();
  }
  const n = opts.recipients ?? 4;
  const subscribers: SeededIssue['subscribers'] = [];
  const deliveries: SeededIssue['deliveries'] = [];
  for (let i = 0; i < n; i++) {
    const email = `reader${i}.${tag}@example.com`;
    const sub = await db
      .insertInto('subscribers')
      .values({ email, email_normalized: email, status: 'active', consent_source: 'import' } as never)
      .returning('id')
      .executeTakeFirstOrThrow();
    const variantKey = variantKeys[i % variantKeys.length] as string;
    const state = opts.states?.[i] ?? 'accepted';
    const d = await db
      .insertInto('deliveries')
      .values({ issue_id: issue.id, subscriber_id: sub.id, variant_key: variantKey, state } as never)
      .returning('id')
      .executeTakeFirstOrThrow();
    const messageId = `g${issue.id}.${d.id}.v1@example.org`;
    await db.updateTable('deliveries').set({ message_id: messageId }).where('id', '=', d.id).execute();
    subscribers.push({ id: Number(sub.id), email });
    deliveries.push({ id: Number(d.id), subscriberId: Number(sub.id), email, messageId, variantKey });
  }
  return { issueId: issue.id, sectionIds, subscribers, deliveries };
}
