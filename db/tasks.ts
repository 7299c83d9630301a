import type { Pool } from 'pg';
import { nextWindowOpening, type SendWindow } from '../core/send-window';
import type { MessageStatus, TaskStatus } from '../core/status';
import type { Queryable } from './messages';
import { notifyDispatchReady } from './notify';
import { inTransaction } from './pool';
import { containsPattern } from './sql';
import { streamSweepTasks, type TaskScope } from './scope';
import { countStatusChanges } from '../activities/metrics';

/** A line in the task's timeline (`GET /api/v1/tasks/:id/history`). */
export async function recordTaskEvent(db: Queryable, taskId: string, kind: string, detail: Record<string, unknown> = {}): Promise<void> {
  await db.query('insert into task_events (task_id, kind, detail) values ($1, $2, $3)', [taskId, kind, JSON.stringify(detail)]);
}

export interface TaskRow {
  id: string;
  name: string;
  type: string;
  status: TaskStatus;
  fileName: string | null;
  duplicates: number;
  /** Why the task is in its status, when that needs saying (e.g. why it failed). */
  statusReason: string | null;
  templateId: string | null;
  timezone: string;
  sendWindows: SendWindow[];
  startAt: Date | null;
  total: number;
  rejected: number;
  workflowId: string;
  createdAt: Date;
  startedAt: Date | null;
  finishedAt: Date | null;
  /** Some rows have not yet followed the task's latest pause, resume or cancel (the sweep moves them). */
  controlPending: boolean;
}

export async function getTask(db: Queryable, taskId: string): Promise<TaskRow | undefined> {
  const { rows } = await db.query(
    `select ${TASK_COLUMNS} from tasks where id = $1 and deleted_at is null`,
    [taskId],
  );
  return rows[0] ? taskFromRow(rows[0]) : undefined;
}

const TASK_COLUMNS = `id, name, type, status, status_reason, template_id, timezone, send_windows, start_at, total, rejected, duplicates,
  file_name, workflow_id, created_at, started_at, finished_at, control_pending`;

function taskFromRow(r: any): TaskRow {
  return {
    id: r.id,
    name: r.name,
    type: r.type,
    status: r.status,
    statusReason: r.status_reason,
    templateId: r.template_id,
    timezone: r.timezone,
    sendWindows: r.send_windows,
    startAt: r.start_at,
    total: r.total,
    rejected: r.rejected,
    duplicates: r.duplicates,
    fileName: r.file_name,
    workflowId: r.workflow_id,
    createdAt: r.created_at,
    startedAt: r.started_at,
    finishedAt: r.finished_at,
    controlPending: r.control_pending,
  };
}

/** Sets the task's status; `started_at`/`finished_at` are stamped the first time they apply. */
export async function setTaskStatus(db: Queryable, taskId: string, status: TaskStatus, reason: string | null = null): Promise<void> {
  await db.query(
    `update tasks set status = $2, status_reason = $3,
       started_at = case when $2 = 'in_progress' then coalesce(started_at, now()) else started_at end,
       finished_at = case when $2 in ('completed', 'canceled', 'failed') then coalesce(finished_at, now()) else finished_at end
     where id = $1`,
    [taskId, status, reason],
  );
}

/** Task list categories (API.md): `completed` is every task that has ended. */
export const TASK_CATEGORIES = { created: ['created'], in_progress: ['in_progress'], paused: ['paused'], completed: ['completed', 'canceled', 'failed'] } as const;
export type TaskCategory = keyof typeof TASK_CATEGORIES;

/** One page of tasks, newest first, with their per-status counts. */
export async function listTasks(
  db: Queryable,
  filter: { name?: string; createdFrom?: Date; createdTo?: Date; category?: TaskCategory; type?: string; page: number; pageSize: number },
): Promise<{ items: (TaskRow & { counts: Record<string, number> })[]; total: number }> {
  const where = ['deleted_at is null'];
  const params: unknown[] = [];
  const param = (value: unknown) => `$${params.push(value)}`;
  if (filter.name) where.push(`name ilike ${param(containsPattern(filter.name))}`);
  if (filter.createdFrom) where.push(`created_at >= ${param(filter.createdFrom)}`);
  if (filter.createdTo) where.push(`created_at <= ${param(filter.createdTo)}`);
  if (filter.category) where.push(`status = any(${param(TASK_CATEGORIES[filter.category])})`);
  if (filter.type) where.push(`type = ${param(filter.type)}`);
  const condition = where.join(' and ');
  const { rows: count } = await db.query(`select count(*)::int as n from tasks where ${condition}`, params);
  const { rows } = await db.query(
    `select ${TASK_COLUMNS} from tasks where ${condition} order by created_at desc, id
     limit ${param(filter.pageSize)} offset ${param((filter.page - 1) * filter.pageSize)}`,
    params,
  );
  const counts = await countsByTask(db, rows.map((r) => r.id));
  return { items: rows.map((r) => ({ ...taskFromRow(r), counts: counts.get(r.id) ?? {} })), total: count[0].n };
}

/** Per-status message counts of tasks, from the counters the message triggers keep: the folded
 * counts plus the changes not folded yet. */
export async function countsByTask(db: Queryable, taskIds: readonly string[]): Promise<Map<string, Record<string, number>>> {
  const { rows } = await db.query<{ task_id: string; status: string; n: number }>(
    `select task_id, status, sum(n)::int as n from (
       select task_id, status, n from task_counts where task_id = any($1::uuid[])
       union all
       select task_id, status, n from task_count_changes where task_id = any($1::uuid[])) c
     group by task_id, status having sum(n) > 0`,
    [taskIds],
  );
  const counts = new Map<string, Record<string, number>>();
  for (const r of rows) (counts.get(r.task_id) ?? counts.set(r.task_id, {}).get(r.task_id)!)[r.status] = r.n;
  return counts;
}

/** Per-status message counts of one task. */
export async function countByStatus(db: Queryable, taskId: string): Promise<Partial<Record<MessageStatus, number>>> {
  return (await countsByTask(db, [taskId])).get(taskId) ?? {};
}

/**
 * Folds up to `limit` counter changes into `task_counts`, in a short transaction of its own: rows
 * another fold is taking are skipped, and counter rows are locked in key order. Only this touches
 * `task_counts`, so the statements that change messages never wait on a counter. Returns how many
 * changes it folded.
 */
export async function foldTaskCountChanges(pool: Pool, limit = 50_000): Promise<number> {
  const { rows } = await pool.query<{ n: number }>(
    `with taken as (
       -- The locking pick runs once (an InitPlan), whatever the statistics say: see sandbox.ts#deliverDue.
       delete from task_count_changes where id = any(array(
         select id from task_count_changes order by id limit $1 for update skip locked))
       returning task_id, status, n),
     folded as (
       insert into task_counts (task_id, status, n)
       select task_id, status, sum(n) from taken group by task_id, status order by task_id, status
       on conflict (task_id, status) do update set n = task_counts.n + excluded.n)
     select count(*)::int as n from taken`,
    [limit],
  );
  return rows[0]?.n ?? 0;
}

/** Who did something to a task, as its timeline names them. */
export interface Actor {
  apiKeyId: string;
  name: string;
}

/**
 * Starts a `created` campaign: `in_progress` from this moment (its workflow waits for `startAt`,
 * if any, and for its window). The caller starts the workflow; if that fails, the supervisor does.
 */
export async function startTask(db: Queryable, taskId: string, by?: Actor): Promise<{ workflowId: string; name: string; templateId: string | null }> {
  const { rows } = await db.query(
    `update tasks set status = 'in_progress', started_at = coalesce(started_at, now())
     where id = $1 and status = 'created' and deleted_at is null returning workflow_id, name, template_id`,
    [taskId],
  );
  if (!rows[0]) {
    const task = await getTask(db, taskId);
    if (!task) throw new TaskTransitionError(`task ${taskId} not found`, true);
    throw new TaskTransitionError(task.status === 'in_progress' ? 'task is already in progress' : `cannot start a task that is ${task.status.replace('_', ' ')}`);
  }
  await recordTaskEvent(db, taskId, 'started', by ? { by } : {});
  return { workflowId: rows[0].workflow_id, name: rows[0].name, templateId: rows[0].template_id };
}

export type TaskAction = 'pause' | 'resume' | 'cancel';

/** The one table of task transitions, for campaigns and API sends alike. */
export const TASK_TRANSITIONS: Record<TaskAction, { from: readonly TaskStatus[]; to: TaskStatus; event: string }> = {
  pause: { from: ['in_progress'], to: 'paused', event: 'paused' },
  resume: { from: ['paused'], to: 'in_progress', event: 'resumed' },
  cancel: { from: ['created', 'in_progress', 'paused'], to: 'canceled', event: 'canceled' },
};

/** A refused transition: `notFound`, or the task's status does not allow the action (a 409). */
export class TaskTransitionError extends Error {
  constructor(
    message: string,
    readonly notFound = false,
  ) {
    super(message);
  }
}

function refusal(action: TaskAction, status: TaskStatus): string {
  if (TASK_TRANSITIONS[action].to === status) return `task is already ${status.replace('_', ' ')}`;
  return `cannot ${action} a task that is ${status.replace('_', ' ')}`;
}

/**
 * Rows not yet handed to a provider and not held by a live dispatch attempt: what a pause, cancel
 * or failure stops. A row a dispatcher holds is handed over or returned by it within its page
 * (db/dispatch.ts), and a returned row of a stopped task is then PAUSED or CANCELED the same way.
 */
const UNHELD_WAITING = `(m.status in ('CREATED', 'DELAYED', 'PAUSED')
  or (m.status = 'QUEUED' and (m.owner is null or m.lease_until < clock_timestamp())))`;

/** A task as its rows follow it: its status (and, failed, the reason) and its send window. */
interface ControlledTask {
  id: string;
  status: TaskStatus;
  status_reason: string | null;
  send_windows: SendWindow[];
  timezone: string;
}

/**
 * Rows a pause, resume or cancel moves in the transaction that answers it. The task row is what
 * stops and starts dispatch (dispatchers read it when they claim), so the answer need not wait
 * for a large task's rows: the sweep moves the rest in batches of SWEEP_BATCH (a 300,000-row
 * campaign's pause answered in 68 s when every row moved before the answer).
 */
export const CONTROL_ANSWER_ROWS = 5000;
/** Passes the answering transaction makes over rows others hold before it leaves them to the sweep. */
const LOCKED_ROW_PASSES = 20;
const LOCKED_ROW_PAUSE_MS = 25;

/**
 * Moves up to `limit` of a task's rows to where its status says they belong, in one statement:
 * paused → waiting rows PAUSED; canceled or failed → waiting and held rows CANCELED; in progress
 * → PAUSED rows back (DELAYED with their opening when the window is closed). It never waits for
 * a row lock: a statement over many rows that waits on rows a dispatcher or a receipt batch holds,
 * while they wait on rows it took, is a deadlock (it was, for a 200,000-row campaign in full
 * dispatch). Rows held elsewhere are skipped and taken in a later pass, once their holder
 * committed — by then a claimed row is owned (its dispatcher gives it back as PAUSED/CANCELED,
 * db/dispatch.ts), a sent one in flight. Returns how many rows moved and whether any are left.
 */
async function settleRows(db: Queryable, task: ControlledTask, limit: number, now: Date): Promise<{ moved: number; left: boolean }> {
  let where: string;
  let set: { status: MessageStatus; description: string | null; delayedStartAt: Date | null };
  if (task.status === 'in_progress') {
    const opening = nextWindowOpening(now, task.send_windows, task.timezone);
    const delayed = opening.getTime() > now.getTime();
    where = `m.task_id = $1 and m.status = 'PAUSED'`;
    set = delayed
      ? { status: 'DELAYED', description: 'outside the send window', delayedStartAt: opening }
      : { status: 'CREATED', description: null, delayedStartAt: null };
  } else if (task.status === 'paused') {
    where = `m.task_id = $1 and ${UNHELD_WAITING} and m.status <> 'PAUSED' and m.released`;
    set = { status: 'PAUSED', description: 'task paused', delayedStartAt: null };
  } else if (task.status === 'canceled' || task.status === 'failed') {
    where = `m.task_id = $1 and ${UNHELD_WAITING}`;
    const description = task.status === 'canceled' ? 'task canceled' : `task failed: ${task.status_reason ?? 'unknown reason'}`;
    set = { status: 'CANCELED', description, delayedStartAt: null };
  } else {
    return { moved: 0, left: false }; // created or completed: no row waits on a control state
  }
  const { rows } = await db.query<{ channel: string; status: string; n: number }>(
    `with target as (select m.id from messages m where ${where} limit $5 for update of m skip locked),
     changed as (
       update messages m set status = $2, status_description = $3, status_at = now(), delayed_start_at = $4,
         owner = null, lease_until = null
       from target where m.id = target.id
       returning m.id, m.channel),
     logged as (insert into message_events (message_id, status, description, source) select id, $2, $3, 'control' from changed)
     select channel, $2 as status, count(*)::int as n from changed group by channel`,
    [task.id, set.status, set.description, set.delayedStartAt, limit],
  );
  countStatusChanges(rows);
  const moved = rows.reduce((sum, r) => sum + r.n, 0);
  if (set.status === 'CREATED') await notifyDispatchReady(db, rows.map((r) => r.channel));
  const { rows: left } = await db.query(`select exists (select 1 from messages m where ${where}) as left`, [task.id]);
  return { moved, left: left[0].left as boolean };
}

/**
 * The answering transaction's share of a control change: the task's rows follow its new status
 * up to CONTROL_ANSWER_ROWS, waiting briefly for rows others hold. What is left is marked on the
 * task (`control_pending`) for the sweep.
 */
async function settleRowsOnAnswer(db: Queryable, task: ControlledTask): Promise<number> {
  let moved = 0;
  for (let pass = 0; ; pass++) {
    const step = await settleRows(db, task, CONTROL_ANSWER_ROWS - moved, new Date());
    moved += step.moved;
    const pending = step.left && (moved >= CONTROL_ANSWER_ROWS || pass >= LOCKED_ROW_PASSES);
    if (!step.left || pending) {
      await db.query('update tasks set control_pending = $2 where id = $1', [task.id, pending]);
      return moved;
    }
    await new Promise((resolve) => setTimeout(resolve, LOCKED_ROW_PAUSE_MS));
  }
}

/**
 * The sweep's share (db/sweep.ts): moves the rows of tasks marked `control_pending` in `scope`
 * to where their task's status says, a batch per transaction, at most `maxRows` in one sweep (so
 * the workflow dispatches a resumed task's rows already back while the rest follow in its next
 * sweeps, a second apart), and clears the mark when none is left. Each batch locks the task row first, so it acts on the status as it is and a pause,
 * resume or cancel answering meanwhile waits for it (a task another sweep is settling is
 * skipped). The rows moved are added to the task's latest control event, so its timeline says
 * how many rows the change moved in all. Returns the rows moved.
 */
export async function settleControlledRows(pool: Pool, scope: TaskScope, batch: number, maxRows: number, onBatch: () => void): Promise<number> {
  const { rows: pending } = await pool.query<{ id: string }>(
    'taskId' in scope
      ? `select id from tasks where control_pending and id = $1`
      : `select id from tasks t where control_pending and ${streamSweepTasks('t')}`,
    'taskId' in scope ? [scope.taskId] : [],
  );
  let total = 0;
  for (const { id } of pending) {
    while (total < maxRows) {
      const step = await inTransaction(pool, async (client) => {
        const { rows } = await client.query<ControlledTask>(
          `select id, status, status_reason, send_windows, timezone from tasks where id = $1 and control_pending
           for no key update skip locked`,
          [id],
        );
        const task = rows[0];
        if (!task) return { moved: 0, left: false };
        const settled = await settleRows(client, task, batch, new Date());
        if (settled.moved > 0) {
          await client.query(
            `update task_events set detail = jsonb_set(detail, '{messages}', to_jsonb(coalesce((detail->>'messages')::int, 0) + $2))
             where id = (select id from task_events where task_id = $1 and kind = any($3) order by id desc limit 1)`,
            [id, settled.moved, CONTROL_EVENT_KINDS],
          );
        }
        if (!settled.left) await client.query('update tasks set control_pending = false where id = $1', [id]);
        return settled;
      });
      total += step.moved;
      // Rows others hold stay for the next sweep rather than being waited for here.
      if (!step.left || step.moved === 0) break;
      onBatch();
    }
  }
  return total;
}

/** Timeline events of control changes, whose `messages` the sweep completes. */
const CONTROL_EVENT_KINDS = [...Object.values(TASK_TRANSITIONS).map((t) => t.event), 'failed'];

/**
 * Pauses, resumes or cancels a task — the same for a campaign and for an API send. The task row
 * is where a task's control state lives: this transaction changes it, and dispatchers read it when
 * they claim (db/dispatch.ts), so what this answers is what happens from the moment it commits.
 * The task's rows follow in the same transaction up to CONTROL_ANSWER_ROWS, the rest in the next
 * sweeps; a campaign's workflow is told afterwards, to act on it.
 * - pause: waiting rows become PAUSED; rows already handed over stay in flight;
 * - resume: PAUSED rows come back (DELAYED with their opening when the window is closed now);
 * - cancel: waiting and held (optional) rows become CANCELED; rows in flight finish on their own.
 */
export async function controlTask(
  pool: Pool,
  taskId: string,
  action: TaskAction,
  options: { by?: Actor } = {},
): Promise<{ status: TaskStatus; type: string; workflowId: string }> {
  return inTransaction(pool, async (client) => {
    const { rows } = await client.query<ControlledTask & { type: string; workflow_id: string }>(
      'select id, status, status_reason, type, workflow_id, send_windows, timezone from tasks where id = $1 and deleted_at is null for update',
      [taskId],
    );
    const task = rows[0];
    if (!task) throw new TaskTransitionError(`task ${taskId} not found`, true);
    const { from, to, event } = TASK_TRANSITIONS[action];
    if (!from.includes(task.status)) throw new TaskTransitionError(refusal(action, task.status));
    await setTaskStatus(client, taskId, to);
    const messages = await settleRowsOnAnswer(client, { ...task, status: to });
    await recordTaskEvent(client, taskId, event, {
      messages,
      ...(options.by ? { by: options.by } : {}),
    });
    return { status: to, type: task.type, workflowId: task.workflow_id };
  });
}

/**
 * Ends a task that cannot go on (its workflow failed or is gone): `failed` with the reason, and
 * every row not yet handed over CANCELED (the rest of a large task's by the notifications stream's
 * sweep, which covers failed tasks). Rows in flight finish on their own. Returns false when the
 * task had already ended.
 */
export async function failTask(pool: Pool, taskId: string, reason: string): Promise<boolean> {
  return inTransaction(pool, async (client) => {
    const { rows } = await client.query<ControlledTask>(
      `update tasks set status = 'failed', status_reason = $2, finished_at = coalesce(finished_at, now())
       where id = $1 and status in ('created', 'in_progress', 'paused')
       returning id, status, status_reason, send_windows, timezone`,
      [taskId, reason],
    );
    if (!rows[0]) return false;
    const messages = await settleRowsOnAnswer(client, rows[0]);
    await recordTaskEvent(client, taskId, 'failed', { reason, messages });
    return true;
  });
}
