import { describe, expect, it } from 'vitest';
import { parseFeedDate, zoneOffset } from '../../src/feeds/dates.js';

/**
 * Our own tables, in the shape of feedparser's RFC 822 and W3C-DTF checklists: each row is a value
 * as feeds write it and the UTC instant it means (null: not a date, left empty, never guessed).
 * Zone-less values are read in UTC here so the tables show only what the value says.
 */
const utc = (value: string, chinaTime = false) =>
  parseFeedDate(value, 'UTC', { chinaTime })?.utc.toISOString() ?? null;

describe('RFC 822 dates (RSS)', () => {
  it.each([
    ['Thu, 01 Jan 2004 19:48:21 GMT', '2004-01-01T19:48:21.000Z'],
    ['Thu, 01 Jan 2004 19:48:21 UT', '2004-01-01T19:48:21.000Z'],
    ['Thu, 01 Jan 2004 19:48:21 Z', '2004-01-01T19:48:21.000Z'],
    ['Thu, 01 Jan 2004 19:48:21 +0000', '2004-01-01T19:48:21.000Z'],
    ['Thu, 01 Jan 2004 19:48:21 -0500', '2004-01-02T00:48:21.000Z'],
    ['Thu, 01 Jan 2004 19:48:21 +05:30', '2004-01-01T14:18:21.000Z'],
    ['Thu, 01 Jan 2004 19:48:21 GMT-05:00', '2004-01-02T00:48:21.000Z'],
    ['Thu, 01 Jan 2004 19:48:21 EST', '2004-01-02T00:48:21.000Z'],
    ['Thu, 01 Jan 2004 19:48:21 EDT', '2004-01-01T23:48:21.000Z'],
    ['Thu, 01 Jan 2004 19:48:21 PST', '2004-01-02T03:48:21.000Z'],
    ['Thu, 01 Jan 2004 19:48:21 ET', '2004-01-02T00:48:21.000Z'],
    ['Thu, 01 Jan 2004 19:48:21 MET', '2004-01-01T18:48:21.000Z'],
    ['Thu, 01 Jan 2004 19:48:21 A', '2004-01-01T20:48:21.000Z'],
    ['Thu, 01 Jan 2004 19:48:21 Y', '2004-01-01T07:48:21.000Z'],
    ['Thu, 01 Jan 04 19:48:21 GMT', '2004-01-01T19:48:21.000Z'],
    ['Thu, 01 Jan 99 19:48:21 GMT', '1999-01-01T19:48:21.000Z'],
    ['Thu, 1 Jan 2004 19:48 GMT', '2004-01-01T19:48:00.000Z'],
    ['Thu,01 Jan 2004 19:48:21 GMT', '2004-01-01T19:48:21.000Z'],
    ['01 Jan 2004 19:48:21 GMT', '2004-01-01T19:48:21.000Z'],
    ['Thursday, 01 January 2004 19:48:21 GMT', '2004-01-01T19:48:21.000Z'],
    ['Thu, Jan 01 2004 19:48:21 GMT', '2004-01-01T19:48:21.000Z'],
    ['Thu, 01 Jan 2004', '2004-01-01T00:00:00.000Z'],
    ['Thu Jan  1 19:48:21 2004', '2004-01-01T19:48:21.000Z'],
    ['Sun, Dec x 2012', null],
    ['Thu, 31 Jun 2004 19:48:21 GMT', null],
    ['Thu, 01 Foo 2004 19:48:21 GMT', null],
    ['Thu, 01 Jan 2004 25:48:21 GMT', null],
    ['Thu, 01 Jan 2004 19:48:21 XYZ', null],
  ])('%s → %s', (value, want) => {
    expect(utc(value)).toBe(want);
  });

  it('reads CST as China Standard Time for Chinese sources and as US Central otherwise', () => {
    expect(utc('Tue, 08 Jul 2025 10:00:00 CST', true)).toBe('2025-07-08T02:00:00.000Z');
    expect(utc('Tue, 08 Jul 2025 10:00:00 CST', false)).toBe('2025-07-08T16:00:00.000Z');
    expect(zoneOffset('CST', { chinaTime: true })).toBe(480);
    // Without a hint, the zone decides: the publication's default is Asia/Shanghai.
    expect(parseFeedDate('Tue, 08 Jul 2025 10:00:00 CST')?.offset).toBe('+08:00');
  });
});

describe('W3C-DTF and ISO 8601 dates (Atom, JSON Feed)', () => {
  it.each([
    ['2003', '2003-01-01T00:00:00.000Z'],
    ['2003-12', '2003-12-01T00:00:00.000Z'],
    ['2003-12-31', '2003-12-31T00:00:00.000Z'],
    ['20031231', '2003-12-31T00:00:00.000Z'],
    ['2003-12-31T10:14Z', '2003-12-31T10:14:00.000Z'],
    ['2003-12-31T10:14:55Z', '2003-12-31T10:14:55.000Z'],
    ['2003-12-31T10:14:55.25Z', '2003-12-31T10:14:55.250Z'],
    ['2003-12-31T10:14:55-08:00', '2003-12-31T18:14:55.000Z'],
    ['2003-12-31T10:14:55+0100', '2003-12-31T09:14:55.000Z'],
    ['2003-12-31T10:14:55+01', '2003-12-31T09:14:55.000Z'],
    ['2003-12-31 10:14:55Z', '2003-12-31T10:14:55.000Z'],
    ['2003-12-31T10:14:55 +08:00', '2003-12-31T02:14:55.000Z'],
    ['20031231T101455Z', '2003-12-31T10:14:55.000Z'],
    ['2003-335', '2003-12-01T00:00:00.000Z'],
    ['2003-13-01', null],
    ['2003-12-32', null],
    ['2003-12-31T24:30Z', null],
    ['2003-12-31T10:61Z', null],
  ])('%s → %s', (value, want) => {
    expect(utc(value)).toBe(want);
  });
});

describe('Chinese and local forms', () => {
  it.each([
    ['2025年7月8日', '2025-07-07T16:00:00.000Z'],
    ['2025年07月08日 10:00', '2025-07-08T02:00:00.000Z'],
    ['2025年7月8日 10时30分', '2025-07-08T02:30:00.000Z'],
    ['2025-07-08 10:00', '2025-07-08T02:00:00.000Z'],
    ['2025-07-08 10:00:00', '2025-07-08T02:00:00.000Z'],
    ['2025/7/8', '2025-07-07T16:00:00.000Z'],
    ['2025/07/08 10:00:00', '2025-07-08T02:00:00.000Z'],
    ['2025.7.8', '2025-07-07T16:00:00.000Z'],
    ['2025-07-08 10:00:00 +0000', '2025-07-08T10:00:00.000Z'],
    ['2025年13月8日', null],
  ])('%s (Asia/Shanghai) → %s', (value, want) => {
    expect(parseFeedDate(value, 'Asia/Shanghai')?.utc.toISOString() ?? null).toBe(want);
  });
});
