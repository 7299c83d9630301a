import type { TaskStatus } from '../core/status';
import type { Queryable } from './messages';

/** A line in the task's timeline (`GET /api/v1/tasks/:id/history`). */
export async function recordTaskEvent(db: Queryable, taskId: string, kind: string, detail: Record<string, unknown> = {}): Promise<void> {
  await db.query('insert into task_events (task_id, kind, detail) values ($1, $2, $3)', [taskId, kind, JSON.stringify(detail)]);
}

export interface TaskRow {
  id: string;
  name: string;
  type: string;
  status: TaskStatus;
  templateId: string | null;
  timezone: string;
  sendWindows: { from: string; to: string }[];
  startAt: Date | null;
  total: number;
  rejected: number;
  workflowId: string;
  createdAt: Date;
  startedAt: Date | null;
  finishedAt: Date | null;
}

export async function getTask(db: Queryable, taskId: string): Promise<TaskRow | undefined> {
  const { rows } = await db.query(
    `select id, name, type, status, template_id, timezone, send_windows, start_at, total, rejected, workflow_id,
       created_at, started_at, finished_at from tasks where id = $1`,
    [taskId],
  );
  const r = rows[0];
  if (!r) return undefined;
  return {
    id: r.id,
    name: r.name,
    type: r.type,
    status: r.status,
    templateId: r.template_id,
    timezone: r.timezone,
    sendWindows: r.send_windows,
    startAt: r.start_at,
    total: r.total,
    rejected: r.rejected,
    workflowId: r.workflow_id,
    createdAt: r.created_at,
    startedAt: r.started_at,
    finishedAt: r.finished_at,
  };
}

/** Sets the task's status; `started_at`/`finished_at` are stamped the first time they apply. */
export async function setTaskStatus(db: Queryable, taskId: string, status: TaskStatus): Promise<void> {
  await db.query(
    `update tasks set status = $2,
       started_at = case when $2 = 'in_progress' then coalesce(started_at, now()) else started_at end,
       finished_at = case when $2 in ('completed', 'canceled', 'failed') then coalesce(finished_at, now()) else finished_at end
     where id = $1`,
    [taskId, status],
  );
}
