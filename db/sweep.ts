import { nextWindowOpening, type SendWindow } from '../core/send-window';
import { claimableRow, returnLapsedClaims } from './dispatch';
import type { Queryable } from './messages';
import { notifyDispatchReady } from './notify';
import { streamSweepTasks, STREAM_TASK_TYPE, sweepScopeCondition, sweepScopeFilter, type TaskScope } from './scope';
import { countByStatus, countsByTask, recordTaskEvent, settleControlledRows } from './tasks';
import type { Pool } from 'pg';
import { CHANNELS } from '../core/channels';
import { countStatusChanges } from '../activities/metrics';

/**
 * The timer-driven sweep (DESIGN.md, "Lifetime and fallback"): instead of a timer per message, a
 * task's workflow — or, for API sends, the notifications stream — runs this every second or so.
 * The steps are the same for both scopes; each statement touches at most SWEEP_BATCH rows and
 * starts from an index of the rows still waiting or in flight, so one pass stays short whatever
 * the backlog and costs nothing for tasks that are over.
 */
export const SWEEP_BATCH = 5000;
/** Rows moved to follow a pause, resume or cancel in one sweep: about two seconds' work. */
const SETTLE_ROWS_PER_SWEEP = 4 * SWEEP_BATCH;

/** Rows whose lifetime may have started and that are not final yet. */
const LIVE = `'CREATED', 'DELAYED', 'PAUSED', 'QUEUED', 'SENT', 'PENDING'`;

export interface SweepCounts {
  /** Rows moved to follow their task's pause, resume or cancel (the part its answer left). */
  settled: number;
  returned: number;
  expired: number;
  released: number;
  canceled: number;
  delayed: number;
}

/** Runs every step of the sweep on a scope; `onBatch` is called between statements (heartbeats). */
export async function sweep(db: Pool, scope: TaskScope, onBatch: () => void = () => undefined): Promise<SweepCounts> {
  const counts: SweepCounts = { settled: 0, returned: 0, expired: 0, released: 0, canceled: 0, delayed: 0 };
  const condition = sweepScopeFilter(scope, 'm', 1);
  // First, so the later steps see rows where their task's status says they belong.
  counts.settled = await settleControlledRows(db, scope, SWEEP_BATCH, SETTLE_ROWS_PER_SWEEP, onBatch);
  counts.returned = await whileFull(() => returnLapsedClaims(db, condition, SWEEP_BATCH), onBatch);
  counts.expired = await whileFull(() => expireLifetimes(db, scope), onBatch);
  const fallbacks = await resolveFallbacks(db, scope, onBatch);
  counts.released = fallbacks.released;
  counts.canceled = fallbacks.canceled;
  counts.delayed = await delayOutsideWindow(db, scope, new Date());
  return counts;
}

/** Repeats a bounded statement while it hits its bound; returns the rows it touched in all. */
async function whileFull(step: () => Promise<number>, onBatch: () => void): Promise<number> {
  let total = 0;
  for (;;) {
    const n = await step();
    total += n;
    if (n < SWEEP_BATCH) return total;
    onBatch();
  }
}

/**
 * Rows whose sending lifetime has passed become UNDELIVERED ("lifetime expired"): those handed
 * over and waiting for a receipt, and those tried once that wait again (paused, retry later). A
 * row held by a live claim is left to its dispatcher, which never hands over an expired row.
 * Email is the exception for what was handed over: mail servers report failures (bounces), not
 * deliveries, so an email accepted and not bounced within its lifetime is DELIVERED.
 */
export async function expireLifetimes(db: Queryable, scope: TaskScope): Promise<number> {
  const where = sweepScopeFilter(scope, 'm', 1);
  const { rows } = await db.query<{ channel: string; status: string; n: number }>(
    `with target as (
       select m.id, case when m.channel = 'email' and m.status in ('SENT', 'PENDING') then 'DELIVERED' else 'UNDELIVERED' end as status
       from messages m
       where m.delivery_end_at < now() and m.delivery_end_at is not null and m.status in (${LIVE})
         and not (m.status = 'QUEUED' and m.owner is not null and m.lease_until > clock_timestamp())
         and ${where.sql}
       order by m.delivery_end_at
       limit ${SWEEP_BATCH}
       for update of m skip locked),
     expired as (
       update messages m set status = target.status,
         status_description = case target.status when 'DELIVERED' then 'no bounce within the lifetime' else 'lifetime expired' end,
         status_at = now(), owner = null, lease_until = null
       from target where m.id = target.id
       returning m.id, m.status, m.status_description, m.channel),
     logged as (
       insert into message_events (message_id, status, description, source)
       select id, status, status_description, 'lifetime' from expired)
     select channel, status, count(*)::int as n from expired group by channel, status`,
    where.params,
  );
  countStatusChanges(rows);
  return rows.reduce((sum, r) => sum + r.n, 0);
}

/**
 * The earlier attempts of a held row `h` (`group_id`, `channel_index`): the rows of its group on the
 * channels before its own. The group's first row is the one whose id is the group's id, found by
 * its primary key; `messages_group` holds the others — later channels' rows, and first rows
 * registered before groups took their first row's id — and the second branch repeats its predicate
 * so the planner may use it (Migration20261201000000_group_first_row).
 */
const EARLIER_ATTEMPTS = `
  select e.id, e.channel, e.channel_index, e.status from messages e
  where e.id = h.group_id and e.group_id = h.group_id and e.channel_index < h.channel_index
  union all
  select e.id, e.channel, e.channel_index, e.status from messages e
  where e.group_id = h.group_id and e.channel_index < h.channel_index and (e.channel_index > 0 or e.id <> e.group_id)`;

interface HeldPage {
  looked: number;
  released: number;
  canceled: number;
  last_task: string;
  last_id: string;
  ready: string[];
}

/**
 * Decides held optional rows whose earlier attempts are all final:
 * - an earlier attempt was delivered → CANCELED ("not needed");
 * - every earlier attempt failed → the failed ones become SKIPPED/optional and this row is released
 *   (CREATED, or PAUSED when its task is paused; its window is checked when it is claimed);
 * - otherwise (an earlier attempt was canceled) → CANCELED.
 * Only rows whose every earlier attempt is final are decided, so a later optional channel waits
 * for the one before it. Pages through the held rows by (task, id).
 */
export async function resolveFallbacks(
  db: Queryable,
  scope: TaskScope,
  onBatch: () => void = () => undefined,
): Promise<{ released: number; canceled: number }> {
  const totals = { released: 0, canceled: 0 };
  let after: { taskId: string; id: string } | null = null;
  for (;;) {
    const where = sweepScopeCondition(scope, 'o', 3);
    const { rows }: { rows: HeldPage[] } = await db.query<HeldPage>(
      `with held as (
         select o.id, o.task_id, o.group_id, o.channel_index
         from messages o
         where not o.released and o.status = 'CREATED' and ${where.sql}
           and ($1::uuid is null or (o.task_id, o.id) > ($1::uuid, $2::uuid))
         order by o.task_id, o.id
         limit ${SWEEP_BATCH}
       ),
       decided as (
         select h.id, h.group_id, h.channel_index,
           bool_or(e.status in ('DELIVERED', 'READ')) as delivered,
           bool_and(e.status in ('UNDELIVERED', 'ERROR', 'SKIPPED')) as all_failed,
           bool_and(e.status in ('DELIVERED', 'READ', 'UNDELIVERED', 'ERROR', 'SKIPPED', 'CANCELED')) as all_final,
           (array_agg(e.channel order by e.channel_index) filter (where e.status in ('DELIVERED', 'READ')))[1] as delivered_on,
           array_agg(e.id) filter (where e.status in ('UNDELIVERED', 'ERROR')) as failed
         from held h cross join lateral (${EARLIER_ATTEMPTS}) e
         group by h.id, h.group_id, h.channel_index
       ),
       skipped as (
         update messages f set status = 'SKIPPED', optional = true, status_at = now(),
           status_description = concat('Skipped, but optional: ', coalesce(f.status_description, lower(f.status)))
         from decided d
         where d.all_final and not d.delivered and d.all_failed
           and f.id = any(d.failed) and f.status in ('UNDELIVERED', 'ERROR')
         returning f.id, f.status_description
       ),
       released as (
         update messages r set released = true, status_at = now(),
           status = case when t.status = 'paused' then 'PAUSED' else 'CREATED' end,
           status_description = case when t.status = 'paused' then 'task paused' end
         from decided d, tasks t
         where r.id = d.id and t.id = r.task_id and d.all_final and not d.delivered and d.all_failed
           and not r.released and r.status = 'CREATED'
         returning r.id, r.status, r.channel
       ),
       canceled as (
         update messages c set status = 'CANCELED', status_at = now(),
           status_description = case when d.delivered then concat('not needed: delivered on ', d.delivered_on)
                                     else 'not needed: an earlier attempt was canceled' end
         from decided d where c.id = d.id and d.all_final and (d.delivered or not d.all_failed)
           and not c.released and c.status = 'CREATED'
         returning c.id, c.status_description
       ),
       logged as (
         insert into message_events (message_id, status, description, source)
         select id, 'SKIPPED', status_description, 'fallback' from skipped
         union all select id, 'CANCELED', status_description, 'fallback' from canceled
         union all select id, status, 'released: every earlier channel failed', 'fallback' from released
       )
       select (select count(*) from held)::int as looked,
         (select count(*) from released)::int as released,
         (select count(*) from canceled)::int as canceled,
         (select task_id from held order by task_id desc, id desc limit 1) as last_task,
         (select id from held order by task_id desc, id desc limit 1) as last_id,
         (select coalesce(array_agg(distinct channel), '{}') from released where status = 'CREATED') as ready`,
      [after?.taskId ?? null, after?.id ?? null, ...where.params],
    );
    const row: HeldPage = rows[0]!;
    totals.released += row.released;
    totals.canceled += row.canceled;
    await notifyDispatchReady(db, row.ready);
    if (row.looked < SWEEP_BATCH) return totals;
    after = { taskId: row.last_task, id: row.last_id };
    onBatch();
  }
}

/**
 * Shows rows of running tasks whose send window is closed as DELAYED with the time their window
 * opens (`delayed_start_at`). Display only: the claim checks the window itself, so a row that is
 * CREATED at night is not sent either.
 */
export async function delayOutsideWindow(db: Queryable, scope: TaskScope, now: Date): Promise<number> {
  const { rows: tasks } = await db.query<{ id: string; send_windows: SendWindow[]; timezone: string }>(
    'taskId' in scope
      ? `select id, send_windows, timezone from tasks where id = $1 and status = 'in_progress' and send_windows <> '[]'::jsonb`
      : `select id, send_windows, timezone from tasks
         where type = '${STREAM_TASK_TYPE}' and status = 'in_progress' and send_windows <> '[]'::jsonb`,
    'taskId' in scope ? [scope.taskId] : [],
  );
  const closed = tasks
    .map((t) => ({ id: t.id, opening: nextWindowOpening(now, t.send_windows, t.timezone) }))
    .filter((t) => t.opening.getTime() > now.getTime());
  if (closed.length === 0) return 0;
  const { rows } = await db.query<{ task_id: string; opening: Date; messages: number }>(
    `with windows as (select * from unnest($1::uuid[], $2::timestamptz[]) as w(task_id, opening)),
     target as (
       select m.id, m.status as previous, w.opening
       from messages m join windows w on w.task_id = m.task_id
       where m.released and m.status in ('CREATED', 'DELAYED') and m.delayed_start_at is distinct from w.opening
       for update of m skip locked),
     delayed as (
       update messages m set status = 'DELAYED', status_description = 'outside the send window', delayed_start_at = t.opening,
         status_at = case when t.previous = 'DELAYED' then m.status_at else now() end
       from target t where m.id = t.id
       returning m.id, m.task_id, t.opening, t.previous),
     logged as (
       insert into message_events (message_id, status, description, source)
       select id, 'DELAYED', 'outside the send window', 'window' from delayed where previous <> 'DELAYED')
     select task_id, opening, count(*)::int as messages from delayed where previous <> 'DELAYED' group by task_id, opening`,
    [closed.map((t) => t.id), closed.map((t) => t.opening)],
  );
  for (const r of rows) await recordTaskEvent(db, r.task_id, 'waiting_for_window', { until: r.opening.toISOString(), messages: r.messages });
  return rows.reduce((sum, r) => sum + r.messages, 0);
}

export interface TaskProgress {
  /** Rows a dispatcher could claim now, per channel. */
  claimableByChannel: Record<string, number>;
  /** Released rows not yet handed to a provider (claimable, paused, delayed, or waiting to be retried). */
  waiting: number;
  /** Handed to a provider, no final answer yet. */
  inFlight: number;
  /** Optional rows not yet decided. */
  held: number;
}

/** A channel with more claimable rows than this is "large" (gets every dispatch partition); claimable
 * rows are counted up to one more than this, so a sweep's cost does not grow with the backlog. */
export const CLAIMABLE_COUNT_CAP = 1001;

/**
 * A task's progress, read from its counters (the triggers' per-status counts, db/tasks.ts) rather
 * than from its rows: at a million rows, counting the live rows on every sweep cost more than the
 * sweep itself. Held rows are counted in their own small partial index; claimable rows per channel
 * are probed in the dispatch index, up to CLAIMABLE_COUNT_CAP.
 */
export async function taskProgress(db: Queryable, taskId: string): Promise<TaskProgress> {
  const counts = await countByStatus(db, taskId);
  const { rows } = await db.query<{ held: number; claimable: { channel: string; n: number }[] }>(
    `select (select count(*) from messages where task_id = $1 and not released and status = 'CREATED')::int as held,
       (select coalesce(json_agg(json_build_object('channel', c.channel, 'n', c.n)) filter (where c.n > 0), '[]')
        from (select ch as channel, (select count(*) from (
                select 1 from messages m
                where m.channel = ch and m.task_id = $1 and ${claimableRow('m')}
                  and (m.not_before is null or m.not_before <= clock_timestamp())
                -- Backwards in the dispatch index: the rows still to send are the last ones, the
                -- first are claimed (dead entries until vacuum). Unordered, the planner read the
                -- table from its start: 0.9 s a sweep midway through a million-row campaign.
                order by m.seq desc
                limit ${CLAIMABLE_COUNT_CAP}) x)::int as n
              from unnest($2::text[]) as ch) c) as claimable`,
    [taskId, CHANNELS],
  );
  return { claimableByChannel: Object.fromEntries(rows[0]!.claimable.map((c) => [c.channel, c.n])), ...rowsInProgress(counts, rows[0]!.held) };
}

/** Waiting, in flight and held rows from per-status counts and the held rows (CREATED, not released,
 * counted apart: the counters do not tell them from CREATED rows ready to send). */
function rowsInProgress(counts: Partial<Record<string, number>>, held: number): { waiting: number; inFlight: number; held: number } {
  const n = (status: string) => counts[status] ?? 0;
  return { waiting: n('CREATED') - held + n('DELAYED') + n('PAUSED') + n('QUEUED'), inFlight: n('SENT') + n('PENDING'), held };
}

/** The API sends' rows waiting, in flight and held (running stream tasks), for the row gauges. */
export async function streamProgress(db: Queryable): Promise<{ waiting: number; inFlight: number; held: number }> {
  const { rows } = await db.query<{ id: string }>(`select id from tasks where type = '${STREAM_TASK_TYPE}' and status = 'in_progress'`);
  const counts = await countsByTask(db, rows.map((r) => r.id));
  const { rows: heldRows } = await db.query<{ n: number }>(
    `select count(*)::int as n from messages m join tasks t on t.id = m.task_id
     where not m.released and m.status = 'CREATED' and t.type = '${STREAM_TASK_TYPE}' and t.status = 'in_progress'`,
  );
  const total: Record<string, number> = {};
  for (const byStatus of counts.values()) for (const [status, n] of Object.entries(byStatus)) total[status] = (total[status] ?? 0) + n;
  return rowsInProgress(total, heldRows[0]!.n);
}

/** Nothing of the task is waiting, in flight or held. */
export function isTaskDone(progress: TaskProgress): boolean {
  return progress.waiting === 0 && progress.inFlight === 0 && progress.held === 0;
}

/** Running stream tasks (API sends) with nothing left to send or hear about become completed. */
export async function completeFinishedStreamTasks(db: Queryable): Promise<string[]> {
  const { rows } = await db.query<{ id: string }>(
    `with done as (
       update tasks t set status = 'completed', finished_at = now()
       where t.type = '${STREAM_TASK_TYPE}' and t.status = 'in_progress'
         -- OFFSET 0 keeps this a probe of each task's live rows (messages_task_live). As an anti
         -- join, a plan from stale statistics (one API task estimated, hundreds running) scanned
         -- the whole live index per task: 8–9 s a sweep beside a 300,000-row campaign.
         and not exists (select 1 from messages m where m.task_id = t.id and m.status in (${LIVE}) offset 0)
       returning t.id)
     insert into task_events (task_id, kind) select id, 'completed' from done returning task_id as id`,
  );
  return rows.map((r) => r.id);
}

/** Whether the stream has something to watch: a running API task, or a row handed over and
 * waiting for its receipt or its lifetime. Only then does the stream sweep every second. */
export async function streamHasWork(db: Queryable): Promise<boolean> {
  const { rows } = await db.query(
    `select exists (select 1 from tasks t where t.type = '${STREAM_TASK_TYPE}' and t.status = 'in_progress')
         or exists (select 1 from tasks t where t.control_pending and ${streamSweepTasks('t')})
         or exists (select 1 from messages m where m.delivery_end_at is not null and m.status in (${LIVE})
                    and m.status in ('QUEUED', 'SENT', 'PENDING')) as busy`,
  );
  return rows[0]?.busy === true;
}
