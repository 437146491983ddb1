import { DateTime } from 'luxon';

export type PeriodKind = 'month' | 'week';

export interface PeriodWindow {
  period: string;
  kind: PeriodKind;
  /** Inclusive start, exclusive end, as instants (computed in the publication's time zone). */
  start: Date;
  end: Date;
}

/** Parses "2025-07" (month) or "2025-W30" (ISO week); the kind is inferred unless given. */
export function parsePeriod(period: string, kind?: PeriodKind): { period: string; kind: PeriodKind } {
  const week = /^(\d{4})-W(\d{2})$/.exec(period);
  if (week && kind !== 'month') {
    const n = Number(week[2]);
    if (n >= 1 && n <= 53) return { period, kind: 'week' };
  }
  const month = /^(\d{4})-(\d{2})$/.exec(period);
  if (month && kind !== 'week') {
    const n = Number(month[2]);
    if (n >= 1 && n <= 12) return { period, kind: 'month' };
  }
  throw new Error(
    `Period "${period}" is not ${kind === 'week' ? 'an ISO week like 2025-W30' : kind === 'month' ? 'a month like 2025-07' : 'a month like 2025-07 or an ISO week like 2025-W30'}`,
  );
}

/** The instants a period covers in a time zone: a month from its 1st at 00:00 local time. */
export function periodWindow(period: string, kind: PeriodKind | undefined, timeZone: string): PeriodWindow {
  const parsed = parsePeriod(period, kind);
  let start: DateTime;
  let end: DateTime;
  if (parsed.kind === 'month') {
    const [y, m] = period.split('-').map(Number);
    start = DateTime.fromObject({ year: y, month: m, day: 1 }, { zone: timeZone });
    end = start.plus({ months: 1 });
  } else {
    const [y, w] = period.split('-W').map(Number);
    start = DateTime.fromObject({ weekYear: y, weekNumber: w, weekday: 1 }, { zone: timeZone });
    end = start.plus({ weeks: 1 });
  }
  if (!start.isValid) throw new Error(`Period "${period}" or time zone "${timeZone}" is not valid`);
  return { period: parsed.period, kind: parsed.kind, start: start.toJSDate(), end: end.toJSDate() };
}

/** The period before this one, e.g. 2025-06 for 2025-07. */
export function previousPeriod(period: string, kind?: PeriodKind): string {
  const parsed = parsePeriod(period, kind);
  const w = periodWindow(parsed.period, parsed.kind, 'UTC');
  const before = DateTime.fromJSDate(w.start, { zone: 'UTC' }).minus({ days: 1 });
  return parsed.kind === 'month' ? before.toFormat('yyyy-MM') : before.toFormat("kkkk-'W'WW");
}

/** The period after this one, e.g. 2025-08 for 2025-07, 2026-W01 for 2025-W52. */
export function nextPeriod(period: string, kind?: PeriodKind): string {
  const parsed = parsePeriod(period, kind);
  const w = periodWindow(parsed.period, parsed.kind, 'UTC');
  const after = DateTime.fromJSDate(w.end, { zone: 'UTC' });
  return parsed.kind === 'month' ? after.toFormat('yyyy-MM') : after.toFormat("kkkk-'W'WW");
}
