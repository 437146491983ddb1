import { DateTime } from 'luxon';
import type { InboxFilter, InboxView } from '../../../../feeds/inbox.js';

/**
 * The inbox's query string, read purely: what the filter form shows (as typed) and the filter the
 * query runs. Anything malformed is ignored rather than refused, so a stale bookmark still opens.
 */

export interface InboxQuery {
  view: InboxView;
  source: string;
  section: string;
  from: string;
  to: string;
  q: string;
  page: number;
}

const one = (v: unknown): string => {
  const s = Array.isArray(v) ? v[0] : v;
  return typeof s === 'string' ? s.trim() : '';
};

const DAY = /^\d{4}-\d{2}-\d{2}$/;

/** A source or section id as PostgreSQL's integer holds it (a longer number matches nothing). */
const isIntId = (s: string) => /^\d{1,10}$/.test(s) && Number(s) <= 2147483647;

export function readInboxQuery(raw: Record<string, unknown>): InboxQuery {
  const view: InboxView = one(raw.view) === 'dismissed' ? 'dismissed' : 'new';
  const source = one(raw.source);
  const section = one(raw.section);
  const from = one(raw.from);
  const to = one(raw.to);
  const page = Number(one(raw.page));
  return {
    view,
    source: source === 'manual' || isIntId(source) ? source : '',
    section: section === 'none' || isIntId(section) ? section : '',
    from: DAY.test(from) ? from : '',
    to: DAY.test(to) ? to : '',
    q: one(raw.q).slice(0, 200),
    page: Number.isInteger(page) && page >= 1 && page <= 100_000 ? page : 1,
  };
}

/** Days are the publication's: "to 2025-07-31" includes that whole day in Asia/Shanghai. */
export function inboxFilter(query: InboxQuery, timeZone: string): InboxFilter {
  const filter: InboxFilter = { view: query.view };
  if (query.source === 'manual') filter.source = 'manual';
  else if (query.source) filter.source = Number(query.source);
  if (query.section === 'none') filter.section = 'none';
  else if (query.section) filter.section = Number(query.section);
  const day = (s: string) => DateTime.fromISO(s, { zone: timeZone });
  if (query.from && day(query.from).isValid) filter.from = day(query.from).toJSDate();
  if (query.to && day(query.to).isValid) filter.to = day(query.to).plus({ days: 1 }).toJSDate();
  if (query.q) filter.text = query.q;
  return filter;
}

/** The inbox URL for these values (empty ones left out), with some changed. */
export function inboxHref(query: InboxQuery, change: Partial<InboxQuery> = {}): string {
  const q = { ...query, ...change };
  const params = new URLSearchParams();
  if (q.view !== 'new') params.set('view', q.view);
  for (const key of ['source', 'section', 'from', 'to', 'q'] as const) if (q[key]) params.set(key, q[key]);
  if (q.page > 1) params.set('page', String(q.page));
  const s = params.toString();
  return s ? `/admin/inbox?${s}` : '/admin/inbox';
}

/** Only the inbox itself: a crafted "back" field cannot send the editor anywhere else. */
export function safeInboxBack(value: unknown): string {
  const v = one(value);
  if (!/^\/admin\/inbox(\?|$)/.test(v) || /[\\\r\n]/.test(v)) return '/admin/inbox';
  return v;
}

/** The ids named in a form field (repeated or single), positive integers only, at most 500. */
export function idsFrom(value: unknown): number[] {
  const list = Array.isArray(value) ? value : value === undefined ? [] : [value];
  const ids = list
    .flatMap((v) => String(v).split(','))
    .filter((v) => /^\d{1,12}$/.test(v.trim()))
    .map((v) => Number(v.trim()))
    .filter((n) => n > 0);
  return [...new Set(ids)].slice(0, 500);
}
