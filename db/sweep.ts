import { scopeCondition, STREAM_TASK_TYPE, type Queryable, type TaskScope } from './messages';

/**
 * The timer-driven sweep of one task (DESIGN.md, "Lifetime and fallback"): instead of a timer per
 * message, the task workflow runs this every few seconds. Each step is one set-based statement.
 */

/** In-flight rows whose sending lifetime has passed become UNDELIVERED ("lifetime expired"). */
export async function expireLifetimes(db: Queryable, scope: TaskScope): Promise<number> {
  const where = scopeCondition(scope, 'm');
  const { rowCount } = await db.query(
    `with expired as (
       update messages m set status = 'UNDELIVERED', status_description = 'lifetime expired', status_at = now()
       where ${where.sql} and m.status in ('QUEUED', 'SENT', 'PENDING') and m.delivery_end_at < now()
       returning id)
     insert into message_events (message_id, status, description, source)
     select id, 'UNDELIVERED', 'lifetime expired', 'lifetime' from expired`,
    where.params,
  );
  return rowCount ?? 0;
}

/**
 * Decides held optional rows whose earlier attempts are all final:
 * - an earlier attempt was delivered → CANCELED ("not needed");
 * - every earlier attempt failed → the failed ones become SKIPPED/optional and this row is released;
 * - otherwise (an earlier attempt was canceled) → CANCELED.
 * Only rows whose every earlier attempt is final are decided, so a later optional channel waits
 * for the one before it.
 */
export async function resolveFallbacks(db: Queryable, scope: TaskScope): Promise<{ released: number; canceled: number }> {
  const where = scopeCondition(scope, 'o');
  const { rows } = await db.query<{ released: number; canceled: number }>(
    `with held as (
       select o.id, o.group_id, o.channel_index
       from messages o
       where ${where.sql} and not o.released and o.status = 'CREATED'
     ),
     decided as (
       select h.id, h.group_id, h.channel_index,
         bool_or(e.status in ('DELIVERED', 'READ')) as delivered,
         bool_and(e.status in ('UNDELIVERED', 'ERROR', 'SKIPPED')) as all_failed,
         bool_and(e.status in ('DELIVERED', 'READ', 'UNDELIVERED', 'ERROR', 'SKIPPED', 'CANCELED')) as all_final,
         (array_agg(e.channel order by e.channel_index) filter (where e.status in ('DELIVERED', 'READ')))[1] as delivered_on
       from held h join messages e on e.group_id = h.group_id and e.channel_index < h.channel_index
       group by h.id, h.group_id, h.channel_index
     ),
     skipped as (
       update messages f set status = 'SKIPPED', optional = true, status_at = now(),
         status_description = concat('Skipped, but optional: ', coalesce(f.status_description, lower(f.status)))
       from decided d
       where d.all_final and not d.delivered and d.all_failed
         and f.group_id = d.group_id and f.channel_index < d.channel_index and f.status in ('UNDELIVERED', 'ERROR')
       returning f.id, f.status_description
     ),
     released as (
       update messages r set released = true, status_at = now()
       from decided d where r.id = d.id and d.all_final and not d.delivered and d.all_failed
         and not r.released and r.status = 'CREATED'
       returning r.id
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
       union all select id, 'CREATED', 'released: every earlier channel failed', 'fallback' from released
     )
     select (select count(*) from released)::int as released, (select count(*) from canceled)::int as canceled`,
    where.params,
  );
  return rows[0] ?? { released: 0, canceled: 0 };
}

export interface TaskProgress {
  /** Released rows not yet handed to a provider, per channel. */
  waitingByChannel: Record<string, number>;
  inFlight: number;
  /** Optional rows not yet decided. */
  held: number;
}

export async function taskProgress(db: Queryable, taskId: string): Promise<TaskProgress> {
  const { rows } = await db.query<{ kind: string; channel: string | null; n: number }>(
    `select 'waiting' as kind, channel, count(*)::int as n from messages
       where task_id = $1 and released and status in ('CREATED', 'QUEUED', 'DELAYED', 'PAUSED') group by channel
     union all
     select 'in_flight', null, count(*)::int from messages where task_id = $1 and status in ('SENT', 'PENDING')
     union all
     select 'held', null, count(*)::int from messages where task_id = $1 and not released and status = 'CREATED'`,
    [taskId],
  );
  const progress: TaskProgress = { waitingByChannel: {}, inFlight: 0, held: 0 };
  for (const row of rows) {
    if (row.kind === 'waiting' && row.channel) progress.waitingByChannel[row.channel] = row.n;
    else if (row.kind === 'in_flight') progress.inFlight = row.n;
    else if (row.kind === 'held') progress.held = row.n;
  }
  return progress;
}

export function isTaskDone(progress: TaskProgress): boolean {
  return progress.inFlight === 0 && progress.held === 0 && Object.values(progress.waitingByChannel).every((n) => n === 0);
}

/** Stream tasks (API sends) with nothing left to send or hear about become completed. */
export async function completeFinishedStreamTasks(db: Queryable): Promise<string[]> {
  const { rows } = await db.query<{ id: string }>(
    `with done as (
       update tasks t set status = 'completed', finished_at = now()
       where t.type = '${STREAM_TASK_TYPE}' and t.status = 'in_progress'
         and not exists (select 1 from messages m where m.task_id = t.id
                         and m.status in ('CREATED', 'QUEUED', 'DELAYED', 'PAUSED', 'SENT', 'PENDING'))
       returning t.id)
     insert into task_events (task_id, kind) select id, 'completed' from done returning task_id as id`,
  );
  return rows.map((r) => r.id);
}

/** In-progress stream tasks with send windows and rows waiting to go: the stream sweep delays
 * those whose window has closed. */
export async function windowedStreamTasks(db: Queryable): Promise<{ id: string; timezone: string; sendWindows: { from: string; to: string }[] }[]> {
  const { rows } = await db.query(
    `select t.id, t.timezone, t.send_windows from tasks t
     where t.type = '${STREAM_TASK_TYPE}' and t.status = 'in_progress' and t.send_windows <> '[]'::jsonb
       and exists (select 1 from messages m where m.task_id = t.id and m.released and m.status = 'CREATED')`,
  );
  return rows.map((r) => ({ id: r.id, timezone: r.timezone, sendWindows: r.send_windows }));
}
