import type { Pool } from 'pg';
import type { SendWindow } from '../core/send-window';
import type { TaskStatus } from '../core/status';
import { setWaitingStatus } from '../db/messages';
import { expireLifetimes, isTaskDone, resolveFallbacks, taskProgress, type TaskProgress } from '../db/sweep';
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
      const expired = await expireLifetimes(pool, taskId);
      const { released, canceled } = await resolveFallbacks(pool, taskId);
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
