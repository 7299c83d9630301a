/**
 * Which tasks a dispatcher or a sweep works on. A campaign's workflow works on its own task; the
 * notifications stream works on every API send (tasks of type `api`) — and its sweep also on
 * canceled or failed campaigns, whose workflow may be gone while rows they handed over are still
 * waiting for a receipt or the end of their lifetime.
 */
export type TaskScope = { taskId: string } | { stream: true };

/** Task type of API sends (`POST /api/v1/notifications`), dispatched by the notifications stream. */
export const STREAM_TASK_TYPE = 'api';

/**
 * SQL condition on `<alias>.task_id` for a sweep's scope. The stream's condition is a per-row
 * lookup of the row's task (never a list of tasks), so its cost follows the rows looked at.
 * `param` is the placeholder number the task id takes in the task scope.
 */
export function sweepScopeCondition(scope: TaskScope, alias: string, param: number): { sql: string; params: unknown[] } {
  if ('taskId' in scope) return { sql: `${alias}.task_id = $${param}`, params: [scope.taskId] };
  return { sql: `exists (select 1 from tasks st where st.id = ${alias}.task_id and ${streamSweepTasks('st')})`, params: [] };
}

/** SQL condition on a `tasks` row (`alias`): the tasks the stream's sweep covers. */
export function streamSweepTasks(alias: string): string {
  return `(${alias}.type = '${STREAM_TASK_TYPE}' or ${alias}.status in ('canceled', 'failed'))`;
}

/**
 * The same condition as a filter only, for statements that must be driven by an index of their
 * own (the rows whose lifetime or lease ended): written as `(…) is true`, PostgreSQL cannot start
 * from the task's rows or join from the tasks table. With statistics a few minutes old during a
 * million-row campaign it did — a bitmap over the task's 400,000 live rows to find none expired,
 * 0.9 s a sweep.
 */
export function sweepScopeFilter(scope: TaskScope, alias: string, param: number): { sql: string; params: unknown[] } {
  const condition = sweepScopeCondition(scope, alias, param);
  return { sql: `(${condition.sql}) is true`, params: condition.params };
}
