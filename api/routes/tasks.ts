import { z } from 'zod';
import { TASK_STATUSES } from '../../core/status';
import { countByStatus } from '../../db/messages';
import { STREAM_TASK_TYPE } from '../../db/scope';
import { controlTask, getTask, TaskTransitionError } from '../../db/tasks';
import { signalTaskControl, temporalUiUrl } from '../../workflows/client';
import type { ApiDeps } from '../deps';
import { conflict, notFound } from '../errors';
import { errorSchema, type ApiRegistry } from '../routing';

const taskSchema = z.object({
  id: z.uuid(),
  name: z.string(),
  type: z.string(),
  status: z.enum(TASK_STATUSES),
  statusReason: z.string().nullable(),
  createdAt: z.string(),
  startedAt: z.string().nullable(),
  finishedAt: z.string().nullable(),
  total: z.number().int(),
  counts: z.record(z.string(), z.number().int()),
  workflowId: z.string(),
  temporalUiUrl: z.string(),
});

export function registerTaskRoutes(api: ApiRegistry, deps: ApiDeps): void {
  const loadTask = async (id: string | undefined) => {
    const task = id && z.uuid().safeParse(id).success ? await getTask(deps.pool, id) : undefined;
    if (!task) throw notFound(`task ${id}`);
    return task;
  };

  api.route(
    {
      method: 'get',
      path: '/api/v1/tasks/:id',
      summary: 'A task with its per-status message counts and its Temporal UI link',
      tag: 'Tasks',
      auth: 'operator',
      responses: { 200: { description: 'The task', schema: taskSchema }, 404: { description: 'Unknown task', schema: errorSchema } },
    },
    async ({ res, params }) => {
      const task = await loadTask(params.id);
      res.json({
        id: task.id,
        name: task.name,
        type: task.type,
        status: task.status,
        statusReason: task.statusReason,
        createdAt: task.createdAt.toISOString(),
        startedAt: task.startedAt?.toISOString() ?? null,
        finishedAt: task.finishedAt?.toISOString() ?? null,
        total: task.total,
        rejected: task.rejected,
        counts: await countByStatus(deps.pool, task.id),
        workflowId: task.workflowId,
        temporalUiUrl: temporalUiUrl(deps.config, task.workflowId),
      });
    },
  );

  api.route(
    {
      method: 'get',
      path: '/api/v1/tasks/:id/history',
      summary: "The task's timeline (created, started, waited for window, paused, resumed, completed…) with per-status counts",
      tag: 'Tasks',
      auth: 'operator',
      responses: {
        200: {
          description: 'Timeline',
          schema: z.object({
            taskId: z.uuid(),
            events: z.array(z.object({ kind: z.string(), at: z.string(), detail: z.record(z.string(), z.unknown()) })),
            counts: z.record(z.string(), z.number().int()),
          }),
        },
        404: { description: 'Unknown task', schema: errorSchema },
      },
    },
    async ({ res, params }) => {
      const task = await loadTask(params.id);
      const { rows } = await deps.pool.query('select kind, detail, created_at from task_events where task_id = $1 order by id', [task.id]);
      res.json({
        taskId: task.id,
        events: rows.map((r) => ({ kind: r.kind, at: r.created_at.toISOString(), detail: r.detail })),
        counts: await countByStatus(deps.pool, task.id),
      });
    },
  );

  const transitions = [
    { action: 'pause', summary: 'Pause: no message is handed to a provider from the moment this answers; unsent messages show PAUSED' },
    { action: 'resume', summary: 'Resume: paused messages go on (DELAYED until the window opens); nobody re-sent, nobody skipped' },
    { action: 'cancel', summary: 'Cancel: every message not yet sent becomes CANCELED; messages in flight finish' },
  ] as const;
  for (const { action, summary } of transitions) {
    api.route(
      {
        method: 'post',
        path: `/api/v1/tasks/:id/${action}`,
        summary,
        tag: 'Tasks',
        auth: 'operator',
        responses: {
          200: { description: 'Done: the task’s new status', schema: z.object({ status: z.string() }) },
          404: { description: 'Unknown task', schema: errorSchema },
          409: { description: 'Impossible in the task’s current state', schema: errorSchema },
        },
      },
      async ({ req, res, params }) => {
        if (!params.id || !z.uuid().safeParse(params.id).success) throw notFound(`task ${params.id}`);
        let changed: Awaited<ReturnType<typeof controlTask>>;
        try {
          changed = await controlTask(deps.pool, params.id, action);
        } catch (error) {
          if (error instanceof TaskTransitionError) throw error.notFound ? notFound(`task ${params.id}`) : conflict(error.message);
          throw error;
        }
        // The task row is changed: from now on no dispatcher hands its rows over (API sends need no
        // more than that). A campaign's workflow is told, to act on it at once.
        if (changed.type !== STREAM_TASK_TYPE) {
          const told = await signalTaskControl(deps.temporal, changed.workflowId).catch((error) => {
            req.log.warn({ err: error, taskId: params.id }, 'task workflow not signalled; it reads the task row at its next sweep');
            return true;
          });
          if (!told) req.log.warn({ taskId: params.id }, 'task workflow not found; the supervisor restarts or fails it');
        }
        res.json({ status: changed.status });
      },
    );
  }
}
