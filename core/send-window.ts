/**
 * Send-window arithmetic: "may we deliver now, and if not, when?".
 *
 * A template or task carries an IANA `timezone` and `sendWindows`, local wall-clock ranges that
 * repeat every day, e.g. `[{ from: '09:00', to: '13:00' }, { from: '14:00', to: '21:00' }]`.
 *
 * Rules:
 * - An empty (or absent) list means "any time". A window `00:00`-`00:00` (or `00:00`-`24:00`) is
 *   all day. Any other window whose `from` equals its `to` is rejected by validation.
 * - `from` is inclusive, `to` is exclusive. `to` < `from` means the window crosses midnight and ends
 *   at `to` on the next local day; `to` = `00:00` is the same as `24:00`.
 * - Windows may overlap or touch; they are treated as a union.
 * - Every day's window is turned into an interval of instants `[start, end)` where both ends are
 *   resolved with {@link zonedTimeToUtc}: a wall time skipped by a DST jump resolves to the first
 *   existing instant after it (02:30 on a spring-forward day becomes 03:00 local); a wall time that
 *   happens twice resolves to its first occurrence. So a window on a fall-back day is an hour longer,
 *   one on a spring-forward day an hour shorter, and a window lying entirely inside the skipped hour
 *   does not open that day. Once a window has opened it stays open until its end instant, even if
 *   the clock is turned back to a wall time before `from` in between.
 *
 * This module runs inside Temporal workflow code: no dependencies, no I/O, no clock reads (the
 * instant is always an argument) and only `Intl.DateTimeFormat` for time zone conversion.
 */

export interface SendWindow {
  /** Local wall time the window opens at, `H:MM` or `HH:MM`, `00:00`-`23:59`. Inclusive. */
  from: string;
  /** Local wall time the window closes at, `H:MM`/`HH:MM`, `00:00`-`23:59` or `24:00`. Exclusive. */
  to: string;
}

/** Local calendar fields of an instant in a time zone. */
export interface ZonedParts {
  year: number;
  /** 1-12 */
  month: number;
  /** 1-31 */
  day: number;
  /** 0-23 */
  hour: number;
  minute: number;
  second: number;
  /** ISO weekday: 1 = Monday ... 7 = Sunday. */
  weekday: number;
}

/** How many local days ahead {@link nextWindowOpening} and {@link currentWindowClosing} look. */
export const SEND_WINDOW_SEARCH_DAYS = 8;

const MINUTES_PER_DAY = 24 * 60;
const MS_PER_SECOND = 1000;
const MS_PER_MINUTE = 60 * MS_PER_SECOND;
const MS_PER_DAY = MINUTES_PER_DAY * MS_PER_MINUTE;

const WINDOW_TIME = /^(\d{1,2}):(\d{2})$/;

/**
 * Parses a window boundary into minutes since local midnight.
 * Accepts `H:MM` and `HH:MM` from `00:00` to `23:59`; `24:00` (= 1440) only when `boundary` is `'to'`.
 * @throws Error with a message naming the offending value.
 */
export function parseWindowTime(hhmm: string, boundary: 'from' | 'to' = 'from'): number {
  if (typeof hhmm !== 'string') {
    throw new Error(`Invalid window time ${describeValue(hhmm)}: expected a string "HH:MM"`);
  }
  const match = WINDOW_TIME.exec(hhmm);
  if (!match) {
    throw new Error(`Invalid window time "${hhmm}": expected "HH:MM" or "H:MM", e.g. "09:00"`);
  }
  const hours = Number(match[1]);
  const minutes = Number(match[2]);
  if (hours === 24 && minutes === 0) {
    if (boundary === 'to') return MINUTES_PER_DAY;
    throw new Error(`Invalid window time "${hhmm}": "24:00" is only allowed as the end ("to") of a window`);
  }
  if (hours > 23) throw new Error(`Invalid window time "${hhmm}": hours must be between 00 and 23`);
  if (minutes > 59) throw new Error(`Invalid window time "${hhmm}": minutes must be between 00 and 59`);
  return hours * 60 + minutes;
}

/**
 * Checks a send window list and its time zone. Returns human-readable problems; empty means valid.
 * The time zone is always checked, even for an empty ("any time") list.
 */
export function validateSendWindows(windows: SendWindow[], timezone: string): string[] {
  const problems: string[] = [];
  const zoneProblem = timeZoneProblem(timezone);
  if (zoneProblem) problems.push(zoneProblem);
  problems.push(...normalizeWindows(windows).problems);
  return problems;
}

/** Whether `at` lies inside one of the windows. Empty or all-day windows: always true (the time zone is then not consulted). */
export function isWithinSendWindow(at: Date, windows: SendWindow[], timezone: string): boolean {
  const t = instantOf(at);
  const normalized = requireValidWindows(windows);
  if (normalized.anyTime) return true;
  const days = new WindowDays(t, normalized.windows, timezone);
  return [...days.intervals(-1), ...days.intervals(0)].some((iv) => iv.start <= t && t < iv.end);
}

/**
 * `at` (as a new Date) when it is inside a window or the windows are empty/all day; otherwise the
 * instant the next window opens. Looks {@link SEND_WINDOW_SEARCH_DAYS} local days ahead; throws if
 * nothing opens in that span (only possible if every window is swallowed by DST gaps).
 */
export function nextWindowOpening(at: Date, windows: SendWindow[], timezone: string): Date {
  const t = instantOf(at);
  const normalized = requireValidWindows(windows);
  if (normalized.anyTime) return new Date(t);
  const days = new WindowDays(t, normalized.windows, timezone);
  let next = Number.POSITIVE_INFINITY;
  for (let day = -1; day <= SEND_WINDOW_SEARCH_DAYS; day++) {
    for (const iv of days.intervals(day)) {
      if (iv.start <= t && t < iv.end) return new Date(t);
      if (iv.start > t && iv.start < next) next = iv.start;
    }
    // Windows of later days start no earlier than this day's windows, so they neither contain `at` nor open sooner.
    if (day >= 0 && next !== Number.POSITIVE_INFINITY) return new Date(next);
  }
  throw new Error(`No send window opens within ${SEND_WINDOW_SEARCH_DAYS} days after ${new Date(t).toISOString()} in ${timezone}`);
}

/**
 * When `at` is inside a window: the instant the union of windows containing `at` closes (touching
 * and overlapping windows, also across midnight, are chained). Returns null when the windows are
 * empty or all day, or when the union stays open for at least {@link SEND_WINDOW_SEARCH_DAYS} days.
 * @throws Error when `at` is not inside a window (check {@link isWithinSendWindow} first).
 */
export function currentWindowClosing(at: Date, windows: SendWindow[], timezone: string): Date | null {
  const t = instantOf(at);
  const normalized = requireValidWindows(windows);
  if (normalized.anyTime) return null;
  const days = new WindowDays(t, normalized.windows, timezone);
  const intervals = [...days.intervals(-1), ...days.intervals(0)];
  let end = Number.NEGATIVE_INFINITY;
  for (const iv of intervals) {
    if (iv.start <= t && t < iv.end && iv.end > end) end = iv.end;
  }
  if (end === Number.NEGATIVE_INFINITY) {
    throw new Error(`${new Date(t).toISOString()} is not inside a send window in ${timezone}; check isWithinSendWindow first`);
  }
  const horizon = t + SEND_WINDOW_SEARCH_DAYS * MS_PER_DAY;
  for (let day = 1; ; day++) {
    intervals.sort((a, b) => a.start - b.start);
    for (const iv of intervals) {
      if (iv.start > end) break;
      if (iv.end > end) end = iv.end;
    }
    if (end >= horizon) return null;
    // Windows of `day` and later start at or after that day's midnight.
    if (end < days.instant(day, 0) || day > SEND_WINDOW_SEARCH_DAYS + 1) return new Date(end);
    intervals.push(...days.intervals(day));
  }
}

/**
 * The instant at which the local wall clock in `timezone` first shows `minutesOfDay` on the given
 * local date (`month` 1-12; out-of-range days/minutes roll over like `Date.UTC`, so 1440 minutes is
 * the next day's 00:00). A skipped wall time (DST gap) resolves to the first existing instant after
 * it, i.e. the transition instant; a repeated wall time (DST overlap) to its first occurrence.
 */
export function zonedTimeToUtc(year: number, month: number, day: number, minutesOfDay: number, timezone: string): Date {
  for (const [name, value] of [['year', year], ['month', month], ['day', day], ['minutesOfDay', minutesOfDay]] as const) {
    if (!Number.isInteger(value)) throw new RangeError(`zonedTimeToUtc: ${name} must be an integer, got ${describeValue(value)}`);
  }
  return new Date(new LocalClock(timezone).firstInstantAtOrAfter(utcFields(year, month - 1, day, 0, minutesOfDay, 0)));
}

/** Local calendar fields of `at` in `timezone` (seconds truncated, milliseconds dropped). */
export function utcToZonedParts(at: Date, timezone: string): ZonedParts {
  const t = instantOf(at);
  const parts = formatterFor(timezone).formatToParts(new Date(t));
  const field = (type: Intl.DateTimeFormatPartTypes): number => {
    const part = parts.find((p) => p.type === type);
    if (!part) throw new Error(`Intl.DateTimeFormat returned no ${type} for ${timezone}`);
    return Number(part.value);
  };
  const year = field('year');
  const month = field('month');
  const day = field('day');
  const weekday = new Date(utcFields(year, month - 1, day, 0, 0, 0)).getUTCDay();
  return {
    year,
    month,
    day,
    hour: field('hour') % 24, // some ICU versions print midnight as "24" despite h23
    minute: field('minute'),
    second: field('second'),
    weekday: weekday === 0 ? 7 : weekday,
  };
}

// ---------------------------------------------------------------------------------------------

interface MinuteWindow {
  from: number;
  /** 1..1440, exclusive; `to <= from` means the window ends on the next day. */
  to: number;
}

interface NormalizedWindows {
  /** Empty list or an all-day window: no restriction at all. */
  anyTime: boolean;
  windows: MinuteWindow[];
  problems: string[];
}

interface Interval {
  start: number;
  end: number;
}

function normalizeWindows(windows: unknown): NormalizedWindows {
  if (windows === undefined || windows === null) return { anyTime: true, windows: [], problems: [] };
  if (!Array.isArray(windows)) {
    return { anyTime: false, windows: [], problems: [`sendWindows must be a list of {from, to}, got ${describeValue(windows)}`] };
  }
  const problems: string[] = [];
  const result: MinuteWindow[] = [];
  let allDay = false;
  windows.forEach((window: unknown, index) => {
    const label = `sendWindows[${index}]`;
    if (typeof window !== 'object' || window === null || Array.isArray(window)) {
      problems.push(`${label} must be an object {from: "HH:MM", to: "HH:MM"}, got ${describeValue(window)}`);
      return;
    }
    const { from: rawFrom, to: rawTo } = window as Record<string, unknown>;
    const from = parseOrReport(rawFrom, 'from', label, problems);
    const to = parseOrReport(rawTo, 'to', label, problems);
    if (from === undefined || to === undefined) return;
    const end = to === 0 ? MINUTES_PER_DAY : to;
    if (from === 0 && end === MINUTES_PER_DAY) {
      allDay = true;
    } else if (from === to) {
      problems.push(
        `${label}: "from" and "to" are both "${String(rawFrom)}", which is an empty window; use "00:00"-"00:00" for all day`,
      );
    } else {
      result.push({ from, to: end });
    }
  });
  return { anyTime: problems.length === 0 && (allDay || windows.length === 0), windows: result, problems };
}

function parseOrReport(value: unknown, boundary: 'from' | 'to', label: string, problems: string[]): number | undefined {
  if (value === undefined) {
    problems.push(`${label}.${boundary} is missing`);
    return undefined;
  }
  try {
    return parseWindowTime(value as string, boundary);
  } catch (error) {
    problems.push(`${label}.${boundary}: ${(error as Error).message}`);
    return undefined;
  }
}

function requireValidWindows(windows: SendWindow[]): NormalizedWindows {
  const normalized = normalizeWindows(windows);
  if (normalized.problems.length > 0) throw new Error(`Invalid send windows: ${normalized.problems.join('; ')}`);
  return normalized;
}

/** Window intervals per local day, counted relative to the local date of `t`, computed lazily. */
class WindowDays {
  private readonly clock: LocalClock;
  private readonly year: number;
  private readonly month: number;
  private readonly day: number;

  constructor(t: number, private readonly windows: MinuteWindow[], timezone: string) {
    this.clock = new LocalClock(timezone);
    const local = utcToZonedParts(new Date(t), timezone);
    this.year = local.year;
    this.month = local.month;
    this.day = local.day;
  }

  /** Instant at which `minutes` on local day `dayOffset` begins (see {@link zonedTimeToUtc}). */
  instant(dayOffset: number, minutes: number): number {
    return this.clock.firstInstantAtOrAfter(utcFields(this.year, this.month - 1, this.day + dayOffset, 0, minutes, 0));
  }

  /** The windows opening on local day `dayOffset`, empty ones (swallowed by a DST gap) dropped. */
  intervals(dayOffset: number): Interval[] {
    const result: Interval[] = [];
    for (const window of this.windows) {
      const start = this.instant(dayOffset, window.from);
      const end = window.to > window.from ? this.instant(dayOffset, window.to) : this.instant(dayOffset + 1, window.to);
      if (end > start) result.push({ start, end });
    }
    return result;
  }
}

/** Wall-clock lookups in one time zone, memoised for the duration of one call. */
class LocalClock {
  private readonly walls = new Map<number, number>();
  private readonly instants = new Map<number, number>();

  constructor(private readonly timezone: string) {}

  /**
   * First instant at which the local clock shows `wall` (a wall time encoded as if it were UTC
   * milliseconds) or later. Candidates use the offsets one day before and after, as the Temporal
   * proposal does; if neither matches, `wall` falls into a gap and the transition is bisected.
   */
  firstInstantAtOrAfter(wall: number): number {
    let instant = this.instants.get(wall);
    if (instant === undefined) {
      instant = this.resolve(wall);
      this.instants.set(wall, instant);
    }
    return instant;
  }

  private resolve(wall: number): number {
    const offsetBefore = this.offsetAt(wall - MS_PER_DAY);
    const offsetAfter = this.offsetAt(wall + MS_PER_DAY);
    let best = Number.POSITIVE_INFINITY;
    for (const offset of offsetBefore === offsetAfter ? [offsetBefore] : [offsetBefore, offsetAfter]) {
      const candidate = wall - offset;
      if (this.wallAt(candidate) === wall && candidate < best) best = candidate;
    }
    if (best !== Number.POSITIVE_INFINITY) return best;

    // Gap: the clock jumps over `wall`. Find the first whole second whose wall time is >= `wall`.
    let lo = Math.min(wall - offsetBefore, wall - offsetAfter);
    let hi = Math.max(wall - offsetBefore, wall - offsetAfter);
    if (this.wallAt(lo) >= wall) return lo;
    while (hi - lo > MS_PER_SECOND) {
      const mid = lo + Math.floor((hi - lo) / (2 * MS_PER_SECOND)) * MS_PER_SECOND;
      if (this.wallAt(mid) >= wall) hi = mid;
      else lo = mid;
    }
    return hi;
  }

  /** Local wall time of instant `t` (whole seconds) encoded as UTC milliseconds. */
  private wallAt(t: number): number {
    let wall = this.walls.get(t);
    if (wall === undefined) {
      const p = utcToZonedParts(new Date(t), this.timezone);
      wall = utcFields(p.year, p.month - 1, p.day, p.hour, p.minute, p.second);
      this.walls.set(t, wall);
    }
    return wall;
  }

  /** UTC offset in milliseconds at instant `t`. */
  private offsetAt(t: number): number {
    return this.wallAt(t) - Math.floor(t / MS_PER_SECOND) * MS_PER_SECOND;
  }
}

/** `Date.UTC` without its mapping of years 0-99 to 1900-1999. */
function utcFields(year: number, monthIndex: number, day: number, hour: number, minute: number, second: number): number {
  const ms = Date.UTC(year, monthIndex, day, hour, minute, second);
  if (year >= 0 && year < 100) {
    const date = new Date(ms);
    date.setUTCFullYear(date.getUTCFullYear() - 1900);
    return date.getTime();
  }
  return ms;
}

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatterFor(timezone: string): Intl.DateTimeFormat {
  let formatter = formatters.get(timezone);
  if (formatter) return formatter;
  if (typeof timezone !== 'string' || timezone.trim() === '') {
    throw new RangeError(`Invalid time zone ${describeValue(timezone)}: expected an IANA name such as "Europe/Moscow"`);
  }
  try {
    formatter = new Intl.DateTimeFormat('en-US-u-ca-gregory-nu-latn', {
      timeZone: timezone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    });
  } catch {
    throw new RangeError(`Unknown time zone "${timezone}": expected an IANA name such as "Europe/Moscow"`);
  }
  formatters.set(timezone, formatter);
  return formatter;
}

/** Why `timezone` is not an IANA time zone name this runtime knows; undefined when it is one. */
export function timeZoneProblem(timezone: unknown): string | undefined {
  try {
    formatterFor(timezone as string);
    return undefined;
  } catch (error) {
    return (error as Error).message;
  }
}

function instantOf(at: Date): number {
  // Duck-typed: the Temporal workflow sandbox replaces the global Date constructor.
  const t = at !== null && typeof at === 'object' && typeof at.getTime === 'function' ? at.getTime() : Number.NaN;
  if (!Number.isFinite(t)) throw new RangeError(`Invalid instant ${describeValue(at)}: expected a valid Date`);
  return t;
}

function describeValue(value: unknown): string {
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? 'Invalid Date' : value.toISOString();
  if (typeof value === 'string') return JSON.stringify(value);
  if (value === null || value === undefined || typeof value !== 'object') return String(value);
  try {
    return JSON.stringify(value);
  } catch {
    return Object.prototype.toString.call(value);
  }
}
