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

// ---- Templates (phase 2) ----

export type Channel = (typeof CHANNELS)[number];
export const CHAT_MESSENGERS = ['whatsapp', 'viber', 'facebook', 'telegram', 'skype', 'slack', 'alice', 'imessage'] as const;

/** A channel field as the API's template schema has it (api/schemas.ts): its name, whether it is
 * required, and how it is typed in (`pairs`: WhatsApp's templateData as `key=value` lines). */
export interface ChannelField {
  name: string;
  required: boolean;
  kind: 'line' | 'text' | 'messenger' | 'pairs';
  /** Holds `{variable}` placeholders (the fields the API reads variables from). */
  variables: boolean;
  max?: number;
}

const f = (name: string, required: boolean, kind: ChannelField['kind'], variables: boolean, max?: number): ChannelField => ({ name, required, kind, variables, max });

export const CHANNEL_FIELDS: Readonly<Record<Channel, readonly ChannelField[]>> = {
  sms: [f('sender', true, 'line', false, 16), f('text', true, 'text', true, 5000)],
  email: [f('sender', true, 'line', false, 320), f('subject', true, 'line', true, 998), f('text', true, 'text', true, 500_000)],
  push: [f('sender', true, 'line', false, 100), f('text', true, 'text', true, 4000)],
  viber: [f('sender', true, 'line', false, 100), f('text', true, 'text', true, 1000), f('imageUrl', false, 'line', true), f('buttonUrl', false, 'line', true), f('buttonText', false, 'line', true, 30)],
  whatsapp: [f('sender', true, 'line', false, 100), f('templateName', true, 'line', false, 512), f('templateNamespace', false, 'line', false, 200), f('templateData', false, 'pairs', true), f('language', true, 'line', false), f('mediaUrl', false, 'line', true)],
  chat: [f('chatId', true, 'line', false, 200), f('botId', true, 'line', false, 200), f('messenger', true, 'messenger', false), f('text', true, 'text', true, 4096)],
};

/** One channel of a template as edited: every field as typed (strings). */
export interface ChannelDraft {
  channel: Channel;
  mandatory: boolean;
  lifetimeMinutes: string;
  shortenLinks: boolean;
  fields: Record<string, string>;
}

export interface TemplateDraft {
  name: string;
  timezone: string;
  sendWindows: { from: string; to: string }[];
  channels: ChannelDraft[];
}

/** A saved template as the API returns it. */
export interface Template {
  id: string;
  name: string;
  timezone: string;
  sendWindows: { from: string; to: string }[];
  channels: Record<string, unknown>[];
  variables: string[];
  createdAt: string;
  updatedAt: string;
}

/** A new channel: the API's defaults (mandatory only as the first, a day's lifetime). */
export function newChannelDraft(channel: Channel, position: number): ChannelDraft {
  return { channel, mandatory: position === 0, lifetimeMinutes: '1440', shortenLinks: false, fields: channel === 'chat' ? { messenger: 'telegram' } : {} };
}

export const emptyTemplateDraft = (timezone = 'UTC'): TemplateDraft => ({ name: '', timezone, sendWindows: [], channels: [newChannelDraft('sms', 0)] });

/** `key=value` lines ↔ an object (WhatsApp's templateData). */
export function parsePairs(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split(/\r?\n/)) {
    const eq = line.indexOf('=');
    if (eq < 0) continue;
    const key = line.slice(0, eq).trim();
    if (key) out[key] = line.slice(eq + 1).trim();
  }
  return out;
}
export const formatPairs = (data: Record<string, unknown> | undefined) =>
  Object.entries(data ?? {})
    .map(([k, v]) => `${k}=${String(v)}`)
    .join('\n');

/** The `{name}` placeholders of the texts, as the API finds them (core/render.ts), sorted, once each. */
export function detectVariables(texts: (string | undefined | null)[]): string[] {
  const names = new Set<string>();
  for (const text of texts) {
    if (!text) continue;
    for (const match of text.matchAll(/\{([A-Za-z_][A-Za-z0-9_.-]*)\}/g)) names.add(match[1]!);
  }
  return [...names].sort();
}

/** The texts of a draft that may hold placeholders (the API's channelTexts). */
export function draftTexts(draft: TemplateDraft): string[] {
  return draft.channels.flatMap((c) =>
    CHANNEL_FIELDS[c.channel].filter((field) => field.variables).flatMap((field) => (field.kind === 'pairs' ? Object.values(parsePairs(c.fields[field.name] ?? '')) : [c.fields[field.name] ?? ''])),
  );
}

/** The request body of `POST|PUT /api/v1/templates` for a draft: empty optional fields left out. */
export function draftToBody(draft: TemplateDraft): Record<string, unknown> {
  return {
    name: draft.name.trim(),
    timezone: draft.timezone || 'UTC',
    sendWindows: draft.sendWindows,
    channels: draft.channels.map((c) => {
      const body: Record<string, unknown> = { channel: c.channel, mandatory: c.mandatory, shortenLinks: c.shortenLinks };
      const lifetime = Number(c.lifetimeMinutes);
      body.lifetimeMinutes = c.lifetimeMinutes.trim() === '' || Number.isNaN(lifetime) ? c.lifetimeMinutes : lifetime;
      for (const field of CHANNEL_FIELDS[c.channel]) {
        const value = c.fields[field.name] ?? '';
        if (field.kind === 'pairs') {
          body[field.name] = parsePairs(value);
          continue;
        }
        // An empty required field is still sent, so the API names it; an empty optional one is left out.
        if (value.trim() === '' && !field.required) continue;
        body[field.name] = value;
      }
      return body;
    }),
  };
}

/** A saved template as a draft to edit. */
export function templateToDraft(template: Pick<Template, 'name' | 'timezone' | 'sendWindows' | 'channels'>): TemplateDraft {
  return {
    name: template.name,
    timezone: template.timezone,
    sendWindows: template.sendWindows.map((w) => ({ from: w.from, to: w.to })),
    channels: template.channels.map((raw, i) => {
      const channel = (CHANNELS as readonly string[]).includes(String(raw.channel)) ? (raw.channel as Channel) : 'sms';
      const fields: Record<string, string> = {};
      for (const field of CHANNEL_FIELDS[channel]) {
        const value = raw[field.name];
        if (value === undefined || value === null) continue;
        fields[field.name] = field.kind === 'pairs' ? formatPairs(value as Record<string, unknown>) : String(value);
      }
      return {
        channel,
        mandatory: typeof raw.mandatory === 'boolean' ? raw.mandatory : i === 0,
        lifetimeMinutes: raw.lifetimeMinutes === undefined ? '1440' : String(raw.lifetimeMinutes),
        shortenLinks: raw.shortenLinks === true,
        fields,
      };
    }),
  };
}

/** The list with item `i` moved one place up (-1) or down (+1); unchanged at the ends. */
export function moveItem<T>(items: readonly T[], i: number, by: -1 | 1): T[] {
  const j = i + by;
  if (i < 0 || i >= items.length || j < 0 || j >= items.length) return [...items];
  const out = [...items];
  [out[i], out[j]] = [out[j]!, out[i]!];
  return out;
}

/** The channels not yet in the template (each channel at most once). */
export const unusedChannels = (draft: TemplateDraft): Channel[] => CHANNELS.filter((c) => !draft.channels.some((d) => d.channel === c));

/** The templates page's list answer: how many pages of `pageSize`. */
export const pageCount = (total: number, pageSize: number) => Math.max(1, Math.ceil(total / pageSize));

/** What a 409 on deleting a template says, as the id of the task that still uses it (or null). */
export function taskOfConflict(message: string): string | null {
  return /task ([0-9a-f-]{36})/i.exec(message)?.[1] ?? null;
}

// ---- Sending (phase 2) ----

export interface RecipientDraft {
  externalId?: string;
  phone?: string;
  email?: string;
  /** This recipient's own values (`name=Ann` on its line), overriding the common ones. */
  variables?: Record<string, string>;
}

const EMAIL_LIKE = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;
const PHONE_LIKE = /^\+?[\d\s().-]{5,}$/;

/**
 * Recipients pasted one a line; a line's parts (separated by commas, semicolons or tabs) are read by
 * their look: `name=value` is a variable of this recipient, an address with @ the email, digits
 * (with + spaces dashes brackets) the phone, the rest the externalId. Blank lines are skipped; a
 * line seen before is skipped too.
 */
export function parseRecipients(text: string): RecipientDraft[] {
  const out: RecipientDraft[] = [];
  const seen = new Set<string>();
  for (const line of text.split(/\r?\n/)) {
    const parts = line
      .split(/[,;\t]/)
      .map((p) => p.trim())
      .filter(Boolean);
    if (parts.length === 0) continue;
    const r: RecipientDraft = {};
    for (const part of parts) {
      const pair = /^([A-Za-z_][A-Za-z0-9_.-]*)\s*=(.*)$/.exec(part);
      if (pair) r.variables = { ...r.variables, [pair[1]!]: pair[2]!.trim() };
      else if (!r.email && EMAIL_LIKE.test(part)) r.email = part;
      else if (!r.phone && PHONE_LIKE.test(part) && /\d{5}/.test(part.replace(/\D/g, ''))) r.phone = part;
      else if (!r.externalId) r.externalId = part;
    }
    const key = JSON.stringify(r);
    if (seen.has(key)) continue;
    seen.add(key);
    out.push(r);
  }
  return out;
}

/** The recipients of a draft that name no one (no phone, email or externalId). */
export const anonymousRecipients = (recipients: RecipientDraft[]) => recipients.filter((r) => !r.phone && !r.email && !r.externalId).length;

/** The template's variables that have a value neither in the common values nor in every recipient's own. */
export function missingSendVariables(variables: readonly string[], common: Record<string, string>, recipients: RecipientDraft[]): string[] {
  return variables.filter((name) => (common[name] ?? '').trim() === '' && (recipients.length === 0 || recipients.some((r) => r.variables?.[name] === undefined)));
}

/** Whether a task's messages can still change (a final message status changes no more; READ may follow DELIVERED). */
export function messagesSettled(taskStatus: string, statuses: readonly string[]): boolean {
  const final = new Set(['READ', 'UNDELIVERED', 'ERROR', 'CANCELED', 'SKIPPED', 'DELIVERED']);
  return isTaskEnded(taskStatus) && statuses.every((s) => final.has(s));
}

// ---- Dashboard (phase 2) ----

/** `GET /api/v1/messages/stats`. */
export interface MessageStats {
  from: string;
  to: string;
  timezone: string;
  days: { day: string; counts: Record<string, number>; total: number }[];
  channels: { channel: string; messages: number; cost: number }[];
  total: { messages: number; cost: number };
}

/** The API's longest dashboard period. */
export const MAX_STATS_DAYS = 92;

const dayString = (d: Date) => `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;

/** The calendar days `first`..`last` (YYYY-MM-DD, inclusive) as the API's period in the browser's
 * zone: from the first day's midnight to the midnight after the last day. */
export function statsPeriod(first: string, last: string): { from: string; to: string } | undefined {
  const from = localToIso(first);
  const end = localToIso(last);
  if (!from || !end) return undefined;
  const next = new Date(end);
  next.setDate(next.getDate() + 1);
  return { from, to: next.toISOString() };
}

/** The last `count` days up to `today`, as [first, last] YYYY-MM-DD. */
export function lastDays(count: number, today = new Date()): [string, string] {
  const first = new Date(today.getFullYear(), today.getMonth(), today.getDate() - (count - 1));
  return [dayString(first), dayString(today)];
}

/** Every day `first`..`last` with its counts (zero for a day without messages). */
export function everyDay(first: string, last: string, days: MessageStats['days']): MessageStats['days'] {
  const known = new Map(days.map((d) => [d.day, d]));
  const out: MessageStats['days'] = [];
  const [y, m, d] = first.split('-').map(Number);
  for (let at = new Date(y!, m! - 1, d!), guard = 0; dayString(at) <= last && guard < 400; at.setDate(at.getDate() + 1), guard++) {
    const day = dayString(at);
    out.push(known.get(day) ?? { day, counts: {}, total: 0 });
  }
  return out;
}

/** A round top for a chart's axis: 1, 2 or 5 times a power of ten, at least `max`. */
export function niceMax(max: number): number {
  if (max <= 0) return 1;
  const power = 10 ** Math.floor(Math.log10(max));
  for (const step of [1, 2, 5, 10]) if (step * power >= max) return step * power;
  return 10 * power;
}
