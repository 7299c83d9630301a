import { Context } from '@temporalio/activity';
import type { Pool } from 'pg';
import type { SendWindow } from '../core/send-window';
import type { TaskStatus } from '../core/status';
import { applyParkedReceipts } from '../db/messages';
import { ANY_CHANNEL, type DispatchWakeups } from '../db/notify';
import { completeFinishedStreamTasks, isTaskDone, streamHasWork, streamProgress, sweep, taskProgress, type SweepCounts, type TaskProgress } from '../db/sweep';
import { recordTaskProgress, timeSweep } from './metrics';
import { controlTask, failTask, getTask, recordTaskEvent, setTaskStatus, TaskTransitionError } from '../db/tasks';
import { keepHeartbeating, sleep } from './heartbeat';

/** What a campaign's workflow learns from one sweep of its task: the task row (its control state,
 * window and start time, as they are now) and its rows' progress. */
export interface TaskSweep extends TaskProgress, SweepCounts {
  status: TaskStatus;
  timezone: string;
  sendWindows: SendWindow[];
  /** ISO time before which nothing is sent (`startAt`), if any. */
  startAt: string | null;
  done: boolean;
  /** Rows are still following the task's latest pause, resume or cancel: sweep again soon. */
  settling: boolean;
}

/** How often the stream sweeps while it has work (lifetimes, fallbacks, windows, completion). */
export const STREAM_SWEEP_MS = 500;
/** The stream's rows for the /metrics gauges are counted this often (campaigns: by each sweep). */
const STREAM_PROGRESS_MS = 5000;
const STREAM_PROGRESS_KEY = 'notifications-stream';
/** With nothing to watch, the stream sweeps when new sends are announced, or this often. */
export const STREAM_IDLE_SWEEP_MS = 15_000;

/** Activities on the orchestrator's task queue: task bookkeeping and the sweeps. */
export function createControlActivities(deps: { pool: Pool; wakeups?: DispatchWakeups; dispatchPartitions: number }) {
  const { pool } = deps;
  return {
    /** Marks a created task in progress; returns how many dispatchers a large channel gets. */
    async beginTask(taskId: string): Promise<{ dispatchPartitions: number }> {
      const task = await getTask(pool, taskId);
      if (!task) throw new Error(`task ${taskId} not found`);
      if (task.status === 'created') {
        await setTaskStatus(pool, taskId, 'in_progress');
        await recordTaskEvent(pool, taskId, 'started');
      }
      return { dispatchPartitions: deps.dispatchPartitions };
    },

    /** One sweep of a campaign's task, and where it stands now. */
    async sweepTask(taskId: string): Promise<TaskSweep> {
      const timed = timeSweep('campaign');
      const counts = await sweep(pool, { taskId });
      const task = await getTask(pool, taskId);
      if (!task) throw new Error(`task ${taskId} not found`);
      const progress = await taskProgress(pool, taskId);
      timed();
      recordTaskProgress(taskId, progress);
      return {
        ...counts,
        ...progress,
        status: task.status,
        timezone: task.timezone,
        sendWindows: task.sendWindows,
        startAt: task.startAt ? task.startAt.toISOString() : null,
        done: isTaskDone(progress),
        settling: task.controlPending,
      };
    },

    /** A running task with nothing left becomes completed; returns the task's status. */
    async completeTask(taskId: string): Promise<TaskStatus> {
      const { rowCount } = await pool.query(
        `update tasks set status = 'completed', finished_at = now() where id = $1 and status = 'in_progress'`,
        [taskId],
      );
      if (rowCount) await recordTaskEvent(pool, taskId, 'completed');
      return (await getTask(pool, taskId))!.status;
    },

    /** The workflow was canceled from Temporal itself: the task is canceled as through the API. */
    async cancelTask(taskId: string): Promise<void> {
      try {
        await controlTask(pool, taskId, 'cancel');
      } catch (error) {
        if (!(error instanceof TaskTransitionError)) throw error; // already ended
      }
    },

    /** The workflow cannot go on: the task fails with the reason. */
    async failTask(taskId: string, reason: string): Promise<void> {
      await failTask(pool, taskId, reason);
    },

    /**
     * The notifications stream's sweep, until `until` (ISO): the same steps as a campaign's sweep,
     * on every API send (and on campaigns no workflow drives any more), plus receipts parked for
     * provider ids that became known, and the completion of API sends with nothing left.
     */
    async streamSweep(input: { until: string }): Promise<{ passes: number }> {
      const ctx = Context.current();
      const until = new Date(input.until).getTime();
      const stopHeartbeat = keepHeartbeating();
      let passes = 0;
      let progressAt = 0;
      try {
        while (Date.now() < until && !ctx.cancellationSignal.aborted) {
          const announced = deps.wakeups?.mark(ANY_CHANNEL);
          const timed = timeSweep('stream');
          const counts = await sweep(pool, { stream: true });
          const receipts = await applyParkedReceipts(pool);
          const completed = await completeFinishedStreamTasks(pool);
          timed();
          if (Date.now() - progressAt >= STREAM_PROGRESS_MS) {
            progressAt = Date.now();
            recordTaskProgress(STREAM_PROGRESS_KEY, await streamProgress(pool));
          }
          passes += 1;
          const changed = Object.values(counts).some((n) => n > 0) || receipts > 0 || completed.length > 0;
          const left = until - Date.now();
          if (changed || (await streamHasWork(pool))) await sleep(Math.min(STREAM_SWEEP_MS, left), ctx.cancellationSignal);
          else if (deps.wakeups) await deps.wakeups.wait(ANY_CHANNEL, Math.min(STREAM_IDLE_SWEEP_MS, left), ctx.cancellationSignal, announced);
          else await sleep(Math.min(STREAM_SWEEP_MS, left), ctx.cancellationSignal);
        }
      } finally {
        stopHeartbeat();
      }
      return { passes };
    },
  };
}

export type ControlActivities = ReturnType<typeof createControlActivities>;
