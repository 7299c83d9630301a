import {
  SEND_WINDOW_SEARCH_DAYS,
  SendWindow,
  currentWindowClosing,
  isWithinSendWindow,
  nextWindowOpening,
  parseWindowTime,
  utcToZonedParts,
  validateSendWindows,
  zonedTimeToUtc,
} from '../../core/send-window';

const d = (iso: string): Date => new Date(iso);
const iso = (date: Date | null): string | null => (date === null ? null : date.toISOString());
const w = (from: string, to: string): SendWindow => ({ from, to });

const MOSCOW_DAY: SendWindow[] = [w('09:00', '13:00'), w('14:00', '21:00')];

describe('parseWindowTime', () => {
  it.each([
    ['00:00', 0],
    ['0:00', 0],
    ['09:00', 540],
    ['9:00', 540],
    ['0:05', 5],
    ['12:30', 750],
    ['23:59', 1439],
  ])('parses %s as %d minutes', (text, minutes) => {
    expect(parseWindowTime(text)).toBe(minutes);
    expect(parseWindowTime(text, 'to')).toBe(minutes);
  });

  it('accepts 24:00 only as the end of a window', () => {
    expect(parseWindowTime('24:00', 'to')).toBe(1440);
    expect(() => parseWindowTime('24:00')).toThrow('"24:00" is only allowed as the end ("to") of a window');
    expect(() => parseWindowTime('24:00', 'from')).toThrow(/only allowed as the end/);
  });

  it.each(['25:00', '24:01', '24:30', '99:99'])('rejects out-of-range hours in %s', (text) => {
    expect(() => parseWindowTime(text, 'to')).toThrow(`Invalid window time "${text}"`);
  });

  it('explains which part is out of range', () => {
    expect(() => parseWindowTime('25:00')).toThrow('hours must be between 00 and 23');
    expect(() => parseWindowTime('09:60')).toThrow('minutes must be between 00 and 59');
  });

  it.each(['', '9', '09', '09:0', '009:00', '09:000', ' 09:00', '09:00 ', '9.00', '09-00', 'ab:cd', '-1:00', '+9:00', '09:00:00', '１０:００'])(
    'rejects malformed %j',
    (text) => {
      expect(() => parseWindowTime(text)).toThrow(`Invalid window time "${text}": expected "HH:MM" or "H:MM"`);
    },
  );

  it('rejects non-strings', () => {
    expect(() => parseWindowTime(900 as unknown as string)).toThrow('Invalid window time 900: expected a string "HH:MM"');
    expect(() => parseWindowTime(undefined as unknown as string)).toThrow(/expected a string/);
  });
});

describe('validateSendWindows', () => {
  it('accepts a valid list, an empty list and all-day forms', () => {
    expect(validateSendWindows(MOSCOW_DAY, 'Europe/Moscow')).toEqual([]);
    expect(validateSendWindows([], 'UTC')).toEqual([]);
    expect(validateSendWindows([w('00:00', '00:00')], 'UTC')).toEqual([]);
    expect(validateSendWindows([w('0:00', '24:00')], 'UTC')).toEqual([]);
    expect(validateSendWindows([w('22:00', '02:00'), w('18:00', '24:00'), w('20:00', '00:00')], 'Asia/Kolkata')).toEqual([]);
  });

  it('accepts overlapping and touching windows', () => {
    expect(validateSendWindows([w('09:00', '12:00'), w('12:00', '15:00'), w('10:00', '11:00')], 'UTC')).toEqual([]);
  });

  it('reports an unknown time zone', () => {
    expect(validateSendWindows(MOSCOW_DAY, 'Mars/Olympus_Mons')).toEqual([
      'Unknown time zone "Mars/Olympus_Mons": expected an IANA name such as "Europe/Moscow"',
    ]);
  });

  it('checks the time zone even for an empty list', () => {
    expect(validateSendWindows([], 'Not/AZone')).toEqual([
      'Unknown time zone "Not/AZone": expected an IANA name such as "Europe/Moscow"',
    ]);
  });

  it('reports an empty or missing time zone', () => {
    expect(validateSendWindows([], '')).toEqual(['Invalid time zone "": expected an IANA name such as "Europe/Moscow"']);
    expect(validateSendWindows([], undefined as unknown as string)).toEqual([
      'Invalid time zone undefined: expected an IANA name such as "Europe/Moscow"',
    ]);
  });

  it('reports bad boundaries with their position', () => {
    expect(validateSendWindows([w('09:00', '13:00'), w('25:00', '9:60')], 'UTC')).toEqual([
      'sendWindows[1].from: Invalid window time "25:00": hours must be between 00 and 23',
      'sendWindows[1].to: Invalid window time "9:60": minutes must be between 00 and 59',
    ]);
  });

  it('rejects 24:00 as a start', () => {
    expect(validateSendWindows([w('24:00', '06:00')], 'UTC')).toEqual([
      'sendWindows[0].from: Invalid window time "24:00": "24:00" is only allowed as the end ("to") of a window',
    ]);
  });

  it('rejects equal from and to except for the all-day 00:00 form', () => {
    expect(validateSendWindows([w('09:00', '09:00')], 'UTC')).toEqual([
      'sendWindows[0]: "from" and "to" are both "09:00", which is an empty window; use "00:00"-"00:00" for all day',
    ]);
    expect(validateSendWindows([w('9:00', '09:00')], 'UTC')).toHaveLength(1);
  });

  it('reports missing fields, non-object entries and a non-list', () => {
    expect(validateSendWindows([{ from: '09:00' } as SendWindow], 'UTC')).toEqual(['sendWindows[0].to is missing']);
    expect(validateSendWindows([null as unknown as SendWindow, '09:00-10:00' as unknown as SendWindow], 'UTC')).toEqual([
      'sendWindows[0] must be an object {from: "HH:MM", to: "HH:MM"}, got null',
      'sendWindows[1] must be an object {from: "HH:MM", to: "HH:MM"}, got "09:00-10:00"',
    ]);
    expect(validateSendWindows({ from: '09:00', to: '10:00' } as unknown as SendWindow[], 'UTC')).toEqual([
      'sendWindows must be a list of {from, to}, got {"from":"09:00","to":"10:00"}',
    ]);
    expect(validateSendWindows([{ from: 9, to: '10:00' } as unknown as SendWindow], 'UTC')).toEqual([
      'sendWindows[0].from: Invalid window time 9: expected a string "HH:MM"',
    ]);
  });

  it('treats an absent list as "any time"', () => {
    expect(validateSendWindows(undefined as unknown as SendWindow[], 'UTC')).toEqual([]);
    expect(isWithinSendWindow(d('2026-01-15T03:00:00Z'), undefined as unknown as SendWindow[], 'UTC')).toBe(true);
  });

  it('collects every problem at once', () => {
    expect(validateSendWindows([w('9', '10:00'), w('10:00', '10:00')], 'Nowhere/Land')).toEqual([
      'Unknown time zone "Nowhere/Land": expected an IANA name such as "Europe/Moscow"',
      'sendWindows[0].from: Invalid window time "9": expected "HH:MM" or "H:MM", e.g. "09:00"',
      'sendWindows[1]: "from" and "to" are both "10:00", which is an empty window; use "00:00"-"00:00" for all day',
    ]);
  });
});

describe('utcToZonedParts', () => {
  it('converts into fixed-offset zones', () => {
    expect(utcToZonedParts(d('2026-01-15T06:00:00Z'), 'Europe/Moscow')).toEqual({
      year: 2026, month: 1, day: 15, hour: 9, minute: 0, second: 0, weekday: 4,
    });
    expect(utcToZonedParts(d('2026-01-15T18:29:59.999Z'), 'Asia/Kolkata')).toEqual({
      year: 2026, month: 1, day: 15, hour: 23, minute: 59, second: 59, weekday: 4,
    });
    expect(utcToZonedParts(d('2026-01-15T18:30:00Z'), 'Asia/Kolkata')).toEqual({
      year: 2026, month: 1, day: 16, hour: 0, minute: 0, second: 0, weekday: 5,
    });
    expect(utcToZonedParts(d('2026-12-31T23:59:59Z'), 'UTC')).toEqual({
      year: 2026, month: 12, day: 31, hour: 23, minute: 59, second: 59, weekday: 4,
    });
  });

  it('follows DST and reports ISO weekdays (Sunday = 7)', () => {
    expect(utcToZonedParts(d('2026-03-08T06:59:59Z'), 'America/New_York')).toMatchObject({ day: 8, hour: 1, minute: 59, weekday: 7 });
    expect(utcToZonedParts(d('2026-03-08T07:00:00Z'), 'America/New_York')).toMatchObject({ day: 8, hour: 3, minute: 0, weekday: 7 });
    expect(utcToZonedParts(d('2026-11-01T05:30:00Z'), 'America/New_York')).toMatchObject({ hour: 1, minute: 30 });
    expect(utcToZonedParts(d('2026-11-01T06:30:00Z'), 'America/New_York')).toMatchObject({ hour: 1, minute: 30 });
    expect(utcToZonedParts(d('2026-03-30T04:00:00Z'), 'Europe/Berlin')).toMatchObject({ day: 30, hour: 6, weekday: 1 });
  });

  it('prints midnight as hour 0', () => {
    expect(utcToZonedParts(d('2026-06-01T04:00:00Z'), 'America/New_York')).toMatchObject({ day: 1, hour: 0, minute: 0 });
  });

  it('rejects unknown zones and invalid dates', () => {
    expect(() => utcToZonedParts(d('2026-01-01T00:00:00Z'), 'Europe/Atlantis')).toThrow(RangeError);
    expect(() => utcToZonedParts(d('2026-01-01T00:00:00Z'), 'Europe/Atlantis')).toThrow('Unknown time zone "Europe/Atlantis"');
    expect(() => utcToZonedParts(new Date(Number.NaN), 'UTC')).toThrow('Invalid instant Invalid Date: expected a valid Date');
  });
});

describe('zonedTimeToUtc', () => {
  const at = (y: number, m: number, day: number, hhmm: string, tz: string): string | null =>
    iso(zonedTimeToUtc(y, m, day, parseWindowTime(hhmm, 'to'), tz));

  it('handles zones without DST', () => {
    expect(at(2026, 1, 15, '09:00', 'Europe/Moscow')).toBe('2026-01-15T06:00:00.000Z');
    expect(at(2026, 7, 15, '09:00', 'Europe/Moscow')).toBe('2026-07-15T06:00:00.000Z');
    expect(at(2026, 1, 15, '02:00', 'Europe/Moscow')).toBe('2026-01-14T23:00:00.000Z');
    expect(at(2026, 1, 15, '09:00', 'UTC')).toBe('2026-01-15T09:00:00.000Z');
    expect(at(2026, 1, 15, '09:00', 'Asia/Kolkata')).toBe('2026-01-15T03:30:00.000Z');
    expect(at(2026, 1, 15, '03:00', 'Asia/Kolkata')).toBe('2026-01-14T21:30:00.000Z');
  });

  it('rolls over days, months, years and 24:00', () => {
    expect(at(2026, 1, 15, '24:00', 'UTC')).toBe('2026-01-16T00:00:00.000Z');
    expect(at(2026, 1, 32, '09:00', 'UTC')).toBe('2026-02-01T09:00:00.000Z');
    expect(at(2026, 12, 31, '24:00', 'Europe/Moscow')).toBe('2026-12-31T21:00:00.000Z');
    expect(iso(zonedTimeToUtc(2026, 2, 28, 1440 + 60, 'UTC'))).toBe('2026-03-01T01:00:00.000Z');
    expect(iso(zonedTimeToUtc(2026, 1, 1, -60, 'UTC'))).toBe('2025-12-31T23:00:00.000Z');
  });

  it('uses standard and daylight offsets in New York and Berlin', () => {
    expect(at(2026, 1, 15, '09:00', 'America/New_York')).toBe('2026-01-15T14:00:00.000Z');
    expect(at(2026, 7, 15, '09:00', 'America/New_York')).toBe('2026-07-15T13:00:00.000Z');
    expect(at(2026, 1, 15, '09:00', 'Europe/Berlin')).toBe('2026-01-15T08:00:00.000Z');
    expect(at(2026, 7, 15, '09:00', 'Europe/Berlin')).toBe('2026-07-15T07:00:00.000Z');
  });

  it('moves a skipped wall time to the first existing instant after it (spring forward)', () => {
    // New York, 2026-03-08: 02:00 EST -> 03:00 EDT at 07:00Z
    expect(at(2026, 3, 8, '01:59', 'America/New_York')).toBe('2026-03-08T06:59:00.000Z');
    expect(at(2026, 3, 8, '02:00', 'America/New_York')).toBe('2026-03-08T07:00:00.000Z');
    expect(at(2026, 3, 8, '02:30', 'America/New_York')).toBe('2026-03-08T07:00:00.000Z');
    expect(at(2026, 3, 8, '02:59', 'America/New_York')).toBe('2026-03-08T07:00:00.000Z');
    expect(at(2026, 3, 8, '03:00', 'America/New_York')).toBe('2026-03-08T07:00:00.000Z');
    expect(at(2026, 3, 8, '03:01', 'America/New_York')).toBe('2026-03-08T07:01:00.000Z');
    // Berlin, 2026-03-29: 02:00 CET -> 03:00 CEST at 01:00Z
    expect(at(2026, 3, 29, '01:59', 'Europe/Berlin')).toBe('2026-03-29T00:59:00.000Z');
    expect(at(2026, 3, 29, '02:00', 'Europe/Berlin')).toBe('2026-03-29T01:00:00.000Z');
    expect(at(2026, 3, 29, '02:30', 'Europe/Berlin')).toBe('2026-03-29T01:00:00.000Z');
    expect(at(2026, 3, 29, '03:00', 'Europe/Berlin')).toBe('2026-03-29T01:00:00.000Z');
    expect(at(2026, 3, 29, '03:30', 'Europe/Berlin')).toBe('2026-03-29T01:30:00.000Z');
  });

  it('uses the first occurrence of a repeated wall time (fall back)', () => {
    // New York, 2026-11-01: 02:00 EDT -> 01:00 EST at 06:00Z
    expect(at(2026, 11, 1, '00:59', 'America/New_York')).toBe('2026-11-01T04:59:00.000Z');
    expect(at(2026, 11, 1, '01:00', 'America/New_York')).toBe('2026-11-01T05:00:00.000Z');
    expect(at(2026, 11, 1, '01:30', 'America/New_York')).toBe('2026-11-01T05:30:00.000Z');
    expect(at(2026, 11, 1, '01:59', 'America/New_York')).toBe('2026-11-01T05:59:00.000Z');
    expect(at(2026, 11, 1, '02:00', 'America/New_York')).toBe('2026-11-01T07:00:00.000Z');
    // Berlin, 2026-10-25: 03:00 CEST -> 02:00 CET at 01:00Z
    expect(at(2026, 10, 25, '01:59', 'Europe/Berlin')).toBe('2026-10-24T23:59:00.000Z');
    expect(at(2026, 10, 25, '02:00', 'Europe/Berlin')).toBe('2026-10-25T00:00:00.000Z');
    expect(at(2026, 10, 25, '02:30', 'Europe/Berlin')).toBe('2026-10-25T00:30:00.000Z');
    expect(at(2026, 10, 25, '03:00', 'Europe/Berlin')).toBe('2026-10-25T02:00:00.000Z');
  });

  it('handles the 30-minute DST of Lord Howe Island', () => {
    // 2026-10-04: 02:00 (+10:30) -> 02:30 (+11) at 2026-10-03T15:30Z
    expect(at(2026, 10, 4, '01:59', 'Australia/Lord_Howe')).toBe('2026-10-03T15:29:00.000Z');
    expect(at(2026, 10, 4, '02:00', 'Australia/Lord_Howe')).toBe('2026-10-03T15:30:00.000Z');
    expect(at(2026, 10, 4, '02:15', 'Australia/Lord_Howe')).toBe('2026-10-03T15:30:00.000Z');
    expect(at(2026, 10, 4, '02:30', 'Australia/Lord_Howe')).toBe('2026-10-03T15:30:00.000Z');
    expect(at(2026, 10, 4, '03:00', 'Australia/Lord_Howe')).toBe('2026-10-03T16:00:00.000Z');
    // 2026-04-05: 02:00 (+11) -> 01:30 (+10:30) at 2026-04-04T15:00Z
    expect(at(2026, 4, 5, '01:30', 'Australia/Lord_Howe')).toBe('2026-04-04T14:30:00.000Z');
    expect(at(2026, 4, 5, '01:45', 'Australia/Lord_Howe')).toBe('2026-04-04T14:45:00.000Z');
    expect(at(2026, 4, 5, '02:00', 'Australia/Lord_Howe')).toBe('2026-04-04T15:30:00.000Z');
  });

  it('handles a DST gap at midnight (São Paulo, 2018-11-04 started at 00:00)', () => {
    expect(at(2018, 11, 4, '00:00', 'America/Sao_Paulo')).toBe('2018-11-04T03:00:00.000Z');
    expect(at(2018, 11, 4, '00:30', 'America/Sao_Paulo')).toBe('2018-11-04T03:00:00.000Z');
    expect(at(2018, 11, 4, '01:00', 'America/Sao_Paulo')).toBe('2018-11-04T03:00:00.000Z');
    expect(at(2018, 11, 3, '23:59', 'America/Sao_Paulo')).toBe('2018-11-04T02:59:00.000Z');
  });

  it('rejects non-integers and unknown zones', () => {
    expect(() => zonedTimeToUtc(2026, 1, 1, 9.5, 'UTC')).toThrow('zonedTimeToUtc: minutesOfDay must be an integer, got 9.5');
    expect(() => zonedTimeToUtc(2026, Number.NaN, 1, 0, 'UTC')).toThrow(RangeError);
    expect(() => zonedTimeToUtc(2026, 1, 1, 0, 'Europe/Atlantis')).toThrow('Unknown time zone "Europe/Atlantis"');
  });
});

describe('simple windows in Europe/Moscow (UTC+3, no DST)', () => {
  const tz = 'Europe/Moscow';

  it.each([
    ['2026-01-15T05:59:59.999Z', false, '08:59:59.999'],
    ['2026-01-15T06:00:00.000Z', true, '09:00 (from is inclusive)'],
    ['2026-01-15T08:00:00.000Z', true, '11:00'],
    ['2026-01-15T09:59:59.999Z', true, '12:59:59.999'],
    ['2026-01-15T10:00:00.000Z', false, '13:00 (to is exclusive)'],
    ['2026-01-15T10:30:00.000Z', false, '13:30 (lunch gap)'],
    ['2026-01-15T11:00:00.000Z', true, '14:00'],
    ['2026-01-15T17:59:59.999Z', true, '20:59:59.999'],
    ['2026-01-15T18:00:00.000Z', false, '21:00'],
    ['2026-01-15T22:00:00.000Z', false, '01:00 next day'],
  ])('%s is inside = %s (local %s)', (instant, inside) => {
    expect(isWithinSendWindow(d(instant), MOSCOW_DAY, tz)).toBe(inside);
  });

  it('returns the same instant when already inside', () => {
    const now = d('2026-01-15T07:12:34.567Z');
    expect(iso(nextWindowOpening(now, MOSCOW_DAY, tz))).toBe('2026-01-15T07:12:34.567Z');
    expect(iso(nextWindowOpening(d('2026-01-15T06:00:00Z'), MOSCOW_DAY, tz))).toBe('2026-01-15T06:00:00.000Z');
  });

  it('opens after the lunch gap at 14:00 local', () => {
    expect(iso(nextWindowOpening(d('2026-01-15T10:00:00Z'), MOSCOW_DAY, tz))).toBe('2026-01-15T11:00:00.000Z');
    expect(iso(nextWindowOpening(d('2026-01-15T10:30:00Z'), MOSCOW_DAY, tz))).toBe('2026-01-15T11:00:00.000Z');
    expect(iso(nextWindowOpening(d('2026-01-15T10:59:59.999Z'), MOSCOW_DAY, tz))).toBe('2026-01-15T11:00:00.000Z');
  });

  it('opens later the same morning or the next day', () => {
    expect(iso(nextWindowOpening(d('2026-01-15T02:00:00Z'), MOSCOW_DAY, tz))).toBe('2026-01-15T06:00:00.000Z');
    expect(iso(nextWindowOpening(d('2026-01-15T18:00:00Z'), MOSCOW_DAY, tz))).toBe('2026-01-16T06:00:00.000Z');
    // 23:30 Moscow is still "today" locally, 20:59 UTC
    expect(iso(nextWindowOpening(d('2026-01-15T20:30:00Z'), MOSCOW_DAY, tz))).toBe('2026-01-16T06:00:00.000Z');
    // 00:30 Moscow on the 16th is the 15th in UTC
    expect(iso(nextWindowOpening(d('2026-01-15T21:30:00Z'), MOSCOW_DAY, tz))).toBe('2026-01-16T06:00:00.000Z');
    // year boundary
    expect(iso(nextWindowOpening(d('2026-12-31T19:00:00Z'), MOSCOW_DAY, tz))).toBe('2027-01-01T06:00:00.000Z');
  });

  it('closes at the end of the current window', () => {
    expect(iso(currentWindowClosing(d('2026-01-15T06:00:00Z'), MOSCOW_DAY, tz))).toBe('2026-01-15T10:00:00.000Z');
    expect(iso(currentWindowClosing(d('2026-01-15T09:59:59.999Z'), MOSCOW_DAY, tz))).toBe('2026-01-15T10:00:00.000Z');
    expect(iso(currentWindowClosing(d('2026-01-15T11:00:00Z'), MOSCOW_DAY, tz))).toBe('2026-01-15T18:00:00.000Z');
  });

  it('throws when asked for the closing outside a window', () => {
    expect(() => currentWindowClosing(d('2026-01-15T10:30:00Z'), MOSCOW_DAY, tz)).toThrow(
      '2026-01-15T10:30:00.000Z is not inside a send window in Europe/Moscow; check isWithinSendWindow first',
    );
    expect(() => currentWindowClosing(d('2026-01-15T10:00:00Z'), MOSCOW_DAY, tz)).toThrow(/not inside a send window/);
  });

  it('does not depend on the order of the windows', () => {
    const reversed = [...MOSCOW_DAY].reverse();
    expect(iso(nextWindowOpening(d('2026-01-15T10:30:00Z'), reversed, tz))).toBe('2026-01-15T11:00:00.000Z');
    expect(iso(nextWindowOpening(d('2026-01-15T18:30:00Z'), reversed, tz))).toBe('2026-01-16T06:00:00.000Z');
  });
});

describe('other fixed-offset zones', () => {
  it('UTC', () => {
    const windows = [w('08:00', '20:00')];
    expect(isWithinSendWindow(d('2026-05-10T07:59:59Z'), windows, 'UTC')).toBe(false);
    expect(isWithinSendWindow(d('2026-05-10T08:00:00Z'), windows, 'UTC')).toBe(true);
    expect(iso(nextWindowOpening(d('2026-05-10T20:00:00Z'), windows, 'UTC'))).toBe('2026-05-11T08:00:00.000Z');
    expect(iso(currentWindowClosing(d('2026-05-10T19:00:00Z'), windows, 'UTC'))).toBe('2026-05-10T20:00:00.000Z');
  });

  it('Asia/Kolkata (UTC+5:30)', () => {
    const windows = [w('09:00', '18:00')];
    const tz = 'Asia/Kolkata';
    expect(isWithinSendWindow(d('2026-01-15T03:29:59Z'), windows, tz)).toBe(false);
    expect(isWithinSendWindow(d('2026-01-15T03:30:00Z'), windows, tz)).toBe(true);
    expect(isWithinSendWindow(d('2026-01-15T12:29:59Z'), windows, tz)).toBe(true);
    expect(isWithinSendWindow(d('2026-01-15T12:30:00Z'), windows, tz)).toBe(false);
    expect(iso(nextWindowOpening(d('2026-01-15T13:00:00Z'), windows, tz))).toBe('2026-01-16T03:30:00.000Z');
    expect(iso(nextWindowOpening(d('2026-01-15T00:00:00Z'), windows, tz))).toBe('2026-01-15T03:30:00.000Z');
    expect(iso(currentWindowClosing(d('2026-01-15T04:00:00Z'), windows, tz))).toBe('2026-01-15T12:30:00.000Z');
  });
});

describe('windows crossing midnight', () => {
  const night = [w('22:00', '02:00')];

  it.each([
    ['2026-01-15T12:00:00Z', false],
    ['2026-01-15T21:59:59.999Z', false],
    ['2026-01-15T22:00:00Z', true],
    ['2026-01-15T23:59:59.999Z', true],
    ['2026-01-16T00:00:00Z', true],
    ['2026-01-16T01:59:59.999Z', true],
    ['2026-01-16T02:00:00Z', false],
    ['2026-01-16T03:00:00Z', false],
  ])('UTC 22:00-02:00: %s inside = %s', (instant, inside) => {
    expect(isWithinSendWindow(d(instant), night, 'UTC')).toBe(inside);
  });

  it('opens at 22:00 and closes at 02:00 the next day', () => {
    expect(iso(nextWindowOpening(d('2026-01-15T12:00:00Z'), night, 'UTC'))).toBe('2026-01-15T22:00:00.000Z');
    expect(iso(nextWindowOpening(d('2026-01-16T02:00:00Z'), night, 'UTC'))).toBe('2026-01-16T22:00:00.000Z');
    expect(iso(nextWindowOpening(d('2026-01-16T01:00:00Z'), night, 'UTC'))).toBe('2026-01-16T01:00:00.000Z');
    expect(iso(currentWindowClosing(d('2026-01-15T22:00:00Z'), night, 'UTC'))).toBe('2026-01-16T02:00:00.000Z');
    expect(iso(currentWindowClosing(d('2026-01-15T23:30:00Z'), night, 'UTC'))).toBe('2026-01-16T02:00:00.000Z');
    expect(iso(currentWindowClosing(d('2026-01-16T00:00:00Z'), night, 'UTC'))).toBe('2026-01-16T02:00:00.000Z');
    expect(iso(currentWindowClosing(d('2026-01-16T01:59:59Z'), night, 'UTC'))).toBe('2026-01-16T02:00:00.000Z');
  });

  it('works in a zone with an offset (Berlin winter, UTC+1)', () => {
    const tz = 'Europe/Berlin';
    expect(isWithinSendWindow(d('2026-01-15T20:59:00Z'), night, tz)).toBe(false);
    expect(isWithinSendWindow(d('2026-01-15T21:00:00Z'), night, tz)).toBe(true);
    expect(isWithinSendWindow(d('2026-01-16T00:59:00Z'), night, tz)).toBe(true);
    expect(isWithinSendWindow(d('2026-01-16T01:00:00Z'), night, tz)).toBe(false);
    expect(iso(nextWindowOpening(d('2026-01-15T12:00:00Z'), night, tz))).toBe('2026-01-15T21:00:00.000Z');
    expect(iso(currentWindowClosing(d('2026-01-15T23:00:00Z'), night, tz))).toBe('2026-01-16T01:00:00.000Z');
  });

  it('treats to = 00:00 like 24:00', () => {
    for (const windows of [[w('20:00', '00:00')], [w('20:00', '24:00')]]) {
      expect(isWithinSendWindow(d('2026-01-15T19:59:59Z'), windows, 'UTC')).toBe(false);
      expect(isWithinSendWindow(d('2026-01-15T23:59:59.999Z'), windows, 'UTC')).toBe(true);
      expect(isWithinSendWindow(d('2026-01-16T00:00:00Z'), windows, 'UTC')).toBe(false);
      expect(iso(currentWindowClosing(d('2026-01-15T21:00:00Z'), windows, 'UTC'))).toBe('2026-01-16T00:00:00.000Z');
      expect(iso(nextWindowOpening(d('2026-01-16T00:00:00Z'), windows, 'UTC'))).toBe('2026-01-16T20:00:00.000Z');
    }
  });

  it('chains an evening window with a morning window over midnight', () => {
    const windows = [w('18:00', '24:00'), w('00:00', '06:00')];
    expect(iso(currentWindowClosing(d('2026-01-15T20:00:00Z'), windows, 'UTC'))).toBe('2026-01-16T06:00:00.000Z');
    expect(iso(currentWindowClosing(d('2026-01-16T01:00:00Z'), windows, 'UTC'))).toBe('2026-01-16T06:00:00.000Z');
    expect(iso(nextWindowOpening(d('2026-01-16T06:00:00Z'), windows, 'UTC'))).toBe('2026-01-16T18:00:00.000Z');
  });

  it('chains a night window overlapping a morning window', () => {
    const windows = [w('01:00', '03:00'), w('22:00', '02:00')];
    expect(iso(currentWindowClosing(d('2026-01-15T23:00:00Z'), windows, 'UTC'))).toBe('2026-01-16T03:00:00.000Z');
    expect(isWithinSendWindow(d('2026-01-16T02:30:00Z'), windows, 'UTC')).toBe(true);
    expect(isWithinSendWindow(d('2026-01-16T03:00:00Z'), windows, 'UTC')).toBe(false);
  });
});

describe('union of touching and overlapping windows', () => {
  it('touching windows close at the end of the second (09:00-12:00 + 12:00-15:00 -> 15:00)', () => {
    const windows = [w('09:00', '12:00'), w('12:00', '15:00')];
    expect(iso(currentWindowClosing(d('2026-01-15T10:00:00Z'), windows, 'UTC'))).toBe('2026-01-15T15:00:00.000Z');
    expect(iso(currentWindowClosing(d('2026-01-15T11:59:59.999Z'), windows, 'UTC'))).toBe('2026-01-15T15:00:00.000Z');
    expect(iso(currentWindowClosing(d('2026-01-15T12:00:00Z'), windows, 'UTC'))).toBe('2026-01-15T15:00:00.000Z');
    expect(isWithinSendWindow(d('2026-01-15T12:00:00Z'), windows, 'UTC')).toBe(true);
    expect(iso(currentWindowClosing(d('2026-01-15T07:00:00Z'), windows, 'Europe/Moscow'))).toBe('2026-01-15T12:00:00.000Z');
  });

  it('overlapping windows in any order form one span', () => {
    const windows = [w('14:30', '16:00'), w('09:00', '13:00'), w('11:00', '15:00'), w('10:00', '10:30')];
    expect(iso(currentWindowClosing(d('2026-01-15T09:30:00Z'), windows, 'UTC'))).toBe('2026-01-15T16:00:00.000Z');
    expect(iso(currentWindowClosing(d('2026-01-15T10:15:00Z'), windows, 'UTC'))).toBe('2026-01-15T16:00:00.000Z');
    expect(iso(currentWindowClosing(d('2026-01-15T15:30:00Z'), windows, 'UTC'))).toBe('2026-01-15T16:00:00.000Z');
    expect(iso(nextWindowOpening(d('2026-01-15T16:00:00Z'), windows, 'UTC'))).toBe('2026-01-16T09:00:00.000Z');
  });

  it('a window nested in another does not shorten it', () => {
    const windows = [w('08:00', '20:00'), w('10:00', '11:00')];
    expect(iso(currentWindowClosing(d('2026-01-15T10:30:00Z'), windows, 'UTC'))).toBe('2026-01-15T20:00:00.000Z');
  });

  it('a one-minute gap is respected', () => {
    const windows = [w('09:00', '12:00'), w('12:01', '15:00')];
    expect(iso(currentWindowClosing(d('2026-01-15T10:00:00Z'), windows, 'UTC'))).toBe('2026-01-15T12:00:00.000Z');
    expect(isWithinSendWindow(d('2026-01-15T12:00:30Z'), windows, 'UTC')).toBe(false);
    expect(iso(nextWindowOpening(d('2026-01-15T12:00:30Z'), windows, 'UTC'))).toBe('2026-01-15T12:01:00.000Z');
  });
});

describe('any time', () => {
  const now = d('2026-03-08T07:30:00.123Z');

  it.each([
    ['an empty list', []],
    ['00:00-00:00', [w('00:00', '00:00')]],
    ['00:00-24:00', [w('00:00', '24:00')]],
    ['an all-day window next to others', [w('09:00', '10:00'), w('0:00', '0:00')]],
  ])('%s is always open and never closes', (_name, windows: SendWindow[]) => {
    expect(isWithinSendWindow(now, windows, 'America/New_York')).toBe(true);
    expect(iso(nextWindowOpening(now, windows, 'America/New_York'))).toBe('2026-03-08T07:30:00.123Z');
    expect(currentWindowClosing(now, windows, 'America/New_York')).toBeNull();
  });

  it('does not consult the time zone when there is no restriction', () => {
    expect(isWithinSendWindow(now, [], 'Not/AZone')).toBe(true);
    expect(iso(nextWindowOpening(now, [], 'Not/AZone'))).toBe('2026-03-08T07:30:00.123Z');
  });

  it('windows covering the whole day never close', () => {
    for (const windows of [
      [w('00:00', '12:00'), w('12:00', '24:00')],
      [w('22:00', '02:00'), w('02:00', '22:00')],
      [w('06:00', '06:01'), w('06:01', '06:00')],
    ]) {
      expect(isWithinSendWindow(now, windows, 'Europe/Berlin')).toBe(true);
      expect(currentWindowClosing(now, windows, 'Europe/Berlin')).toBeNull();
      expect(currentWindowClosing(now, windows, 'America/New_York')).toBeNull();
    }
  });

  it('nextWindowOpening returns a copy, not the argument', () => {
    const result = nextWindowOpening(now, [], 'UTC');
    expect(result).not.toBe(now);
    expect(result.getTime()).toBe(now.getTime());
  });
});

describe('America/New_York around DST', () => {
  const tz = 'America/New_York';

  it('spring forward: a window starting at 02:30 opens at 03:00 EDT', () => {
    const windows = [w('02:30', '05:00')];
    // the day before: 02:30 EST
    expect(iso(nextWindowOpening(d('2026-03-07T06:00:00Z'), windows, tz))).toBe('2026-03-07T07:30:00.000Z');
    // 01:30 EST on the DST day
    expect(iso(nextWindowOpening(d('2026-03-08T06:30:00Z'), windows, tz))).toBe('2026-03-08T07:00:00.000Z');
    expect(isWithinSendWindow(d('2026-03-08T06:59:59.999Z'), windows, tz)).toBe(false);
    expect(isWithinSendWindow(d('2026-03-08T07:00:00Z'), windows, tz)).toBe(true);
    expect(iso(currentWindowClosing(d('2026-03-08T07:00:00Z'), windows, tz))).toBe('2026-03-08T09:00:00.000Z');
    // the day after: 02:30 EDT
    expect(iso(nextWindowOpening(d('2026-03-08T09:00:00Z'), windows, tz))).toBe('2026-03-09T06:30:00.000Z');
  });

  it('spring forward: a window inside the skipped hour does not open that day', () => {
    const windows = [w('02:15', '02:45')];
    expect(iso(nextWindowOpening(d('2026-03-08T05:00:00Z'), windows, tz))).toBe('2026-03-09T06:15:00.000Z');
    expect(isWithinSendWindow(d('2026-03-08T07:00:00Z'), windows, tz)).toBe(false);
  });

  it('spring forward: a night window ending in the skipped hour ends at the jump', () => {
    const windows = [w('22:00', '02:30')];
    expect(iso(currentWindowClosing(d('2026-03-08T05:00:00Z'), windows, tz))).toBe('2026-03-08T07:00:00.000Z');
    expect(isWithinSendWindow(d('2026-03-08T07:00:00Z'), windows, tz)).toBe(false);
    // the night window is one hour shorter: 22:00 EST -> 03:00 EDT = 4h
    expect(iso(nextWindowOpening(d('2026-03-07T12:00:00Z'), windows, tz))).toBe('2026-03-08T03:00:00.000Z');
  });

  it('spring forward: a day window shifts by the offset change', () => {
    const windows = [w('09:00', '17:00')];
    expect(iso(nextWindowOpening(d('2026-03-07T22:00:00Z'), windows, tz))).toBe('2026-03-08T13:00:00.000Z');
    expect(iso(currentWindowClosing(d('2026-03-07T15:00:00Z'), windows, tz))).toBe('2026-03-07T22:00:00.000Z');
    expect(iso(currentWindowClosing(d('2026-03-08T15:00:00Z'), windows, tz))).toBe('2026-03-08T21:00:00.000Z');
  });

  it('walks window by window across the DST change', () => {
    const windows = [w('09:00', '17:00')];
    const openings: string[] = [];
    let at = d('2026-03-05T00:00:00Z');
    for (let i = 0; i < 6; i++) {
      const opening = nextWindowOpening(at, windows, tz);
      openings.push(opening.toISOString());
      at = currentWindowClosing(opening, windows, tz) as Date;
    }
    expect(openings).toEqual([
      '2026-03-05T14:00:00.000Z',
      '2026-03-06T14:00:00.000Z',
      '2026-03-07T14:00:00.000Z',
      '2026-03-08T13:00:00.000Z',
      '2026-03-09T13:00:00.000Z',
      '2026-03-10T13:00:00.000Z',
    ]);
  });

  it('fall back: a window starting in the repeated hour uses the first occurrence and is one hour longer', () => {
    const windows = [w('01:30', '03:00')];
    expect(iso(nextWindowOpening(d('2026-11-01T04:00:00Z'), windows, tz))).toBe('2026-11-01T05:30:00.000Z');
    expect(iso(currentWindowClosing(d('2026-11-01T05:30:00Z'), windows, tz))).toBe('2026-11-01T08:00:00.000Z');
    // 01:15 EST (second pass through 01:xx) is still inside: the window opened at 01:30 EDT
    expect(isWithinSendWindow(d('2026-11-01T06:15:00Z'), windows, tz)).toBe(true);
    expect(isWithinSendWindow(d('2026-11-01T07:59:59Z'), windows, tz)).toBe(true);
    expect(isWithinSendWindow(d('2026-11-01T08:00:00Z'), windows, tz)).toBe(false);
    // next day back to 1.5 hours: 01:30 EST -> 03:00 EST
    expect(iso(nextWindowOpening(d('2026-11-01T08:00:00Z'), windows, tz))).toBe('2026-11-02T06:30:00.000Z');
    expect(iso(currentWindowClosing(d('2026-11-02T06:30:00Z'), windows, tz))).toBe('2026-11-02T08:00:00.000Z');
  });

  it('fall back: a night window spanning the change is one hour longer', () => {
    const windows = [w('00:00', '06:00')];
    expect(iso(nextWindowOpening(d('2026-10-31T12:00:00Z'), windows, tz))).toBe('2026-11-01T04:00:00.000Z');
    expect(iso(currentWindowClosing(d('2026-11-01T04:00:00Z'), windows, tz))).toBe('2026-11-01T11:00:00.000Z');
    expect(isWithinSendWindow(d('2026-11-01T10:59:59Z'), windows, tz)).toBe(true);
    expect(isWithinSendWindow(d('2026-11-01T11:00:00Z'), windows, tz)).toBe(false);
  });

  it('fall back: a day window is unaffected apart from the offset', () => {
    const windows = [w('09:00', '17:00')];
    expect(iso(nextWindowOpening(d('2026-10-31T21:00:00Z'), windows, tz))).toBe('2026-11-01T14:00:00.000Z');
    expect(iso(currentWindowClosing(d('2026-10-31T20:00:00Z'), windows, tz))).toBe('2026-10-31T21:00:00.000Z');
    expect(iso(currentWindowClosing(d('2026-11-01T14:00:00Z'), windows, tz))).toBe('2026-11-01T22:00:00.000Z');
  });

  it('a gap eaten by the DST jump joins two windows for one night', () => {
    // 02:00-03:00 does not exist on 2026-03-08, so 00:00-02:00 and 03:00-24:00 touch that night
    const windows = [w('00:00', '02:00'), w('03:00', '24:00')];
    expect(isWithinSendWindow(d('2026-03-07T07:30:00Z'), windows, tz)).toBe(false);
    expect(iso(currentWindowClosing(d('2026-03-07T20:00:00Z'), windows, tz))).toBe('2026-03-09T06:00:00.000Z');
    expect(iso(nextWindowOpening(d('2026-03-09T06:00:00Z'), windows, tz))).toBe('2026-03-09T07:00:00.000Z');
  });
});

describe('Europe/Berlin around DST', () => {
  const tz = 'Europe/Berlin';

  it('spring forward: a window starting at 02:30 opens at 03:00 CEST', () => {
    const windows = [w('02:30', '04:00')];
    expect(iso(nextWindowOpening(d('2026-03-29T00:00:00Z'), windows, tz))).toBe('2026-03-29T01:00:00.000Z');
    expect(isWithinSendWindow(d('2026-03-29T00:59:59Z'), windows, tz)).toBe(false);
    expect(isWithinSendWindow(d('2026-03-29T01:00:00Z'), windows, tz)).toBe(true);
    expect(iso(currentWindowClosing(d('2026-03-29T01:00:00Z'), windows, tz))).toBe('2026-03-29T02:00:00.000Z');
    expect(iso(nextWindowOpening(d('2026-03-28T00:00:00Z'), windows, tz))).toBe('2026-03-28T01:30:00.000Z');
    expect(iso(nextWindowOpening(d('2026-03-29T02:00:00Z'), windows, tz))).toBe('2026-03-30T00:30:00.000Z');
  });

  it('spring forward: office hours move one hour earlier in UTC', () => {
    const windows = [w('09:00', '18:00')];
    expect(iso(nextWindowOpening(d('2026-03-28T17:00:00Z'), windows, tz))).toBe('2026-03-29T07:00:00.000Z');
    expect(iso(currentWindowClosing(d('2026-03-29T07:00:00Z'), windows, tz))).toBe('2026-03-29T16:00:00.000Z');
  });

  it('spring forward: a night window is one hour shorter', () => {
    const windows = [w('22:00', '06:00')];
    expect(iso(currentWindowClosing(d('2026-03-28T21:00:00Z'), windows, tz))).toBe('2026-03-29T04:00:00.000Z');
  });

  it('fall back: a window starting at 02:30 uses the first (CEST) occurrence', () => {
    const windows = [w('02:30', '04:00')];
    expect(iso(nextWindowOpening(d('2026-10-24T22:00:00Z'), windows, tz))).toBe('2026-10-25T00:30:00.000Z');
    expect(iso(currentWindowClosing(d('2026-10-25T00:30:00Z'), windows, tz))).toBe('2026-10-25T03:00:00.000Z');
    // 02:10 CET, the second 02:10 of the night, is inside
    expect(isWithinSendWindow(d('2026-10-25T01:10:00Z'), windows, tz)).toBe(true);
  });

  it('fall back: a night window is one hour longer', () => {
    const windows = [w('22:00', '06:00')];
    expect(iso(nextWindowOpening(d('2026-10-24T12:00:00Z'), windows, tz))).toBe('2026-10-24T20:00:00.000Z');
    expect(iso(currentWindowClosing(d('2026-10-24T20:00:00Z'), windows, tz))).toBe('2026-10-25T05:00:00.000Z');
    expect(isWithinSendWindow(d('2026-10-25T04:59:59.999Z'), windows, tz)).toBe(true);
    expect(isWithinSendWindow(d('2026-10-25T05:00:00Z'), windows, tz)).toBe(false);
    expect(iso(nextWindowOpening(d('2026-10-25T05:00:00Z'), windows, tz))).toBe('2026-10-25T21:00:00.000Z');
  });

  it('fall back: a window ending in the repeated hour ends at its first occurrence', () => {
    const windows = [w('01:00', '02:30')];
    expect(iso(currentWindowClosing(d('2026-10-24T23:00:00Z'), windows, tz))).toBe('2026-10-25T00:30:00.000Z');
    expect(isWithinSendWindow(d('2026-10-25T01:15:00Z'), windows, tz)).toBe(false);
  });
});

describe('Australia/Lord_Howe (30-minute DST)', () => {
  const tz = 'Australia/Lord_Howe';

  it('spring forward: a 02:00-03:00 window lasts 30 minutes', () => {
    const windows = [w('02:00', '03:00')];
    expect(iso(nextWindowOpening(d('2026-10-03T12:00:00Z'), windows, tz))).toBe('2026-10-03T15:30:00.000Z');
    expect(iso(currentWindowClosing(d('2026-10-03T15:30:00Z'), windows, tz))).toBe('2026-10-03T16:00:00.000Z');
    expect(iso(nextWindowOpening(d('2026-10-03T16:00:00Z'), windows, tz))).toBe('2026-10-04T15:00:00.000Z');
  });

  it('fall back: a 01:00-02:00 window lasts 90 minutes', () => {
    const windows = [w('01:00', '02:00')];
    expect(iso(nextWindowOpening(d('2026-04-04T12:00:00Z'), windows, tz))).toBe('2026-04-04T14:00:00.000Z');
    expect(iso(currentWindowClosing(d('2026-04-04T14:00:00Z'), windows, tz))).toBe('2026-04-04T15:30:00.000Z');
  });

  it('office hours follow the offset', () => {
    const windows = [w('09:00', '17:00')];
    // 19:00 (+11) in January, 18:30 (+10:30) in July -> 09:00 the next morning
    expect(iso(nextWindowOpening(d('2026-01-15T08:00:00Z'), windows, tz))).toBe('2026-01-15T22:00:00.000Z');
    expect(iso(nextWindowOpening(d('2026-07-15T08:00:00Z'), windows, tz))).toBe('2026-07-15T22:30:00.000Z');
  });
});

describe('long searches', () => {
  it('finds the next window a day later', () => {
    const windows = [w('10:00', '10:01')];
    expect(iso(nextWindowOpening(d('2026-01-15T10:01:00Z'), windows, 'UTC'))).toBe('2026-01-16T10:00:00.000Z');
  });

  it('skips a day on which the only window falls into the DST gap', () => {
    // from Friday evening: Saturday's 02:30 EST, then Sunday's is skipped, so Monday's 02:30 EDT
    const windows = [w('02:30', '02:45')];
    const tz = 'America/New_York';
    expect(iso(nextWindowOpening(d('2026-03-06T23:00:00Z'), windows, tz))).toBe('2026-03-07T07:30:00.000Z');
    expect(iso(nextWindowOpening(d('2026-03-07T07:45:00Z'), windows, tz))).toBe('2026-03-09T06:30:00.000Z');
  });

  it('a window covering 23 hours closes at its one-hour gap the next day', () => {
    const windows = [w('02:00', '01:00')];
    expect(iso(currentWindowClosing(d('2026-01-15T03:00:00Z'), windows, 'UTC'))).toBe('2026-01-16T01:00:00.000Z');
    expect(iso(nextWindowOpening(d('2026-01-16T01:00:00Z'), windows, 'UTC'))).toBe('2026-01-16T02:00:00.000Z');
  });

  it(`a union open for ${SEND_WINDOW_SEARCH_DAYS} days or more is reported as never closing`, () => {
    // 00:00-02:00 + 02:00-24:00 every day: no gap at all, also not on the DST nights
    const windows = [w('02:00', '24:00'), w('00:00', '02:00')];
    expect(currentWindowClosing(d('2026-03-05T12:00:00Z'), windows, 'America/New_York')).toBeNull();
    expect(currentWindowClosing(d('2026-10-30T12:00:00Z'), windows, 'America/New_York')).toBeNull();
  });
});

describe('invalid input at run time', () => {
  it('throws on invalid windows', () => {
    expect(() => isWithinSendWindow(d('2026-01-15T10:00:00Z'), [w('9', '10:00')], 'UTC')).toThrow(
      'Invalid send windows: sendWindows[0].from: Invalid window time "9": expected "HH:MM" or "H:MM", e.g. "09:00"',
    );
    expect(() => nextWindowOpening(d('2026-01-15T10:00:00Z'), [w('10:00', '10:00')], 'UTC')).toThrow(/Invalid send windows: sendWindows\[0\]/);
    expect(() => currentWindowClosing(d('2026-01-15T10:00:00Z'), [w('24:00', '10:00')], 'UTC')).toThrow(/Invalid send windows/);
  });

  it('throws a RangeError on an unknown time zone', () => {
    for (const call of [isWithinSendWindow, nextWindowOpening, currentWindowClosing]) {
      expect(() => call(d('2026-01-15T10:00:00Z'), MOSCOW_DAY, 'Europe/Atlantis')).toThrow(RangeError);
      expect(() => call(d('2026-01-15T10:00:00Z'), MOSCOW_DAY, 'Europe/Atlantis')).toThrow('Unknown time zone "Europe/Atlantis"');
    }
  });

  it('throws on an invalid date', () => {
    expect(() => isWithinSendWindow(new Date('nope'), MOSCOW_DAY, 'UTC')).toThrow('Invalid instant Invalid Date');
    expect(() => nextWindowOpening(new Date(Number.NaN), [], 'UTC')).toThrow(RangeError);
    expect(() => currentWindowClosing('2026-01-15' as unknown as Date, MOSCOW_DAY, 'UTC')).toThrow('Invalid instant "2026-01-15"');
  });
});

describe('determinism', () => {
  afterEach(() => jest.restoreAllMocks());

  it('never reads the clock', () => {
    jest.spyOn(Date, 'now').mockImplementation(() => {
      throw new Error('Date.now() called');
    });
    const at = d('2026-03-08T06:30:00Z');
    expect(isWithinSendWindow(at, MOSCOW_DAY, 'America/New_York')).toBe(false);
    expect(iso(nextWindowOpening(at, MOSCOW_DAY, 'America/New_York'))).toBe('2026-03-08T13:00:00.000Z');
    expect(iso(currentWindowClosing(d('2026-03-08T13:00:00Z'), MOSCOW_DAY, 'America/New_York'))).toBe('2026-03-08T17:00:00.000Z');
    expect(validateSendWindows(MOSCOW_DAY, 'America/New_York')).toEqual([]);
  });

  it('gives the same answer on repeated calls and does not mutate its arguments', () => {
    const windows = [w('22:00', '02:00'), w('09:00', '13:00')];
    const snapshot = JSON.stringify(windows);
    const at = d('2026-10-25T00:30:00Z');
    const first = [isWithinSendWindow(at, windows, 'Europe/Berlin'), iso(nextWindowOpening(at, windows, 'Europe/Berlin'))];
    const second = [isWithinSendWindow(at, windows, 'Europe/Berlin'), iso(nextWindowOpening(at, windows, 'Europe/Berlin'))];
    expect(second).toEqual(first);
    // 02:30 CEST: the night window closed at 02:00 CEST (first occurrence), next is 09:00 CET
    expect(first).toEqual([false, '2026-10-25T08:00:00.000Z']);
    expect(JSON.stringify(windows)).toBe(snapshot);
    expect(at.toISOString()).toBe('2026-10-25T00:30:00.000Z');
  });
});
