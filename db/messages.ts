import type { Pool, PoolClient } from 'pg';
import { from as copyFrom, type CopyStreamQuery } from 'pg-copy-streams';
import { MESSAGE_STATUSES, allowedPredecessors, type MessageStatus } from '../core/status';
import type { ShortLinkTarget } from '../core/links';
import { DISPATCH_READY } from './notify';
import { prepared } from './sql';
import { countStatusChanges, recordReceiptLatency, StatusTally } from '../activities/metrics';

/** Anything that runs a query: the pool or a client inside a transaction. */
export type Queryable = Pool | PoolClient;

/** Rows per statement for bulk writes: large enough to amortise round trips, small enough to keep
 * parameter arrays and locks short. */
export const BULK_CHUNK = 1000;

export interface NewMessage {
  id: string;
  taskId: string;
  groupId: string;
  sendId: string;
  seq: number;
  channel: string;
  channelIndex: number;
  optional: boolean;
  status: MessageStatus;
  statusDescription: string | null;
  sender: string | null;
  recipient: string;
  externalId: string | null;
  text: string | null;
  payload: Record<string, unknown> | null;
  variables: Record<string, string> | null;
  templateId: string | null;
  templateName: string | null;
  parts: number;
  cost: number;
  lifetimeSeconds: number;
  /** Set for DELAYED rows: when their send window opens. */
  delayedStartAt?: Date | null;
  /** The first of its short links as a URL (`<PUBLIC_URL>/l/<code>`), shown in the export. */
  shortLink: string | null;
  /** Its short links: each writer stores them in the transaction that stores the message. */
  links: readonly ShortLinkTarget[];
}

type ShortLinkArrays = [codes: string[], messageIds: string[], urls: string[]];

/** Appends the short links of message rows to parallel arrays: how both writers insert them. */
function addShortLinks(rows: readonly NewMessage[], arrays: ShortLinkArrays = [[], [], []]): ShortLinkArrays {
  for (const m of rows) {
    for (const link of m.links) {
      arrays[0].push(link.code);
      arrays[1].push(m.id);
      arrays[2].push(link.url);
    }
  }
  return arrays;
}

/** Inserts short links from the three arrays `addShortLinks` makes, given as parameters. A code
 * that exists already (one chance in 8·10^17 for any two codes) fails the write: the send or import
 * is refused whole, never two messages merged under one link. */
const insertShortLinksSql = (codes: string, messageIds: string, urls: string) =>
  `insert into short_links (code, message_id, url) select * from unnest(${codes}::text[], ${messageIds}::uuid[], ${urls}::text[])`;

function chunks<T>(items: readonly T[], size = BULK_CHUNK): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/** Number of parameters the message insert uses; `with` CTEs of a caller number theirs after it. */
export const MESSAGE_INSERT_PARAMS = 27;

/**
 * A message's registration is its first event, CREATED at `registered_at`: the row itself records
 * it, so no event row is written for it (a million-row import would write a million). A row
 * registered in another status (DELAYED outside its window) has that status as its second event.
 * `messageEvents` shows it before the stored ones.
 */
export async function messageEvents(db: Queryable, messageId: string): Promise<{ status: MessageStatus; description: string | null; source: string; at: Date }[]> {
  const { rows } = await db.query(
    `select 'CREATED' as status, case when m.optional then 'Created, but optional' end as description,
       case when t.type = 'api' then 'api' else 'import' end as source, m.registered_at as at, 0::bigint as id
     from messages m join tasks t on t.id = m.task_id where m.id = $1
     union all
     select status, description, source, created_at, id from message_events where message_id = $1
     order by id`,
    [messageId],
  );
  return rows.map(({ id: _id, ...event }) => event);
}

/**
 * Inserts message rows, the first event of rows registered in a status other than CREATED, and
 * their short links in bulk (unnest arrays: one round trip per chunk), and wakes the dispatchers
 * of their channels (NOTIFY is delivered when the rows commit).
 * `withFirstChunk` adds the caller's data-modifying CTEs (e.g. the task row) to the first
 * statement, so a small send is written in a single atomic round trip.
 */
export async function insertMessages(
  db: Queryable,
  rows: readonly NewMessage[],
  source: string,
  withFirstChunk?: { ctes: string; params: unknown[] },
): Promise<void> {
  for (const [index, part] of chunks(rows).entries()) {
    const extra = index === 0 ? withFirstChunk : undefined;
    await db.query(
      prepared(
        `with ${extra ? `${extra.ctes},` : ''} inserted as (
           insert into messages (id, task_id, group_id, send_id, seq, channel, channel_index, optional, released, status,
             status_description, sender, recipient, external_id, text, payload, variables, template_id, template_name,
             parts, cost, lifetime_seconds, delayed_start_at, short_link)
           select id, task_id, group_id, send_id, seq, channel, channel_index, optional, not optional, status,
             status_description, sender, recipient, external_id, text, payload, variables, template_id, template_name,
             parts, cost, lifetime_seconds, delayed_start_at, short_link
           from unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::text[], $5::int[], $6::text[], $7::int[], $8::bool[],
             $9::text[], $10::text[], $11::text[], $12::text[], $13::text[], $14::text[], $15::jsonb[], $16::jsonb[],
             $17::uuid[], $18::text[], $19::int[], $20::numeric[], $21::float8[], $23::timestamptz[], $24::text[])
             as r(id, task_id, group_id, send_id, seq, channel, channel_index, optional, status, status_description,
               sender, recipient, external_id, text, payload, variables, template_id, template_name, parts, cost,
               lifetime_seconds, delayed_start_at, short_link)
           returning id, status, status_description, channel, released),
         logged as (
           insert into message_events (message_id, status, description, source)
           select id, status, status_description, $22 from inserted where status <> 'CREATED'),
         linked as (${insertShortLinksSql('$25', '$26', '$27')})
         select pg_notify('${DISPATCH_READY}', channel) from (select distinct channel from inserted where released) ready`,
        [
          part.map((m) => m.id),
          part.map((m) => m.taskId),
          part.map((m) => m.groupId),
          part.map((m) => m.sendId),
          part.map((m) => m.seq),
          part.map((m) => m.channel),
          part.map((m) => m.channelIndex),
          part.map((m) => m.optional),
          part.map((m) => m.status),
          part.map((m) => m.statusDescription),
          part.map((m) => m.sender),
          part.map((m) => m.recipient),
          part.map((m) => m.externalId),
          part.map((m) => m.text),
          part.map((m) => (m.payload ? JSON.stringify(m.payload) : null)),
          part.map((m) => (m.variables ? JSON.stringify(m.variables) : null)),
          part.map((m) => m.templateId),
          part.map((m) => m.templateName),
          part.map((m) => m.parts),
          part.map((m) => m.cost),
          part.map((m) => m.lifetimeSeconds),
          source,
          part.map((m) => m.delayedStartAt ?? null),
          part.map((m) => m.shortLink),
          ...addShortLinks(part),
          ...(extra?.params ?? []),
        ],
      ),
    );
    countStatusChanges(part);
  }
}

/** COPY's text format: backslash, tab, newline and carriage return escaped; `\N` is NULL. */
const COPY_ESCAPES: Record<string, string> = { '\\': '\\\\', '\t': '\\t', '\n': '\\n', '\r': '\\r' };
function copyField(value: string | number | boolean | null | undefined): string {
  if (value === null || value === undefined) return '\\N';
  if (typeof value === 'boolean') return value ? 't' : 'f';
  if (typeof value === 'number') return String(value);
  return /[\\\t\n\r]/.test(value) ? value.replace(/[\\\t\n\r]/g, (c) => COPY_ESCAPES[c]!) : value;
}

function copyLine(m: NewMessage): string {
  return [
    m.id, m.taskId, m.groupId, m.sendId, m.seq, m.channel, m.channelIndex, m.optional, !m.optional, m.status,
    m.statusDescription, m.sender, m.recipient, m.externalId, m.text,
    m.payload ? JSON.stringify(m.payload) : null, m.variables ? JSON.stringify(m.variables) : null,
    m.templateId, m.templateName, m.parts, m.cost, m.lifetimeSeconds, m.delayedStartAt ? m.delayedStartAt.toISOString() : null,
    m.shortLink,
  ].map(copyField).join('\t') + '\n';
}

/** Bytes gathered before a write to the COPY stream: fewer, larger socket writes. */
const COPY_WRITE_BYTES = 256 * 1024;
/** Short links gathered before they are inserted (between two COPYs of messages): each insert
 * ends a COPY, so not too often; ≈ 4 MB of codes, ids and URLs. */
const COPY_LINKS_PER_INSERT = 20_000;
/** Rows per COPY statement. The statement's triggers (the log's keys into message_search, the
 * per-task counts) run when it ends; ended every so many rows, they work on one part while the
 * next is read from the file, instead of all of them after the last row. */
const ROWS_PER_COPY = 25_000;
/** Bytes of rows gathered while an ended COPY finishes (its triggers run) before the writer waits. */
const COPY_BUFFER_WHILE_FINISHING = 4 * 1024 * 1024;

/** Rows registered in one go from which the table's statistics are refreshed at once. */
const ANALYZE_AFTER_ROWS = 10_000;
let analyzing: Promise<void> | undefined;

/**
 * Refreshes the planner's statistics of `messages` and `message_search` (the log's keys) after a
 * bulk registration of `rowsAdded` rows (a task file; from ANALYZE_AFTER_ROWS on), in the
 * background: until autovacuum gets to it (a
 * minute or more; never where it is off), the planner believes the new rows are not there, and the
 * stream's look for waiting tasks read 300,000 new rows through the log's status index, 3–5 s a
 * call, holding API sends back by as much. One at a time per process; a failure (the database
 * stopping) only leaves it to autovacuum.
 */
export function refreshMessageStatistics(pool: Pool, rowsAdded: number): Promise<void> {
  if (rowsAdded < ANALYZE_AFTER_ROWS) return Promise.resolve();
  analyzing ??= pool
    .query('analyze messages, message_search')
    .then(() => undefined, () => undefined)
    .finally(() => (analyzing = undefined));
  return analyzing;
}

/**
 * Streams new message rows into `messages` with COPY, inside the caller's transaction: the fastest
 * way in for a large import, and the database works on one batch while the caller prepares the
 * next. The connection is busy while a COPY is open, so `end()` closes it before any other
 * statement; the next `write()` opens a new one. Its rows are CREATED, so they need no event row
 * (see `messageEvents`), and it wakes no dispatcher: an imported task's rows wait for its start.
 * The rows' short links are inserted whenever a COPY ends — by `end()`, or every
 * COPY_LINKS_PER_INSERT links — so they are never held for the whole import.
 */
export class MessageCopy {
  private stream: CopyStreamQuery | null = null;
  private finished: Promise<void> = Promise.resolve();
  private failed = false;
  /** Rows written since the last COPY ended (sent to the open one, or waiting in the buffer). */
  private rowsSinceEnd = 0;
  /** A COPY ended for ROWS_PER_COPY and still finishing: the connection is busy until it settles. */
  private finishing: Promise<void> | null = null;
  private buffer = '';
  /** Short links of the rows written, not stored yet. */
  private links: ShortLinkArrays = [[], [], []];
  /** Rows written per channel and status, counted on /metrics once the caller committed them. */
  private readonly written = new StatusTally();

  constructor(private readonly client: PoolClient) {}

  async write(rows: readonly NewMessage[]): Promise<void> {
    if (rows.length === 0) return;
    for (const row of rows) {
      this.buffer += copyLine(row);
      this.written.add(row.channel, row.status);
    }
    this.rowsSinceEnd += rows.length;
    addShortLinks(rows, this.links);
    if (this.finishing) {
      if (this.buffer.length < COPY_BUFFER_WHILE_FINISHING && this.links[0].length < COPY_LINKS_PER_INSERT) return;
      await this.settle();
    }
    if (!this.stream) this.open();
    if (this.links[0].length >= COPY_LINKS_PER_INSERT) await this.end();
    else if (this.rowsSinceEnd >= ROWS_PER_COPY) await this.endWithoutWaiting();
    else if (this.buffer.length >= COPY_WRITE_BYTES) await this.push();
  }

  /** Ends the open COPY and lets it finish while the caller reads on; the next write waits for it. */
  private async endWithoutWaiting(): Promise<void> {
    await this.push();
    this.stream!.end();
    this.stream = null;
    this.rowsSinceEnd = 0;
    this.finishing = this.finished;
  }

  /** Waits for an ended COPY to finish; its failure is the caller's. */
  private async settle(): Promise<void> {
    const finishing = this.finishing;
    this.finishing = null;
    await finishing;
  }

  /** Ends the open COPY, if any, and stores the short links of its rows: all are then written
   * (uncommitted) and the connection is free. */
  async end(): Promise<void> {
    if (this.finishing) await this.settle();
    if (this.buffer !== '' && !this.stream) this.open();
    if (this.stream) {
      await this.push();
      this.stream.end();
      const finished = this.finished;
      this.stream = null;
      this.rowsSinceEnd = 0;
      await finished;
    }
    if (this.links[0].length > 0) {
      const links = this.links;
      this.links = [[], [], []];
      await this.client.query(insertShortLinksSql('$1', '$2', '$3'), links);
    }
  }

  /** The caller committed: the rows written count as registered (messages_status_changes_total). */
  committed(): void {
    this.written.record();
  }

  /** Gives up an open COPY (PostgreSQL discards its rows); the transaction can then roll back. */
  async abort(): Promise<void> {
    this.links = [[], [], []];
    this.buffer = '';
    if (this.finishing) await this.settle().catch(() => undefined);
    if (!this.stream) return;
    // A COPY that already failed (its connection died) has nothing left to give up.
    if (!this.failed) this.stream.destroy(new Error('import abandoned'));
    const finished = this.finished;
    this.stream = null;
    await finished.catch(() => undefined);
  }

  private open(): void {
    const stream = this.client.query(
      copyFrom(`copy messages (id, task_id, group_id, send_id, seq, channel, channel_index, optional, released, status,
        status_description, sender, recipient, external_id, text, payload, variables, template_id, template_name,
        parts, cost, lifetime_seconds, delayed_start_at, short_link) from stdin`),
    );
    this.stream = stream;
    this.failed = false;
    this.finished = new Promise<void>((resolve, reject) => {
      stream.once('finish', resolve);
      stream.once('error', (error) => {
        this.failed = true;
        reject(error);
      });
    });
    // Awaited by end() or abort(); until then a failure must not count as unhandled.
    this.finished.catch(() => undefined);
  }

  private async push(): Promise<void> {
    const stream = this.stream!;
    if (this.buffer === '') return;
    // A COPY whose connection died cannot take more: answer with why it failed.
    if (this.failed) await this.finished;
    const ready = stream.write(this.buffer);
    this.buffer = '';
    if (!ready) await Promise.race([new Promise((resolve) => stream.once('drain', resolve)), this.finished]);
  }
}

/** Statuses a receipt reports: their time since SENT is the receipt latency. */
const RECEIPT_STATUSES: ReadonlySet<string> = new Set<MessageStatus>(['DELIVERED', 'UNDELIVERED', 'READ']);

/** For each target status, the statuses it may be reached from, comma-joined for SQL. */
const PREDECESSORS: Record<string, string> = Object.fromEntries(MESSAGE_STATUSES.map((to) => [to, allowedPredecessors(to).join(',')]));

export interface StatusChange {
  messageId: string;
  status: MessageStatus;
  description?: string | null;
  providerMessageId?: string | null;
  /** The provider that handled the message, recorded with its first answer. */
  provider?: string | null;
}

export interface StatusChangeResult {
  messageId: string;
  applied: boolean;
  /** Of a refused change: the status the row kept (undefined when there is no such message). */
  refusedBy?: MessageStatus;
}

/**
 * Applies status changes through the state machine in one statement per chunk: a change that the
 * machine forbids (a late or out-of-order receipt) is not applied to the row but is still kept in
 * the message's event log, and the provider's message id it carries is stored all the same (a
 * receipt may have overtaken the SENT that names it). Receipts parked for the provider ids now
 * known are applied right after. A message id may appear once per call; later changes for the same
 * message go in a following round so their order is kept.
 */
export async function applyStatusChanges(
  db: Queryable,
  changes: readonly StatusChange[],
  source: string,
): Promise<StatusChangeResult[]> {
  const results: StatusChangeResult[] = [];
  let pending = [...changes];
  while (pending.length > 0) {
    const seen = new Set<string>();
    const round: StatusChange[] = [];
    const later: StatusChange[] = [];
    for (const change of pending) {
      if (seen.has(change.messageId)) later.push(change);
      else (seen.add(change.messageId), round.push(change));
    }
    for (const part of chunks(round)) {
      const applied = await applyRound(db, part, source);
      results.push(...applied);
      const refused = part.filter((c, i) => applied[i]!.refusedBy && (c.providerMessageId || c.provider));
      if (refused.length > 0) await storeProviderReference(db, refused);
      const references = part.filter((c) => c.providerMessageId && c.provider);
      if (references.length > 0) await applyParkedReceipts(db, references);
    }
    pending = later;
  }
  return results;
}

async function applyRound(db: Queryable, part: StatusChange[], source: string): Promise<StatusChangeResult[]> {
  // The guard is a per-row expression (m.status = any(c.allowed_from)), not a join with a table of
  // pairs: when a concurrent update changed the row first, PostgreSQL re-checks the guard against
  // the new row but keeps the joined rows it had, so a join would wrongly refuse a legal change.
  const { rows } = await db.query<{ id: string; applied: boolean; previous: MessageStatus | null; channel: string; since_sent: number | null }>(
    `with incoming as (
       select id, status, description, provider_message_id, provider, string_to_array(allowed_from, ',') as allowed_from
       from unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[], $7::text[])
         as c(id, status, description, provider_message_id, allowed_from, provider)
     ),
     updated as (
       update messages m set
         status = c.status,
         status_description = c.description,
         status_at = now(),
         provider_message_id = coalesce(c.provider_message_id, m.provider_message_id),
         provider = coalesce(m.provider, c.provider),
         sent_at = case when c.status in ('SENT', 'PENDING') then coalesce(m.sent_at, now()) else m.sent_at end
       from incoming c
       where m.id = c.id and m.status = any(c.allowed_from)
       returning m.id, c.status, c.description, m.channel, extract(epoch from now() - m.sent_at)::float8 as since_sent
     ),
     outcome as (
       -- An applied change's row comes back from the update itself; only a refused one is read
       -- again, for the status it kept (\`m\` is the row as it was before this statement): reading
       -- every row again by its key was about a tenth of this statement's buffer reads.
       -- \`not in (select …)\` is a hashed subplan: a join with the CTE (which has no statistics) was
       -- planned as a nested loop scanning \`updated\` once per incoming row, 1,000 × 1,000 per chunk.
       select id, status, description, null::text as previous, channel, true as applied, since_sent from updated
       union all
       select c.id, c.status, c.description, m.status, m.channel, false, extract(epoch from now() - m.sent_at)::float8
       from incoming c join messages m on m.id = c.id
       where c.id not in (select id from updated)
     ),
     logged as (
       insert into message_events (message_id, status, description, source)
       select id, status,
         case when applied then description
           else concat('not applied: status was ', previous, case when description is not null then concat('; ', description) end) end,
         $6
       from outcome
     )
     select id, applied, previous, channel, since_sent from outcome`,
    [
      part.map((c) => c.messageId),
      part.map((c) => c.status),
      part.map((c) => c.description ?? null),
      part.map((c) => c.providerMessageId ?? null),
      part.map((c) => PREDECESSORS[c.status]!),
      source,
      part.map((c) => c.provider ?? null),
    ],
  );
  const byId = new Map(rows.map((r) => [r.id, r]));
  const applied = part.flatMap((c) => {
    const row = byId.get(c.messageId);
    return row?.applied ? [{ channel: row.channel, status: c.status, seconds: RECEIPT_STATUSES.has(c.status) ? row.since_sent : null }] : [];
  });
  countStatusChanges(applied);
  recordReceiptLatency(applied);
  return part.map((c) => {
    const row = byId.get(c.messageId);
    return row?.applied ? { messageId: c.messageId, applied: true } : { messageId: c.messageId, applied: false, refusedBy: row?.previous ?? undefined };
  });
}

/** The provider's answer names the message even when its status has moved on (a receipt came
 * first): keep the reference, so later receipts and the export find it. */
async function storeProviderReference(db: Queryable, changes: StatusChange[]): Promise<void> {
  await db.query(
    `update messages m set
       provider_message_id = coalesce(m.provider_message_id, c.provider_message_id),
       provider = coalesce(m.provider, c.provider),
       sent_at = case when c.status in ('SENT', 'PENDING') then coalesce(m.sent_at, now()) else m.sent_at end
     from unnest($1::uuid[], $2::text[], $3::text[], $4::text[]) as c(id, provider_message_id, provider, status)
     where m.id = c.id`,
    [changes.map((c) => c.messageId), changes.map((c) => c.providerMessageId ?? null), changes.map((c) => c.provider ?? null), changes.map((c) => c.status)],
  );
}

/** A receipt from a provider's webhook, named by the provider's message id. */
export interface ProviderReceipt {
  providerMessageId: string;
  status: MessageStatus;
  description?: string | null;
}

/**
 * Applies receipts named by provider message id. A receipt whose id is not known yet (it overtook
 * the SENT that records the id) is parked and applied as soon as the id appears — by the SENT
 * itself or, if the two crossed, by the sweep's {@link applyParkedReceipts}.
 */
export async function applyProviderReceipts(
  db: Queryable,
  args: { channel: string; provider: string; receipts: readonly ProviderReceipt[]; source: string },
): Promise<{ applied: number; parked: number }> {
  const { rows } = await db.query<{ id: string; provider_message_id: string }>(
    'select id, provider_message_id from messages where provider = $1 and provider_message_id = any($2::text[]) and channel = $3',
    [args.provider, args.receipts.map((r) => r.providerMessageId), args.channel],
  );
  const idByRef = new Map(rows.map((r) => [r.provider_message_id, r.id]));
  const known = args.receipts.filter((r) => idByRef.has(r.providerMessageId));
  const unknown = args.receipts.filter((r) => !idByRef.has(r.providerMessageId));
  const results = await applyStatusChanges(
    db,
    known.map((r) => ({ messageId: idByRef.get(r.providerMessageId)!, status: r.status, description: r.description ?? null })),
    args.source,
  );
  if (unknown.length > 0) {
    await db.query(
      `insert into parked_receipts (channel, provider, provider_message_id, status, description, source)
       select $1, $2, ref, status, description, $3 from unnest($4::text[], $5::text[], $6::text[]) as r(ref, status, description)`,
      [args.channel, args.provider, args.source, unknown.map((r) => r.providerMessageId), unknown.map((r) => r.status), unknown.map((r) => r.description ?? null)],
    );
    // The SENT may have landed between the lookup and the insert: match these once more now (only
    // these: a pass over every parked receipt per call made receipts that overtake their SENT
    // contend for the same rows, 73 messages/s through SMPP).
    await applyParkedReceipts(db, unknown.map((r) => ({ provider: args.provider, providerMessageId: r.providerMessageId })));
  }
  return { applied: results.filter((r) => r.applied).length, parked: unknown.length };
}

/** How long a receipt for an id that never appears is kept. */
const PARKED_RECEIPT_DAYS = 3;

/**
 * Applies parked receipts whose message is now known, oldest first, and forgets those older than
 * PARKED_RECEIPT_DAYS. With `references`, only those provider ids are looked at (the hot path
 * right after a SENT); without, every parked receipt (the sweep: their number stays small).
 */
export async function applyParkedReceipts(
  db: Queryable,
  references?: readonly { provider?: string | null; providerMessageId?: string | null; messageId?: string }[],
): Promise<number> {
  // With references, the statement starts from them (the hot path: usually nothing is parked): a
  // SENT names its message, a receipt just parked only its provider id.
  const byMessage = references?.every((r) => r.messageId !== undefined);
  const { rows } = await db.query<{ message_id: string; status: MessageStatus; description: string | null; source: string }>(
    !references
      ? `with taken as (
           delete from parked_receipts p using messages m
           where m.provider = p.provider and m.provider_message_id = p.provider_message_id and m.channel = p.channel
           returning p.id, m.id as message_id, p.status, p.description, p.source)
         select message_id, status, description, source from taken order by id`
      : byMessage
        ? `with refs as (select * from unnest($1::text[], $2::text[], $3::uuid[]) as r(provider, ref, message_id)),
           taken as (
             delete from parked_receipts p using refs r, messages m
             where p.provider = r.provider and p.provider_message_id = r.ref and m.id = r.message_id and m.channel = p.channel
             returning p.id, r.message_id, p.status, p.description, p.source)
           select message_id, status, description, source from taken order by id`
        : `with refs as (select * from unnest($1::text[], $2::text[]) as r(provider, ref)),
           taken as (
             delete from parked_receipts p using refs r, messages m
             where p.provider = r.provider and p.provider_message_id = r.ref
               and m.provider = p.provider and m.provider_message_id = p.provider_message_id and m.channel = p.channel
             returning p.id, m.id as message_id, p.status, p.description, p.source)
           select message_id, status, description, source from taken order by id`,
    !references
      ? []
      : byMessage
        ? [references.map((r) => r.provider), references.map((r) => r.providerMessageId), references.map((r) => r.messageId)]
        : [references.map((r) => r.provider), references.map((r) => r.providerMessageId)],
  );
  if (!references) await db.query(`delete from parked_receipts where received_at < now() - interval '${PARKED_RECEIPT_DAYS} days'`);
  const bySource = new Map<string, StatusChange[]>();
  for (const r of rows) {
    const list = bySource.get(r.source) ?? [];
    list.push({ messageId: r.message_id, status: r.status, description: r.description });
    bySource.set(r.source, list);
  }
  for (const [source, changes] of bySource) await applyStatusChanges(db, changes, source);
  return rows.length;
}

