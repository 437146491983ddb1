import { DateTime } from 'luxon';

/**
 * Feed dates come as RFC 822 (RSS), ISO 8601 (Atom, JSON Feed) or a local "2025-07-08 10:00"
 * (many Chinese sites). They are normalised to a UTC instant with the offset the feed gave kept
 * beside it; a date with no zone is read in the publication's default zone.
 */

export interface FeedDate {
  utc: Date;
  /** e.g. "+08:00"; null when the feed gave no zone and none could be inferred. */
  offset: string | null;
}

function fromDateTime(dt: DateTime): FeedDate | null {
  return dt.isValid ? { utc: dt.toUTC().toJSDate(), offset: dt.toFormat('ZZ') } : null;
}

/** "2025-07-08 10:00:00", "2025/7/8 10:00", "2025年7月8日 10:00": local time, no zone. */
const LOCAL_DATE =
  /^(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?(?:\s*[ T]?\s*(\d{1,2}):(\d{2})(?::(\d{2}))?)?$/;

export function parseFeedDate(
  raw: string | undefined | null,
  defaultZone = 'Asia/Shanghai',
): FeedDate | null {
  const value = raw?.trim();
  if (!value) return null;
  const rfc = DateTime.fromRFC2822(value.replace(/\s+/g, ' '), { setZone: true });
  if (rfc.isValid) return fromDateTime(rfc);
  const iso = DateTime.fromISO(value, { setZone: true });
  if (iso.isValid) {
    const zoned = /(?:Z|[+-]\d{2}:?\d{2})$/i.test(value);
    return zoned
      ? fromDateTime(iso)
      : fromDateTime(DateTime.fromISO(value, { zone: defaultZone, setZone: true }));
  }
  const local = LOCAL_DATE.exec(value);
  if (local) {
    const [, y, mo, d, h, mi, sec] = local.map((v) => (v === undefined ? undefined : Number(v)));
    const dt = DateTime.fromObject(
      { year: y, month: mo, day: d, hour: h ?? 0, minute: mi ?? 0, second: sec ?? 0 },
      { zone: defaultZone },
    );
    if (dt.isValid) return fromDateTime(dt);
  }
  // Last resort: whatever the JavaScript engine understands (e.g. "Tue, 8 Jul 2025 10:00 CST").
  const fallback = new Date(value);
  return Number.isNaN(fallback.getTime()) ? null : { utc: fallback, offset: null };
}
