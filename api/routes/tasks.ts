import { WorkflowNotFoundError, WorkflowUpdateFailedError } from '@temporalio/client';
import { z } from 'zod';
import { TASK_STATUSES } from '../../core/status';
import { countByStatus } from '../../db/messages';
import { getTask } from '../../db/tasks';
import { cancelUpdate, pauseUpdate, resumeUpdate } from '../../workflows/definitions';
import type { ApiDeps } from '../deps';
import { conflict, notFound } from '../errors';
import { errorSchema, type ApiRegistry } from '../routing';
import { temporalUiUrl } from '../services/task-starter';

const taskSchema = z.object({
  id: z.uuid(),
  name: z.string(),
  type: z.string(),
  status: z.enum(TASK_STATUSES),
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
    { action: 'pause', update: pauseUpdate, summary: 'Pause: dispatch stops within seconds; unsent messages show PAUSED' },
    { action: 'resume', update: resumeUpdate, summary: 'Resume from the durable cursor: nobody re-sent, nobody skipped' },
    { action: 'cancel', update: cancelUpdate, summary: 'Cancel: every message not yet sent becomes CANCELED' },
  ] as const;
  for (const { action, update, summary } of transitions) {
    api.route(
      {
        method: 'post',
        path: `/api/v1/tasks/:id/${action}`,
        summary,
        tag: 'Tasks',
        auth: 'operator',
        responses: {
          200: { description: 'Accepted by the task workflow', schema: z.object({ status: z.string() }) },
          404: { description: 'Unknown task', schema: errorSchema },
          409: { description: 'Impossible in the task’s current state', schema: errorSchema },
        },
      },
      async ({ res, params }) => {
        const task = await loadTask(params.id);
        if (task.status === 'completed' || task.status === 'canceled' || task.status === 'failed') {
          throw conflict(`cannot ${action} a ${task.status} task`);
        }
        try {
          const result = await deps.temporal.workflow.getHandle(task.workflowId).executeUpdate(update, { args: [task.id] });
          res.json(result);
        } catch (error) {
          if (error instanceof WorkflowUpdateFailedError) throw conflict(`cannot ${action}: ${error.cause?.message ?? error.message}`);
          if (error instanceof WorkflowNotFoundError) throw conflict(`cannot ${action}: the task's workflow is not running`);
          throw error;
        }
      },
    );
  }
}
