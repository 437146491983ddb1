import { DateTime, FixedOffsetZone } from 'luxon';

/**
 * Feed dates come as RFC 822 (RSS), W3C-DTF / ISO 8601 (Atom, JSON Feed) or a local
 * "2025-07-08 10:00", "2025年7月8日", "2025/7/8" (many Chinese sites). They are normalised to a UTC
 * instant with the offset the feed gave kept beside it; a date with no zone is read in the
 * publication's (or the source's) zone. A value that is not a date gives null, never a guess:
 * "Sun, Dec x 2012" is not December 2012.
 */

export interface FeedDate {
  utc: Date;
  /** e.g. "+08:00"; null when the feed gave no zone and none could be inferred. */
  offset: string | null;
}

export interface DateContext {
  /**
   * Whether "CST" means China Standard Time (+08:00) rather than US Central (−06:00). Chinese sites
   * mean China; when not said, it follows the default zone.
   */
  chinaTime?: boolean;
}

/** Zones whose people write "CST" for +08:00. */
const CHINA_ZONES = new Set([
  'Asia/Shanghai',
  'Asia/Chongqing',
  'Asia/Chungking',
  'Asia/Harbin',
  'Asia/Urumqi',
  'Asia/Hong_Kong',
  'Asia/Macau',
  'Asia/Taipei',
  'PRC',
  'ROC',
]);

export function isChinaZone(zone: string | null | undefined): boolean {
  return Boolean(zone && CHINA_ZONES.has(zone));
}

/** Zone abbreviations and their offsets in minutes (RFC 822 §5, RFC 1123, and what feeds use). */
const ZONES: Record<string, number> = {
  UT: 0,
  UTC: 0,
  GMT: 0,
  Z: 0,
  WET: 0,
  ET: -300,
  CT: -360,
  MT: -420,
  PT: -480,
  AT: -240,
  EST: -300,
  EDT: -240,
  CST: -360,
  CDT: -300,
  MST: -420,
  MDT: -360,
  PST: -480,
  PDT: -420,
  AKST: -540,
  AKDT: -480,
  HST: -600,
  AST: -240,
  ADT: -180,
  NST: -210,
  NDT: -150,
  BST: 60,
  WEST: 60,
  CET: 60,
  CEST: 120,
  MET: 60,
  MEST: 120,
  EET: 120,
  EEST: 180,
  MSK: 180,
  IST: 330,
  ICT: 420,
  WIB: 420,
  HKT: 480,
  SGT: 480,
  BJT: 480,
  AWST: 480,
  JST: 540,
  KST: 540,
  ACST: 570,
  AEST: 600,
  AEDT: 660,
  NZST: 720,
  NZDT: 780,
};

/**
 * RFC 822's military zones as its text defines them (A–I = −1…−9, K–M = −10…−12, N–Y = +1…+12;
 * J is not a zone). RFC 1123 notes the signs are the reverse of military use; feeds that send
 * these follow the RFC's table, and so does feedparser.
 */
function militaryOffset(letter: string): number | null {
  const c = letter.charCodeAt(0);
  if (c >= 65 && c <= 73) return -(c - 64) * 60;
  if (c >= 75 && c <= 77) return -(c - 65) * 60;
  if (c >= 78 && c <= 89) return (c - 77) * 60;
  return null;
}

/** Offset in minutes for a zone as written, or null if it names none. */
export function zoneOffset(zone: string, ctx: DateContext = {}): number | null {
  const z = zone.trim().toUpperCase();
  if (z === 'CST' && ctx.chinaTime) return 480;
  if (z in ZONES) return ZONES[z] as number;
  const numeric = /^(?:GMT|UTC|UT)?([+-])(\d{1,2})(?::?(\d{2}))?$/.exec(z);
  if (numeric) {
    const minutes = Number(numeric[2]) * 60 + Number(numeric[3] ?? 0);
    return Number(numeric[2]) > 14 || Number(numeric[3] ?? 0) > 59
      ? null
      : (numeric[1] === '-' ? -1 : 1) * minutes;
  }
  if (z.length === 1) return militaryOffset(z);
  return null;
}

const MONTHS = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'];
const monthOf = (name: string) => MONTHS.indexOf(name.slice(0, 3).toLowerCase()) + 1;

const DAY = '(?:(?:mon|tue|wed|thu|fri|sat|sun)[a-z]*\\.?,?\\s*)?';
const MONTH = '(?<mon>jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\\.?';
const TIME = '(?:[\\sT]+(?<h>\\d{1,2}):(?<mi>\\d{2})(?::(?<s>\\d{2})(?:\\.\\d+)?)?)?';
const ZONE = '(?:\\s*(?<z>[A-Za-z]{1,5}(?:[+-]\\d{1,2}(?::?\\d{2})?)?|[+-]\\d{1,2}(?::?\\d{2})?))?';
/**
 * The forms read, each with named groups: y, mon (name or number), d, and optionally h, mi, s, z.
 * - "Tue, 08 Jul 2025 10:00:00 +0800", "8 July 2025 10:00 CST", "08-Jul-25 10:00" (RFC 822);
 * - "Tue Jul 08 2025 10:00:00 GMT+0800", "July 8, 2025 10:00 EST" (month first);
 * - "Tue Jul  8 10:00:00 2025" (asctime);
 * - "2025-07-08 10:00:00", "2025/7/8 10:00", "2025年7月8日 10:00", "2025年07月08日 10时00分" (local).
 */
const FORMS = [
  new RegExp(`^${DAY}(?<d>\\d{1,2})[\\s-]+${MONTH}[\\s-]+(?<y>\\d{2}|\\d{4})${TIME}${ZONE}$`, 'i'),
  new RegExp(`^${DAY}${MONTH}\\s+(?<d>\\d{1,2}),?\\s+(?<y>\\d{4})${TIME}${ZONE}$`, 'i'),
  new RegExp(
    `^${DAY}${MONTH}\\s+(?<d>\\d{1,2})\\s+(?<h>\\d{1,2}):(?<mi>\\d{2}):(?<s>\\d{2})\\s+(?<y>\\d{4})$`,
    'i',
  ),
];
const LOCAL_DATE =
  /^(?<y>\d{4})\s*[-/.年]\s*(?<mon>\d{1,2})\s*[-/.月]\s*(?<d>\d{1,2})\s*日?(?:\s*[ T]?\s*(?<h>\d{1,2})\s*[:时]\s*(?<mi>\d{2})\s*分?(?:\s*:?\s*(?<s>\d{2})\s*秒?)?)?(?:\s*(?<z>[A-Za-z]{1,5}|[+-]\d{2}:?\d{2}))?$/;

interface Fields {
  year: number;
  month: number;
  day: number;
  hour?: number | undefined;
  minute?: number | undefined;
  second?: number | undefined;
}

function build(f: Fields, zone: string | undefined, defaultZone: string, ctx: DateContext): FeedDate | null {
  let luxonZone: string | FixedOffsetZone = defaultZone;
  if (zone) {
    const offset = zoneOffset(zone, ctx);
    if (offset === null) return null;
    luxonZone = FixedOffsetZone.instance(offset);
  }
  if ((f.hour ?? 0) > 23 || (f.minute ?? 0) > 59 || (f.second ?? 0) > 60) return null;
  const dt = DateTime.fromObject(
    {
      year: f.year,
      month: f.month,
      day: f.day,
      hour: f.hour ?? 0,
      minute: f.minute ?? 0,
      second: Math.min(f.second ?? 0, 59),
    },
    { zone: luxonZone },
  );
  // Luxon refuses impossible days ("31 Feb") rather than rolling them over.
  return dt.isValid ? { utc: dt.toUTC().toJSDate(), offset: dt.toFormat('ZZ') } : null;
}

const num = (v: string | undefined) => (v === undefined ? undefined : Number(v));
/** Two-digit years: the 90s are 1990s, anything lower is this century. */
const fullYear = (y: string) => (y.length === 2 ? (Number(y) < 90 ? 2000 : 1900) + Number(y) : Number(y));

function fromMatch(m: RegExpExecArray, defaultZone: string, ctx: DateContext): FeedDate | null {
  const g = m.groups as Record<string, string | undefined>;
  const mon = g.mon as string;
  return build(
    {
      year: fullYear(g.y as string),
      month: /^\d+$/.test(mon) ? Number(mon) : monthOf(mon),
      day: Number(g.d),
      hour: num(g.h),
      minute: num(g.mi),
      second: num(g.s),
    },
    g.z,
    defaultZone,
    ctx,
  );
}

function parseIso(value: string, defaultZone: string): FeedDate | null | undefined {
  // W3C-DTF and ISO 8601; a space instead of "T" is common.
  if (!/^\d{4}(?:-?\d{2}){0,2}(?:[T ]|$)|^\d{4}-\d{3}$/.test(value)) return undefined;
  const text = value
    .replace(/^(\d{4}-\d{2}-\d{2}) (?=\d)/, '$1T')
    .replace(/\s+(?=[+-]\d{2}:?\d{2}$|Z$)/i, '');
  const zoned = /(?:Z|[+-]\d{2}(?::?\d{2})?)$/i.test(text) && /T/.test(text);
  const dt = zoned
    ? DateTime.fromISO(text, { setZone: true })
    : DateTime.fromISO(text, { zone: defaultZone, setZone: true });
  if (!dt.isValid) return /T/.test(text) || /^\d{4}-\d{3}$/.test(text) ? null : undefined;
  return { utc: dt.toUTC().toJSDate(), offset: dt.toFormat('ZZ') };
}

export function parseFeedDate(
  raw: string | undefined | null,
  defaultZone = 'Asia/Shanghai',
  context?: DateContext,
): FeedDate | null {
  const value = raw?.replace(/\s+/g, ' ').trim();
  if (!value) return null;
  const ctx: DateContext = { chinaTime: context?.chinaTime ?? isChinaZone(defaultZone) };
  for (const form of FORMS) {
    const m = form.exec(value);
    if (m) return fromMatch(m, defaultZone, ctx);
  }
  const iso = parseIso(value, defaultZone);
  if (iso !== undefined) return iso;
  const local = LOCAL_DATE.exec(value);
  return local ? fromMatch(local, defaultZone, ctx) : null;
}
