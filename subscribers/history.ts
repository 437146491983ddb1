import type { Db, DeliveryState, EventType } from '../src/db/schema.js';

export interface SubscriberDelivery {
  id: number;
  issueId: number;
  issueTitle: string;
  issuePeriod: string;
  state: DeliveryState;
  attempts: number;
  smtpCode: number | null;
  errorClass: string | null;
  skipReason: string | null;
  acceptedAt: Date | null;
  updatedAt: Date;
}

export interface SubscriberEvent {
  id: number;
  type: EventType;
  subtype: string | null;
  issueId: number | null;
  issueTitle: string | null;
  url: string | null;
  occurredAt: Date;
}

/**
 * One subscriber's recent deliveries (with the issue they belong to) and events (with the link
 * clicked), newest first, for the editors' subscriber page. Bounded by `limit` each.
 */
export async function subscriberHistory(
  db: Db,
  subscriberId: number,
  opts: { limit?: number } = {},
): Promise<{ deliveries: SubscriberDelivery[]; events: SubscriberEvent[] }> {
  const limit = Math.min(Math.max(opts.limit ?? 50, 1), 500);
  const [deliveries, events] = await Promise.all([
    db
      .selectFrom('deliveries as d')
      .innerJoin('issues as i', 'i.id', 'd.issue_id')
      .select([
        'd.id',
        'd.issue_id',
        'i.title',
        'i.period',
        'd.state',
        'd.attempts',
        'd.smtp_code',
        'd.error_class',
        'd.skip_reason',
        'd.accepted_at',
        'd.updated_at',
      ])
      .where('d.subscriber_id', '=', subscriberId)
      .orderBy('d.id', 'desc')
      .limit(limit)
      .execute(),
    db
      .selectFrom('events as e')
      .leftJoin('issues as i', 'i.id', 'e.issue_id')
      .leftJoin('issue_links as l', 'l.id', 'e.link_id')
      .select(['e.id', 'e.type', 'e.subtype', 'e.issue_id', 'i.title', 'l.url', 'e.occurred_at'])
      .where('e.subscriber_id', '=', subscriberId)
      .orderBy('e.occurred_at', 'desc')
      .orderBy('e.id', 'desc')
      .limit(limit)
      .execute(),
  ]);
  return {
    deliveries: deliveries.map((d) => ({
      id: Number(d.id),
      issueId: d.issue_id,
      issueTitle: d.title,
      issuePeriod: d.period,
      state: d.state,
      attempts: d.attempts,
      smtpCode: d.smtp_code,
      errorClass: d.error_class,
      skipReason: d.skip_reason,
      acceptedAt: d.accepted_at,
      updatedAt: d.updated_at,
    })),
    events: events.map((e) => ({
      id: Number(e.id),
      type: e.type,
      subtype: e.subtype,
      issueId: e.issue_id,
      issueTitle: e.title,
      url: e.url,
      occurredAt: e.occurred_at,
    })),
  };
}
