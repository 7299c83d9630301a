import type { Pool, PoolClient } from 'pg';
import { MESSAGE_STATUSES, WAITING_STATUSES, allowedPredecessors, type MessageStatus } from '../core/status';

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
}

function chunks<T>(items: readonly T[], size = BULK_CHUNK): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/** Number of parameters the message insert uses; `with` CTEs of a caller number theirs after it. */
export const MESSAGE_INSERT_PARAMS = 23;

/**
 * Inserts message rows and their first event in bulk (unnest arrays: one round trip per chunk).
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
      `with ${extra ? `${extra.ctes},` : ''} inserted as (
         insert into messages (id, task_id, group_id, send_id, seq, channel, channel_index, optional, released, status,
           status_description, sender, recipient, external_id, text, payload, variables, template_id, template_name,
           parts, cost, lifetime_seconds, delayed_start_at)
         select id, task_id, group_id, send_id, seq, channel, channel_index, optional, not optional, status,
           status_description, sender, recipient, external_id, text, payload, variables, template_id, template_name,
           parts, cost, lifetime_seconds, delayed_start_at
         from unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::text[], $5::int[], $6::text[], $7::int[], $8::bool[],
           $9::text[], $10::text[], $11::text[], $12::text[], $13::text[], $14::text[], $15::jsonb[], $16::jsonb[],
           $17::uuid[], $18::text[], $19::int[], $20::numeric[], $21::float8[], $23::timestamptz[])
           as r(id, task_id, group_id, send_id, seq, channel, channel_index, optional, status, status_description,
             sender, recipient, external_id, text, payload, variables, template_id, template_name, parts, cost,
             lifetime_seconds, delayed_start_at)
         returning id, status, status_description)
       insert into message_events (message_id, status, description, source)
       select id, status, status_description, $22 from inserted`,
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
        ...(extra?.params ?? []),
      ],
    );
  }
}

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
  /** The row's status before this change (undefined: no such message). */
  previous?: MessageStatus;
}

/**
 * Applies status changes through the state machine in one statement per chunk: a change that the
 * machine forbids (a late or out-of-order receipt) is not applied to the row but is still kept in
 * the message's event log. A message id may appear once per call; later changes for the same
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
    for (const part of chunks(round)) results.push(...(await applyRound(db, part, source)));
    pending = later;
  }
  return results;
}

async function applyRound(db: Queryable, part: StatusChange[], source: string): Promise<StatusChangeResult[]> {
  // The guard is a per-row expression (m.status = any(c.allowed_from)), not a join with a table of
  // pairs: when a concurrent update changed the row first, PostgreSQL re-checks the guard against
  // the new row but keeps the joined rows it had, so a join would wrongly refuse a legal change.
  const { rows } = await db.query<{ id: string; applied: boolean; previous: MessageStatus }>(
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
       returning m.id
     ),
     logged as (
       insert into message_events (message_id, status, description, source)
       select c.id, c.status,
         case when u.id is null
           then concat('not applied: status was ', m.status, case when c.description is not null then concat('; ', c.description) end)
           else c.description end,
         $6
       from incoming c join messages m on m.id = c.id left join updated u on u.id = c.id
     )
     select c.id, u.id is not null as applied, m.status as previous
     from incoming c join messages m on m.id = c.id left join updated u on u.id = c.id`,
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
  return part.map((c) => {
    const row = byId.get(c.messageId);
    return row ? { messageId: c.messageId, applied: row.applied, previous: row.previous } : { messageId: c.messageId, applied: false };
  });
}

export interface ClaimedMessage {
  id: string;
  seq: number;
  sendId: string;
  channel: string;
  recipient: string;
  sender: string | null;
  text: string | null;
  payload: Record<string, unknown> | null;
  deliveryEndAt: Date;
}

/**
 * Which messages a dispatcher or sweep works on: one campaign task (its own workflow), or every
 * task of the notifications stream (API sends, dispatched together by one long-running workflow).
 */
export type TaskScope = { taskId: string } | { stream: true };

export const STREAM_TASK_TYPE = 'api';

/** SQL condition on `alias.task_id` for a scope; `$1` is the task id in the task scope. */
export function scopeCondition(scope: TaskScope, alias = 'm'): { sql: string; params: unknown[] } {
  if ('taskId' in scope) return { sql: `${alias}.task_id = $1`, params: [scope.taskId] };
  return {
    sql: `${alias}.task_id in (select id from tasks where type = '${STREAM_TASK_TYPE}' and status in ('in_progress', 'paused', 'canceled'))`,
    params: [],
  };
}

/**
 * Claims the next page of released, not-yet-sent rows on one channel (QUEUED, the lifetime starts
 * counting). Rows left QUEUED by a crashed attempt are claimed again and resubmitted under the
 * same send id, which providers deduplicate. A campaign pages by `seq` after a cursor (and a
 * partition); the stream takes the oldest rows of in-progress API tasks whose window is open.
 */
export async function claimForDispatch(
  db: Queryable,
  args: { scope: TaskScope; channel: string; afterSeq: number; limit: number; partition?: { index: number; count: number } },
): Promise<ClaimedMessage[]> {
  const partition = args.partition ?? { index: 0, count: 1 };
  const selection =
    'taskId' in args.scope
      ? {
          sql: `select id from messages
                where task_id = $1 and channel = $2 and released and status in ('CREATED', 'QUEUED', 'DELAYED', 'PAUSED')
                  and seq > $3 and seq % $5 = $6
                order by seq limit $4
                for update skip locked`,
          params: [args.scope.taskId, args.channel, args.afterSeq, args.limit, partition.count, partition.index],
        }
      : {
          sql: `select m.id from messages m join tasks t on t.id = m.task_id
                where m.channel = $1 and m.released and m.status in ('CREATED', 'QUEUED', 'DELAYED')
                  and (m.delayed_start_at is null or m.delayed_start_at <= now())
                  and t.type = '${STREAM_TASK_TYPE}' and t.status = 'in_progress'
                order by m.registered_at limit $2
                for update of m skip locked`,
          params: [args.channel, args.limit],
        };
  const { rows } = await db.query(
    `with claimed as (
       update messages m set
         status = 'QUEUED',
         status_description = null,
         status_at = now(),
         queued_at = coalesce(m.queued_at, now()),
         delivery_end_at = coalesce(m.delivery_end_at, now() + make_interval(secs => m.lifetime_seconds)),
         delayed_start_at = null
       where m.id in (${selection.sql})
       returning m.id, m.seq, m.send_id, m.channel, m.recipient, m.sender, m.text, m.payload, m.delivery_end_at
     ),
     logged as (insert into message_events (message_id, status, source) select id, 'QUEUED', 'dispatcher' from claimed)
     select * from claimed order by seq`,
    selection.params,
  );
  return rows.map((r) => ({
    id: r.id,
    seq: r.seq,
    sendId: r.send_id,
    channel: r.channel,
    recipient: r.recipient,
    sender: r.sender,
    text: r.text,
    payload: r.payload,
    deliveryEndAt: r.delivery_end_at,
  }));
}

/** Moves a task's waiting rows to `status` in one statement, with an event each. By default every
 * waiting status, QUEUED included: only callers that know dispatch has stopped rely on that; the
 * others name the statuses in `from`. */
export async function setWaitingStatus(
  db: Queryable,
  taskId: string,
  status: 'PAUSED' | 'DELAYED' | 'CREATED' | 'CANCELED',
  description: string | null,
  delayedStartAt: Date | null = null,
  options: { includeUnreleased?: boolean; from?: readonly MessageStatus[] } = {},
): Promise<number> {
  const { rowCount } = await db.query(
    `with changed as (
       update messages set status = $2, status_description = $3, status_at = now(), delayed_start_at = $4
       where task_id = $1 and status = any($6::text[]) and status <> $2
         and (released or $5)
       returning id)
     insert into message_events (message_id, status, description, source)
     select id, $2, $3, 'workflow' from changed`,
    [taskId, status, description, delayedStartAt, options.includeUnreleased ?? false, options.from ?? WAITING_STATUSES],
  );
  return rowCount ?? 0;
}

export async function countByStatus(db: Queryable, taskId: string): Promise<Partial<Record<MessageStatus, number>>> {
  const { rows } = await db.query<{ status: MessageStatus; n: number }>(
    'select status, count(*)::int as n from messages where task_id = $1 group by status',
    [taskId],
  );
  return Object.fromEntries(rows.map((r) => [r.status, r.n]));
}
