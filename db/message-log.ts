import type { Pool, PoolClient } from 'pg';
import { CHANNELS, type Channel } from '../core/config';
import type { MessageStatus } from '../core/status';
import type { Queryable } from './messages';
import { containsPattern } from './sql';

/**
 * The message log (API.md, "Messages"): every message row, newest first — by `registered_at`, then
 * `id` for rows registered in the same transaction — filtered, paged by keyset, or read through a
 * server-side cursor for the export. Each filter has an index in that order (migrations
 * Migration20261128100000_message_log and Migration20261203000000_message_search; plans at 10
 * million rows in docs/message-log-plans.md).
 */

/** Every column of a message row as `presentMessage` shows it. */
export const MESSAGE_COLUMNS = `id, task_id, group_id, send_id, status, status_description, channel, optional, sender, recipient,
  external_id, text, payload, variables, cost, operator, template_id, template_name, parts, email_views, email_clicks,
  short_link, link_clicks, provider, provider_message_id, registered_at, queued_at, sent_at, status_at,
  delayed_start_at, delivery_end_at`;

export interface MessageLogFilter {
  /** A part of the recipient (case-insensitive), or a channel's name (its messages match too). */
  search?: string;
  /** Registered at or after (inclusive). */
  from?: Date;
  /** Registered before (exclusive): `from`/`to` of consecutive periods never count a row twice. */
  to?: Date;
  channel?: Channel;
  status?: MessageStatus;
  optional?: boolean;
  taskId?: string;
}

/** Where a page ends: the last row's registration time, to the microsecond, and its id. */
export interface LogPosition {
  registeredAt: string;
  id: string;
}

/**
 * Where a log query reads from. The log's keys (task, channel, recipient, registration time) and
 * their indexes are in `message_search` (Migration20261203000000_message_search), joined to
 * `messages` for the rest of the row; the status index is on `messages`, so a query led by the
 * status reads `messages` alone. `keys` is the alias the key columns are read through.
 */
interface LogSource {
  from: string;
  keys: 's' | 'm';
}
const BY_KEYS: LogSource = { from: 'message_search s join messages m on m.id = s.id', keys: 's' };
const BY_STATUS: LogSource = { from: 'messages m', keys: 'm' };

/**
 * The filter as SQL conditions (parameters appended to `params`), the source to read and the ORDER
 * BY that goes with them, newest first.
 *
 * With an equality filter on the task, status or channel (the first given, in that order), the page
 * is read from that column's (column, registered_at desc, id desc) index: the column is compared with
 * `= any(array)` and named first in the ORDER BY. Written as a plain `=`, PostgreSQL drops the
 * column from the ORDER BY (it is constant) and may walk the log's time index instead, filtering, on
 * the guess that matching rows are spread evenly over time; they are not — a campaign's rows share
 * one registration time — and for a large campaign registered weeks ago that walk read 6.2 million
 * rows (3.2 s) to fill the first page (docs/message-log-plans.md). The other filters stay as written,
 * so the planner may still prefer a bitmap on their indexes and a sort when they match few rows.
 * `rowConditions` tells whether any condition needs the `messages` row (status, optional).
 */
function filterSql(
  filter: MessageLogFilter,
  params: unknown[],
): { source: LogSource; conditions: string[]; rowConditions: boolean; orderBy: string } {
  const param = (value: unknown) => `$${params.push(value)}`;
  const source = !filter.taskId && filter.status ? BY_STATUS : BY_KEYS;
  const k = source.keys;
  const conditions: string[] = [];
  const equalities: { column: string; value: unknown; type: string }[] = [];
  if (filter.taskId) equalities.push({ column: `${k}.task_id`, value: filter.taskId, type: 'uuid' });
  if (filter.status) equalities.push({ column: 'm.status', value: filter.status, type: 'text' });
  if (filter.channel) equalities.push({ column: `${k}.channel`, value: filter.channel, type: 'text' });
  const [leading, ...others] = equalities;
  if (leading) conditions.push(`${leading.column} = any(${param([leading.value])}::${leading.type}[])`);
  for (const e of others) conditions.push(`${e.column} = ${param(e.value)}`);
  if (filter.search !== undefined) {
    const channel = CHANNELS.find((c) => c === filter.search!.toLowerCase());
    const recipient = recipientContains(`${k}.recipient`, filter.search, param);
    conditions.push(channel ? `(${recipient} or ${k}.channel = ${param(channel)})` : recipient);
  }
  if (filter.from) conditions.push(`${k}.registered_at >= ${param(filter.from.toISOString())}`);
  if (filter.to) conditions.push(`${k}.registered_at < ${param(filter.to.toISOString())}`);
  if (filter.optional !== undefined) conditions.push(`m.optional = ${param(filter.optional)}`);
  return {
    source,
    conditions,
    rowConditions: filter.status !== undefined || filter.optional !== undefined,
    orderBy: `${leading ? `${leading.column}, ` : ''}${k}.registered_at desc, ${k}.id desc`,
  };
}

/** Punctuation at either end of a search: what pg_trgm reads as word boundaries. */
const SEARCH_CORE = /^[^\p{L}\p{N}]+|[^\p{L}\p{N}]+$/gu;

/**
 * `recipient` contains `search`, case-insensitively, found through the trigram index. pg_trgm reads
 * a non-alphanumeric character as a word boundary, so `+79991234567` would also look up "  7" and
 * " 79", trigrams every phone number has (a posting list per row: 120 ms at 10 million rows). The
 * index is asked for the search without the punctuation at its ends (20 ms), and the whole search
 * is checked on the rows it finds.
 */
function recipientContains(column: string, search: string, param: (value: unknown) => string): string {
  const core = search.replace(SEARCH_CORE, '');
  if (core === search || core.length < 3) return `${column} ilike ${param(containsPattern(search))}`;
  return `(${column} ilike ${param(containsPattern(core))} and strpos(lower(${column}), lower(${param(search)})) > 0)`;
}

const where = (conditions: string[]) => (conditions.length > 0 ? `where ${conditions.join(' and ')}` : '');

/** The registration time as the cursor keeps it: UTC to the microsecond (a JS Date keeps milliseconds). */
const POSITION_AT = `to_char(m.registered_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`;

/** MESSAGE_COLUMNS read through the alias `m` (the log's queries join two tables). */
const LOG_COLUMNS = MESSAGE_COLUMNS.split(',').map((column) => `m.${column.trim()}`).join(', ');

/** One page of the log, newest first, after `after` (exclusive). */
export function messageLogPageQuery(filter: MessageLogFilter, pageSize: number, after?: LogPosition): { text: string; values: unknown[] } {
  const values: unknown[] = [];
  const { source, conditions, orderBy } = filterSql(filter, values);
  if (after) {
    values.push(after.registeredAt, after.id);
    conditions.push(`(${source.keys}.registered_at, ${source.keys}.id) < ($${values.length - 1}::timestamptz, $${values.length}::uuid)`);
  }
  values.push(pageSize + 1);
  return {
    text: `select ${LOG_COLUMNS}, ${POSITION_AT} as position_at
      from ${source.from}
      ${where(conditions)}
      order by ${orderBy}
      limit $${values.length}`,
    values,
  };
}

/**
 * Planner settings of the log's page and export queries, inside their transaction
 * (docs/message-log-plans.md):
 * - incremental sort off: for a task and a status it would read the (task_id, status) index
 *   presorted by task and sort the rest, costed as if the task were one of many small groups — for
 *   a large campaign that sorted 64,000 rows (420 ms) where walking messages_log_task takes 1.4 ms,
 *   or a bitmap and a full sort 23 ms when the status is rare;
 * - JIT off: an export's plan costs enough to be compiled, which took a second before the first
 *   row of a month's export, for expressions that gain nothing from it;
 * - no parallel workers: a page reads at most a few thousand rows, and starting two workers took
 *   20–30 ms of the 42 ms a later page of a large campaign's rare status took (6–15 ms without).
 *   Reading through `message_search` joined to `messages`, such pages are costed high enough to
 *   be given workers. Counts (`withTotal`) run apart and keep them; a cursor never has them.
 */
export const MESSAGE_LOG_PLANNER_SETTINGS = 'set local enable_incremental_sort = off; set local jit = off; set local max_parallel_workers_per_gather = 0';

/** A page of rows and where the next one starts (null on the last page). */
export async function messageLogPage(
  pool: Pool,
  filter: MessageLogFilter,
  pageSize: number,
  after?: LogPosition,
): Promise<{ rows: Record<string, any>[]; next: LogPosition | null }> {
  const client = await pool.connect();
  let rows: Record<string, any>[];
  let broken: Error | undefined;
  try {
    // One round trip for both (the simple protocol takes several statements without parameters).
    await client.query(`begin read only; ${MESSAGE_LOG_PLANNER_SETTINGS}`);
    // One row more than asked tells whether another page follows, without a second query.
    rows = (await client.query(messageLogPageQuery(filter, pageSize, after))).rows;
    await client.query('commit');
  } catch (error) {
    // A connection that cannot even roll back is not given back to the pool.
    await client.query('rollback').catch((rollbackError: Error) => (broken = rollbackError));
    throw error;
  } finally {
    client.release(broken);
  }
  const more = rows.length > pageSize;
  const page = more ? rows.slice(0, pageSize) : rows;
  const last = page[page.length - 1];
  return { rows: page, next: more && last ? { registeredAt: last.position_at, id: last.id } : null };
}

export function messageLogCountQuery(filter: MessageLogFilter): { text: string; values: unknown[] } {
  const values: unknown[] = [];
  const { source, conditions, rowConditions } = filterSql(filter, values);
  // Keys alone are counted from message_search (an index-only scan where its pages are visible).
  const from = source === BY_KEYS && !rowConditions ? 'message_search s' : source.from;
  return { text: `select count(*) as total from ${from} ${where(conditions)}`, values };
}

/** How many rows match: a scan of every matching row (or index entry), so only on request. */
export async function countMessageLog(db: Queryable, filter: MessageLogFilter): Promise<number> {
  const { rows } = await db.query<{ total: number }>(messageLogCountQuery(filter));
  return Number(rows[0]!.total);
}

/** The export's columns: the times as wall-clock milliseconds in the export's time zone (an Excel
 * date has no zone), truncated like the API's ISO times, read as plain numbers. */
const EXPORT_COLUMNS = (zoneParam: string) => `m.id, m.task_id, m.group_id, m.send_id, m.status, m.status_description, m.channel,
  m.sender, m.recipient, m.text, m.cost, m.operator, m.template_id, m.template_name, m.variables, m.parts, m.email_views,
  m.email_clicks, m.short_link, m.link_clicks,
  ${['registered_at', 'sent_at', 'status_at', 'delayed_start_at', 'delivery_end_at']
    .map((column) => `floor(extract(epoch from m.${column} at time zone ${zoneParam}) * 1000)::bigint as ${column}_local_ms`)
    .join(',\n  ')}`;

export function messageExportQuery(filter: MessageLogFilter, timezone: string): { text: string; values: unknown[] } {
  const values: unknown[] = [timezone];
  const { source, conditions, orderBy } = filterSql(filter, values);
  return {
    text: `select ${EXPORT_COLUMNS('$1')}
      from ${source.from}
      ${where(conditions)}
      order by ${orderBy}`,
    values,
  };
}

/**
 * A server-side cursor over the export's rows, in the log's order, on a connection of its own: one
 * query plan and one snapshot for the whole file, fetched `batch` rows at a time so memory stays
 * flat. `close` ends it early; a fetch that is running when it is called is cancelled in the
 * database (pg_cancel_backend), so a client that goes away stops the work at once.
 */
export class MessageExportCursor {
  private fetching = false;
  private closed = false;

  private constructor(
    private readonly client: PoolClient,
    private readonly cancel: (pid: number) => Promise<unknown>,
  ) {}

  /** Opens the cursor; a time zone PostgreSQL does not know fails here, before anything is sent. */
  static async open(pool: Pool, filter: MessageLogFilter, timezone: string): Promise<MessageExportCursor> {
    const client = await pool.connect();
    try {
      // Read only, and one snapshot: rows arriving during the download do not shift the file.
      await client.query(`begin isolation level repeatable read read only; ${MESSAGE_LOG_PLANNER_SETTINGS}`);
      const query = messageExportQuery(filter, timezone);
      await client.query({ text: `declare message_export no scroll cursor for ${query.text}`, values: query.values });
      // Checked once here: a zone PostgreSQL rejects would otherwise fail the first fetch.
      await client.query('select now() at time zone $1', [timezone]);
    } catch (error) {
      let broken: Error | undefined;
      await client.query('rollback').catch((rollbackError: Error) => (broken = rollbackError));
      client.release(broken);
      throw error;
    }
    return new MessageExportCursor(client, (pid) => pool.query('select pg_cancel_backend($1)', [pid]));
  }

  /** The next `batch` rows; empty at the end. */
  async next(batch: number): Promise<ExportRow[]> {
    if (this.closed) return [];
    this.fetching = true;
    try {
      const { rows } = await this.client.query(`fetch forward ${Math.trunc(batch)} from message_export`);
      return rows as ExportRow[];
    } finally {
      this.fetching = false;
    }
  }

  /** Ends the transaction and gives the connection back; safe to call more than once. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const pid = (this.client as unknown as { processID?: number }).processID;
    if (this.fetching && pid) await this.cancel(pid).catch(() => undefined);
    try {
      await this.client.query('rollback');
      this.client.release();
    } catch (error) {
      // A broken connection is not returned to the pool.
      this.client.release(error as Error);
    }
  }
}

/** A row as the export reads it (times as local wall-clock epoch milliseconds). */
export interface ExportRow {
  id: string;
  task_id: string;
  group_id: string;
  send_id: string;
  status: string;
  status_description: string | null;
  channel: string;
  sender: string | null;
  recipient: string;
  text: string | null;
  cost: number;
  operator: string | null;
  template_id: string | null;
  template_name: string | null;
  variables: Record<string, string> | null;
  parts: number;
  email_views: number;
  email_clicks: number;
  short_link: string | null;
  link_clicks: number;
  registered_at_local_ms: number;
  sent_at_local_ms: number | null;
  status_at_local_ms: number;
  delayed_start_at_local_ms: number | null;
  delivery_end_at_local_ms: number | null;
}
