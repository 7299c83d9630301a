import { ApplicationFailure, Context } from '@temporalio/activity';
import type { Pool } from 'pg';
import { nextWindowOpening, type SendWindow } from '../core/send-window';
import type { TaskStatus } from '../core/status';
import { setWaitingStatus } from '../db/messages';
import { completeFinishedStreamTasks, expireLifetimes, isTaskDone, resolveFallbacks, taskProgress, windowedStreamTasks, type TaskProgress } from '../db/sweep';
import { getTask, recordTaskEvent, setTaskStatus } from '../db/tasks';

export interface TaskPlan {
  name: string;
  templateId: string | null;
  timezone: string;
  sendWindows: SendWindow[];
  /** ISO time before which nothing is sent (`startAt`), if any. */
  startAt: string | null;
  /** Parallel dispatch activities per channel. */
  dispatchPartitions: number;
}

export interface SweepResult extends TaskProgress {
  expired: number;
  released: number;
  canceled: number;
  done: boolean;
}

/** Activities on the orchestrator's task queue: task bookkeeping and the periodic sweep. */
export function createControlActivities(deps: { pool: Pool; dispatchPartitions: number }) {
  const { pool } = deps;
  return {
    /** Marks the task in progress and returns what the workflow needs to schedule it. */
    async beginTask(taskId: string): Promise<TaskPlan> {
      const task = await getTask(pool, taskId);
      if (!task) throw new Error(`task ${taskId} not found`);
      if (task.status === 'created') {
        await setTaskStatus(pool, taskId, 'in_progress');
        await recordTaskEvent(pool, taskId, 'started');
      }
      return {
        name: task.name,
        templateId: task.templateId,
        timezone: task.timezone,
        sendWindows: task.sendWindows,
        startAt: task.startAt ? task.startAt.toISOString() : null,
        dispatchPartitions: deps.dispatchPartitions,
      };
    },

    async waitForWindow(taskId: string, until: string): Promise<void> {
      const changed = await setWaitingStatus(pool, taskId, 'DELAYED', 'outside the send window', new Date(until));
      await recordTaskEvent(pool, taskId, 'waiting_for_window', { until, messages: changed });
    },

    async pauseTask(taskId: string): Promise<void> {
      const changed = await setWaitingStatus(pool, taskId, 'PAUSED', 'task paused');
      await setTaskStatus(pool, taskId, 'paused');
      await recordTaskEvent(pool, taskId, 'paused', { messages: changed });
    },

    async resumeTask(taskId: string): Promise<void> {
      await setTaskStatus(pool, taskId, 'in_progress');
      await recordTaskEvent(pool, taskId, 'resumed');
    },

    async sweepTask(taskId: string): Promise<SweepResult> {
      const expired = await expireLifetimes(pool, { taskId });
      const { released, canceled } = await resolveFallbacks(pool, { taskId });
      const progress = await taskProgress(pool, taskId);
      return { ...progress, expired, released, canceled, done: isTaskDone(progress) };
    },

    /** Ends the task. Canceling marks every message not yet handed to a provider CANCELED. */
    async finishTask(taskId: string, status: Extract<TaskStatus, 'completed' | 'canceled' | 'failed'>): Promise<void> {
      if (status !== 'completed') {
        await setWaitingStatus(pool, taskId, 'CANCELED', status === 'canceled' ? 'task canceled' : 'task failed', null, {
          includeUnreleased: true,
        });
      }
      await setTaskStatus(pool, taskId, status);
      await recordTaskEvent(pool, taskId, status);
    },
  };
}

export type ControlActivities = ReturnType<typeof createControlActivities>;

export type StreamTaskAction = 'pause' | 'resume' | 'cancel';
/** Task status each action needs, and what it leads to. */
const STREAM_TRANSITIONS: Record<StreamTaskAction, { from: TaskStatus[]; to: TaskStatus }> = {
  pause: { from: ['in_progress'], to: 'paused' },
  resume: { from: ['paused'], to: 'in_progress' },
  cancel: { from: ['in_progress', 'paused'], to: 'canceled' },
};

/** How often the stream sweep runs: lifetimes, fallbacks, windows and completion of API sends. */
export const STREAM_SWEEP_MS = 500;

/**
 * Activities of the notifications stream (API sends). Its tasks share one workflow, so their
 * control state lives in the tasks table: the stream's dispatch claims rows of in-progress tasks
 * only, and a row already claimed is let through to the provider.
 */
export function createStreamControlActivities(deps: { pool: Pool }) {
  const { pool } = deps;
  return {
    async controlStreamTask(taskId: string, action: StreamTaskAction): Promise<{ status: TaskStatus }> {
      const { from, to } = STREAM_TRANSITIONS[action];
      const client = await pool.connect();
      try {
        await client.query('begin');
        const { rows } = await client.query('select status from tasks where id = $1 for update', [taskId]);
        const current = rows[0]?.status as TaskStatus | undefined;
        if (!current || !from.includes(current)) {
          await client.query('rollback');
          throw ApplicationFailure.nonRetryable(`cannot ${action} a task that is ${current ?? 'unknown'}`, 'InvalidTransition');
        }
        await setTaskStatus(client, taskId, to);
        if (action === 'pause') {
          const changed = await setWaitingStatus(client, taskId, 'PAUSED', 'task paused', null, { from: ['CREATED', 'DELAYED'] });
          await recordTaskEvent(client, taskId, 'paused', { messages: changed });
        } else if (action === 'resume') {
          await setWaitingStatus(client, taskId, 'CREATED', null, null, { from: ['PAUSED'] });
          await recordTaskEvent(client, taskId, 'resumed');
        } else {
          const changed = await setWaitingStatus(client, taskId, 'CANCELED', 'task canceled', null, {
            from: ['CREATED', 'DELAYED', 'PAUSED'],
            includeUnreleased: true,
          });
          await recordTaskEvent(client, taskId, 'canceled', { messages: changed });
        }
        await client.query('commit');
        return { status: to };
      } catch (error) {
        await client.query('rollback').catch(() => undefined);
        throw error;
      } finally {
        client.release();
      }
    },

    /** Runs the stream's sweep every STREAM_SWEEP_MS for `runForMs`. */
    async streamSweep(input: { runForMs: number }): Promise<{ completedTasks: number }> {
      const ctx = Context.current();
      const until = Date.now() + input.runForMs;
      let completedTasks = 0;
      while (Date.now() < until && !ctx.cancellationSignal.aborted) {
        await expireLifetimes(pool, { stream: true });
        await resolveFallbacks(pool, { stream: true });
        const now = new Date();
        for (const task of await windowedStreamTasks(pool)) {
          const opening = nextWindowOpening(now, task.sendWindows, task.timezone);
          if (opening.getTime() > now.getTime()) {
            const changed = await setWaitingStatus(pool, task.id, 'DELAYED', 'outside the send window', opening, { from: ['CREATED'] });
            if (changed > 0) await recordTaskEvent(pool, task.id, 'waiting_for_window', { until: opening.toISOString(), messages: changed });
          }
        }
        completedTasks += (await completeFinishedStreamTasks(pool)).length;
        ctx.heartbeat();
        await new Promise((resolve) => setTimeout(resolve, STREAM_SWEEP_MS));
      }
      return { completedTasks };
    },
  };
}

export type StreamControlActivities = ReturnType<typeof createStreamControlActivities>;
