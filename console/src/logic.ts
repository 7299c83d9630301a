/**
 * The console's logic that does not touch the DOM or React: what a task allows now, how filters
 * become query strings, how local dates become the API's instants. Unit-tested by
 * test/unit/console-logic.test.ts with the server's Jest setup.
 */

export type Role = 'admin' | 'operator';
export type TaskStatus = 'created' | 'in_progress' | 'paused' | 'completed' | 'canceled' | 'failed';
export type TaskCategory = 'in_progress' | 'created' | 'paused' | 'completed';
export type TaskAction = 'start' | 'pause' | 'resume' | 'cancel';

/** The category buttons of the task list, in the CRM's order. */
export const TASK_CATEGORIES: readonly TaskCategory[] = ['in_progress', 'created', 'paused', 'completed'];

/** The six task files of `GET /api/v1/task-files/:type`. */
export const TASK_FILE_TYPES = ['sms', 'sponsored', 'chat', 'whatsapp-chat', 'universal', 'full'] as const;
export type TaskFileType = (typeof TASK_FILE_TYPES)[number];

export const CHANNELS = ['sms', 'email', 'push', 'viber', 'whatsapp', 'chat'] as const;
export const MESSAGE_STATUSES = ['CREATED', 'QUEUED', 'DELAYED', 'PAUSED', 'SENT', 'PENDING', 'DELIVERED', 'READ', 'UNDELIVERED', 'ERROR', 'CANCELED', 'SKIPPED'] as const;
export type MessageStatus = (typeof MESSAGE_STATUSES)[number];

/** Which control buttons a task in this status offers (the API answers 409 to the others). */
export function taskActions(status: string): Record<TaskAction, boolean> {
  return {
    start: status === 'created',
    pause: status === 'in_progress',
    resume: status === 'paused',
    cancel: status === 'created' || status === 'in_progress' || status === 'paused',
  };
}

/** A task that has ended changes no more: its counts need no polling. */
export const isTaskEnded = (status: string) => status === 'completed' || status === 'canceled' || status === 'failed';

/** Whether a task's start time and file can still be changed (PATCH answers 409 once it started). */
export const canEditSchedule = (status: string) => status === 'created';

/** What only an admin key may do (the API answers 403 to an operator's). */
export type AdminAction = 'approveSender' | 'rejectSender' | 'enableChannel' | 'disableChannel' | 'manageApiKeys';
export function may(role: Role | undefined, action: AdminAction | 'operate'): boolean {
  if (action === 'operate') return role === 'admin' || role === 'operator';
  return role === 'admin';
}

/**
 * The role of a key, from the answer to `GET /api/v1/api-keys` (admin only): there is no endpoint
 * that tells a key its role, so 200 means admin, 403 operator, 401 a key the API does not know.
 */
export function roleFromProbe(status: number): Role | 'invalid' | 'unknown' {
  if (status === 200) return 'admin';
  if (status === 403) return 'operator';
  if (status === 401) return 'invalid';
  return 'unknown';
}

/** A query string of the filters that have a value (`?a=1&b=x`, or '' when none has). */
export function toQuery(params: Record<string, string | number | boolean | null | undefined>): string {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value === undefined || value === null || value === '') continue;
    search.set(key, String(value));
  }
  const text = search.toString();
  return text ? `?${text}` : '';
}

const pad = (n: number, width = 2) => String(n).padStart(width, '0');

/**
 * A local wall time `YYYY-MM-DD` or `YYYY-MM-DD HH:mm[:ss]` (as Mantine's pickers give it) in the
 * browser's time zone, as an ISO instant; `endOfDay` takes the last millisecond of a bare date.
 */
export function localToIso(value: string | null | undefined, options: { endOfDay?: boolean } = {}): string | undefined {
  if (!value) return undefined;
  const match = /^(\d{4})-(\d{2})-(\d{2})(?:[ T](\d{2}):(\d{2})(?::(\d{2}))?)?$/.exec(value.trim());
  if (!match) return undefined;
  const [, y, mo, d, h, mi, s] = match;
  const withTime = h !== undefined;
  const date = withTime
    ? new Date(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s ?? 0), 0)
    : options.endOfDay
      ? new Date(Number(y), Number(mo) - 1, Number(d), 23, 59, 59, 999)
      : new Date(Number(y), Number(mo) - 1, Number(d), 0, 0, 0, 0);
  return Number.isNaN(date.getTime()) ? undefined : date.toISOString();
}

/** An ISO instant as the local `YYYY-MM-DD HH:mm:ss` that Mantine's DateTimePicker takes. */
export function isoToLocal(iso: string | null | undefined): string | null {
  if (!iso) return null;
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return null;
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

/** An instant in the browser's time zone, in the interface language. */
export function formatDateTime(iso: string | null | undefined, lang: string, timeZone?: string): string {
  if (!iso) return '—';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return '—';
  return new Intl.DateTimeFormat(lang === 'ru' ? 'ru-RU' : 'en-GB', {
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
    timeZone,
  }).format(d);
}

/** `HH:MM` of a 24-hour clock. */
export const isClockTime = (value: string) => /^([01]\d|2[0-3]):[0-5]\d$/.test(value);

/** Problems of a time limiter as typed: each window needs both ends in HH:MM. Empty = any time. */
export function sendWindowProblems(windows: { from: string; to: string }[]): string[] {
  const problems: string[] = [];
  windows.forEach((w, i) => {
    if (!isClockTime(w.from) || !isClockTime(w.to)) problems.push(`window ${i + 1}: from and to as HH:MM`);
    else if (w.from === w.to) problems.push(`window ${i + 1}: from and to must differ`);
  });
  return problems;
}

/** The phone numbers in a pasted text: one per line, or separated by commas, semicolons or spaces
 * between numbers; duplicates once. */
export function parsePhones(text: string): string[] {
  const seen = new Set<string>();
  for (const line of text.split(/[\n\r,;\t]+/)) {
    // Spaces inside a number ("+7 999 000-00-01") are kept; several numbers on a line need separators.
    const phone = line.trim();
    if (phone) seen.add(phone);
  }
  return [...seen];
}

/** Per-status counts in the lifecycle's order (unknown statuses last), without zeros. */
export function orderedCounts(counts: Record<string, number> | undefined): [string, number][] {
  const entries = Object.entries(counts ?? {}).filter(([, n]) => n > 0);
  const rank = (s: string) => {
    const i = (MESSAGE_STATUSES as readonly string[]).indexOf(s);
    return i < 0 ? MESSAGE_STATUSES.length : i;
  };
  return entries.sort(([a], [b]) => rank(a) - rank(b) || a.localeCompare(b));
}

/** Messages that reached an end (delivered, read, failed, canceled, skipped) out of all. */
export function progressOf(counts: Record<string, number> | undefined): { done: number; total: number; percent: number } {
  const final = new Set(['DELIVERED', 'READ', 'UNDELIVERED', 'ERROR', 'CANCELED', 'SKIPPED']);
  let done = 0;
  let total = 0;
  for (const [status, n] of Object.entries(counts ?? {})) {
    total += n;
    if (final.has(status)) done += n;
  }
  return { done, total, percent: total === 0 ? 0 : Math.round((done / total) * 100) };
}

/** Mantine colour of a message status. */
export function statusColor(status: string): string {
  switch (status) {
    case 'DELIVERED':
    case 'READ':
    case 'completed':
      return 'green';
    case 'UNDELIVERED':
    case 'ERROR':
    case 'failed':
      return 'red';
    case 'CANCELED':
    case 'SKIPPED':
    case 'canceled':
      return 'gray';
    case 'PAUSED':
    case 'paused':
      return 'yellow';
    case 'DELAYED':
      return 'orange';
    case 'SENT':
    case 'PENDING':
    case 'in_progress':
      return 'blue';
    default:
      return 'indigo';
  }
}

/** The file name a download should get: Content-Disposition's, else the fallback. */
export function fileNameFromDisposition(header: string | null | undefined, fallback: string): string {
  if (!header) return fallback;
  const star = /filename\*=(?:UTF-8'')?([^;]+)/i.exec(header);
  if (star) {
    try {
      return decodeURIComponent(star[1]!.trim().replace(/^"|"$/g, ''));
    } catch {
      /* the plain name below */
    }
  }
  const plain = /filename="?([^";]+)"?/i.exec(header);
  return plain ? plain[1]!.trim() : fallback;
}

/** The API's error body (`{"error": {code, message, details}}`) as one line per problem. */
export function errorLines(body: unknown, fallback: string): string[] {
  const error = (body as { error?: { message?: string; details?: { path?: string; message?: string }[] } } | null)?.error;
  if (!error?.message) return [fallback];
  const details = (error.details ?? []).map((d) => (d.path ? `${d.path}: ${d.message ?? ''}` : (d.message ?? ''))).filter(Boolean);
  return [error.message, ...details];
}
