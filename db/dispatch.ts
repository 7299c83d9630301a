import { isWithinSendWindow, type SendWindow } from '../core/send-window';
import { CLAIMABLE_STATUSES } from '../core/status';
import type { Queryable } from './messages';
import { sqlList } from './sql';
import { notifyDispatchReady } from './notify';
import { STREAM_TASK_TYPE, type TaskScope } from './scope';
import { countStatusChanges, recordClaimLag } from '../activities/metrics';

/**
 * The gate every hand-over passes, for campaigns and API sends alike (DESIGN.md, "One control
 * model"): a row is claimed only if, at that moment,
 * - its task is `in_progress` (read from the task row in the claiming statement itself, so a pause
 *   or cancel committed before it stops the claim) and has reached its `startAt`;
 * - its task's send window is open (core/send-window.ts, the one definition of a window);
 * - it is released (a fallback row only once every earlier channel failed), not waiting for a
 *   not-before time (a provider said "try later"), within its lifetime, and owned by nobody: a
 *   claim sets an owner and a lease; a row whose lease lapsed (its dispatcher died) is given back
 *   by the sweep (`returnLapsedClaims`), then claimed again and resubmitted under the same send id.
 */

/** How long a claim is owned. A dispatcher submits only while well inside its lease. */
export const LEASE_SECONDS = 60;
/** A claimed page is handed over only if at least this much of its lease is left: the provider
 * call must finish within it (adapters time out their requests well below it). */
export const SUBMIT_MARGIN_MS = 20_000;

/** The claimable statuses but QUEUED: a row in one of them has no owner (only a claim sets one). */
const WAITING_UNOWNED = sqlList(CLAIMABLE_STATUSES.filter((s) => s !== 'QUEUED'));

/**
 * Rows a dispatcher may claim: released, not handed over yet, not paused, owned by nobody — rows
 * the dispatch index (`messages_dispatch`) holds, which also keeps PAUSED ones for a resume. A
 * claimed row leaves the index, so a claim never walks the rows in flight, and the claim itself
 * writes no entry there (Migration20261130300000_dispatch_unowned). `m` is the alias of `messages`.
 */
export function claimableRow(m: string): string {
  return `${m}.released and (${m}.status in (${WAITING_UNOWNED}) or (${m}.status = 'QUEUED' and ${m}.owner is null))`;
}

export interface ClaimedMessage {
  id: string;
  taskId: string;
  seq: number;
  sendId: string;
  channel: string;
  recipient: string;
  sender: string | null;
  text: string | null;
  payload: Record<string, unknown> | null;
  deliveryEndAt: Date;
  /** How many times the row has been claimed, this claim included. */
  attempts: number;
}

export interface ClaimedPage {
  messages: ClaimedMessage[];
  /** Local time (ms) after which the page must not be handed over any more. */
  submitBefore: number;
  /** True when the scope's task is running but outside its send window. */
  windowClosed: boolean;
}

interface RunningTask {
  id: string;
  sendWindows: SendWindow[];
  timezone: string;
}

/** Where the stream's search for tasks with waiting rows goes on from, so every task gets its turn. */
export interface ClaimRotation {
  after: string | null;
}

/** Tasks a stream claim looks at, at most: each gets an equal share of the page (as many as a
 * page has rows, so a burst of single-recipient sends still goes out a full page at a time). */
const STREAM_TASKS_PER_CLAIM = 500;

/** Running, started tasks of the scope that have claimable rows on the channel. */
async function runningTasks(db: Queryable, scope: TaskScope, channel: string, rotation?: ClaimRotation): Promise<RunningTask[]> {
  const started = `t.status = 'in_progress' and (t.start_at is null or t.start_at <= now())`;
  if ('taskId' in scope) {
    const { rows } = await db.query(`select t.id, t.send_windows, t.timezone from tasks t where t.id = $1 and ${started}`, [scope.taskId]);
    return rows.map((r) => ({ id: r.id, sendWindows: r.send_windows, timezone: r.timezone }));
  }
  // Distinct task ids with claimable rows on the channel, walked in the dispatch index (a loose
  // index scan: one probe per task, whatever their backlog), from where the last claim stopped.
  const { rows } = await db.query(
    `with recursive waiting(task_id) as (
       (select m.task_id from messages m where m.channel = $1 and ${claimableRow('m')}
          and m.task_id > coalesce($2::uuid, '00000000-0000-0000-0000-000000000000') order by m.task_id limit 1)
       union all
       select (select m.task_id from messages m where m.channel = $1 and ${claimableRow('m')}
                 and m.task_id > w.task_id order by m.task_id limit 1)
       from waiting w where w.task_id is not null)
     select t.id, t.send_windows, t.timezone
     from waiting w join tasks t on t.id = w.task_id
     where t.type = '${STREAM_TASK_TYPE}' and ${started}
     limit $3`,
    [channel, rotation?.after ?? null, STREAM_TASKS_PER_CLAIM],
  );
  if (rotation) rotation.after = rows.length === STREAM_TASKS_PER_CLAIM ? rows[rows.length - 1].id : null;
  return rows.map((r) => ({ id: r.id, sendWindows: r.send_windows, timezone: r.timezone }));
}

/**
 * Claims up to `limit` rows of the scope on one channel (QUEUED, owned by `owner`, the lifetime
 * starts counting), shared fairly among the scope's running tasks whose window is open now.
 */
export async function claimForDispatch(
  db: Queryable,
  args: {
    scope: TaskScope;
    channel: string;
    limit: number;
    owner: string;
    partition?: { index: number; count: number };
    rotation?: ClaimRotation;
    /** Claim only rows after this `seq` (a campaign's dispatcher moving forward): the rows it
     * claimed before stay in the dispatch index as dead entries until vacuum, and a claim that
     * started from the first `seq` each time walked them all — at a million rows, most of the
     * claim's time. */
    afterSeq?: number;
  },
): Promise<ClaimedPage> {
  const submitBefore = Date.now() + LEASE_SECONDS * 1000 - SUBMIT_MARGIN_MS;
  const now = new Date();
  const running = await runningTasks(db, args.scope, args.channel, args.rotation);
  const open = running.filter((t) => isWithinSendWindow(now, t.sendWindows, t.timezone));
  const windowClosed = running.length > 0 && open.length === 0;
  if (open.length === 0) return { messages: [], submitBefore, windowClosed };
  const partition = args.partition ?? { index: 0, count: 1 };
  const { rows } = await db.query(
    `with picked as (
       select c.row, c.id, c.status as previous,
         greatest(c.status_at, c.not_before, c.delayed_start_at, tk.started_at, tk.start_at) as ready_at
       from unnest($1::uuid[]) as t(id)
       join tasks tk on tk.id = t.id
       cross join lateral (
         select m.ctid as row, m.id, m.status, m.status_at, m.not_before, m.delayed_start_at from messages m
         where m.task_id = t.id and m.channel = $2 and ${claimableRow('m')}
           and (m.not_before is null or m.not_before <= clock_timestamp())
           and (m.delivery_end_at is null or m.delivery_end_at > clock_timestamp())
           and m.seq % $6 = $7 ${args.afterSeq !== undefined ? 'and m.seq > $8' : ''}
         order by m.seq
         limit $3
         for update of m skip locked) c
     ),
     claimed as (
       update messages m set
         status = 'QUEUED',
         status_description = null,
         status_at = now(),
         owner = $4,
         lease_until = clock_timestamp() + make_interval(secs => $5),
         attempts = m.attempts + 1,
         queued_at = coalesce(m.queued_at, now()),
         delivery_end_at = coalesce(m.delivery_end_at, now() + make_interval(secs => m.lifetime_seconds)),
         delayed_start_at = null,
         not_before = null
       from picked p
       -- The picked row is locked, so its version stays where it was found: reached by its
       -- ctid (a TID scan) rather than through the primary key again. A task paused or canceled
       -- since the list of running tasks was read gets nothing (looked up once, not per row).
       where m.ctid = p.row and m.id = p.id
         and m.task_id = any(array(select t.id from tasks t where t.id = any($1::uuid[]) and t.status = 'in_progress'))
       returning m.id, m.task_id, m.seq, m.send_id, m.channel, m.recipient, m.sender, m.text, m.payload, m.delivery_end_at,
         m.attempts, p.previous, extract(epoch from clock_timestamp() - p.ready_at)::float8 as lag_seconds
     ),
     logged as (
       insert into message_events (message_id, status, source) select id, 'QUEUED', 'dispatcher' from claimed where previous <> 'QUEUED')
     select * from claimed order by seq`,
    [
      open.map((t) => t.id),
      args.channel,
      Math.ceil(args.limit / open.length),
      args.owner,
      LEASE_SECONDS,
      partition.count,
      partition.index,
      ...(args.afterSeq !== undefined ? [args.afterSeq] : []),
    ],
  );
  countStatusChanges(rows.filter((r) => r.previous !== 'QUEUED').map((r) => ({ channel: r.channel, status: 'QUEUED' })));
  recordClaimLag(args.channel, rows.map((r) => r.lag_seconds));
  return {
    submitBefore,
    windowClosed: false,
    messages: rows.map((r) => ({
      id: r.id,
      taskId: r.task_id,
      seq: r.seq,
      sendId: r.send_id,
      channel: r.channel,
      recipient: r.recipient,
      sender: r.sender,
      text: r.text,
      payload: r.payload,
      deliveryEndAt: r.delivery_end_at,
      attempts: r.attempts,
    })),
  };
}

/**
 * What becomes of a QUEUED row nobody holds any more (its claim returned, or its lease lapsed):
 * in a running task it is claimable again at once; in a paused task it waits PAUSED; in a task
 * that ended it is CANCELED — the same rule as a pause or cancel applies to rows not yet claimed.
 * `selection` is an SQL condition on `m`.
 */
function returnUnheldRowsSql(selection: string, limit = ''): string {
  return `with target as (
       select m.id from messages m where m.status = 'QUEUED' and ${selection} ${limit} for update of m skip locked
     ),
     returned as (
       update messages m set
         owner = null,
         lease_until = null,
         status = case t.status when 'in_progress' then m.status when 'paused' then 'PAUSED' else 'CANCELED' end,
         status_description = case t.status when 'in_progress' then m.status_description else concat('task ', t.status) end,
         status_at = case t.status when 'in_progress' then m.status_at else now() end
       from target, tasks t
       where m.id = target.id and t.id = m.task_id
       returning m.id, m.status, m.status_description, m.channel, t.status as task_status
     ),
     logged as (
       insert into message_events (message_id, status, description, source)
       select id, status, status_description, 'dispatcher' from returned where task_status <> 'in_progress'
     )
     select count(*)::int as n, coalesce(array_agg(distinct channel) filter (where task_status = 'in_progress'), '{}') as ready
     from returned`;
}

async function returnUnheldRows(db: Queryable, sql: string, params: unknown[]): Promise<number> {
  const { rows } = await db.query<{ n: number; ready: string[] }>(sql, params);
  await notifyDispatchReady(db, rows[0]?.ready ?? []);
  return rows[0]?.n ?? 0;
}

/** Gives back rows this owner claimed but did not hand over (it was stopped, or its lease ran short). */
export async function returnClaims(db: Queryable, owner: string, messageIds: readonly string[]): Promise<number> {
  if (messageIds.length === 0) return 0;
  return returnUnheldRows(db, returnUnheldRowsSql('m.id = any($1::uuid[]) and m.owner = $2'), [messageIds, owner]);
}

/** Rows whose dispatcher died: their lease lapsed. At most `limit` a call; `scope` is an SQL
 * condition on `m` (see db/scope.ts). */
export async function returnLapsedClaims(db: Queryable, scope: { sql: string; params: unknown[] }, limit: number): Promise<number> {
  return returnUnheldRows(
    db,
    // now(), not clock_timestamp(): a stable bound is an index range on messages_lease; a volatile
    // one made every sweep read the whole index.
    returnUnheldRowsSql(`m.owner is not null and m.lease_until < now() and ${scope.sql}`, `limit ${Number(limit)}`),
    scope.params,
  );
}

/**
 * A provider answered "try later" (throttled, unavailable): the row goes back, unowned, with a
 * not-before time, so it never holds up the rest of its channel; the attempt is written to the
 * message's event log.
 */
export async function retryLater(
  db: Queryable,
  owner: string,
  retries: readonly { messageId: string; reason: string; delayMs: number }[],
  source: string,
): Promise<void> {
  if (retries.length === 0) return;
  await db.query(
    `with retried as (
       update messages m set owner = null, lease_until = null, status_description = r.reason,
         not_before = clock_timestamp() + make_interval(secs => r.delay_ms / 1000.0)
       from unnest($1::uuid[], $2::text[], $3::int[]) as r(id, reason, delay_ms)
       where m.id = r.id and m.owner = $4 and m.status = 'QUEUED'
       returning m.id, m.not_before, r.reason)
     insert into message_events (message_id, status, description, source)
     select id, 'QUEUED', concat(reason, '; retry after ', to_char(not_before at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')), $5
     from retried`,
    [retries.map((r) => r.messageId), retries.map((r) => r.reason), retries.map((r) => Math.round(r.delayMs)), owner, source],
  );
}
