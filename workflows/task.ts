import {
  ApplicationFailure,
  CancellationScope,
  ActivityCancellationType,
  condition,
  continueAsNew,
  isCancellation,
  proxyActivities,
  setHandler,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { ControlActivities } from '../activities/control';
import type { DispatchActivities } from '../activities/dispatch';
import { channelTaskQueue, type Channel } from '../core/config';
import { TASK_STATUS } from '../core/search-attributes';
import { currentWindowClosing, nextWindowOpening } from '../core/send-window';
import {
  cancelUpdate,
  pauseUpdate,
  resumeUpdate,
  statusQuery,
  type TaskWorkflowInput,
  type TaskWorkflowStatus,
} from './definitions';

const control = proxyActivities<ControlActivities>({
  startToCloseTimeout: '2 minutes',
  retry: { initialInterval: '1 second', maximumInterval: '30 seconds' },
});

function dispatcherFor(channel: Channel) {
  return proxyActivities<DispatchActivities>({
    taskQueue: channelTaskQueue(channel),
    // Long-running: a page of 500 per heartbeat; a missed heartbeat means the worker died.
    startToCloseTimeout: '24 hours',
    heartbeatTimeout: '10 seconds',
    cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
    retry: { initialInterval: '1 second', maximumInterval: '30 seconds' },
  });
}

/** Waits for every promise, then fails with the first failure, if any. */
async function settleAll<T>(promises: Promise<T>[]): Promise<T[]> {
  const results = await Promise.allSettled(promises);
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw failed.reason;
  return results.map((r) => (r as PromiseFulfilledResult<T>).value);
}

/** Between sweeps while messages are in flight: 1 s while things change, backing off to 15 s while
 * nothing does (e.g. waiting out a day-long lifetime), so history grows slowly on long waits. */
const SWEEP_INTERVAL_MS = 1000;
const MAX_SWEEP_INTERVAL_MS = 15_000;

/**
 * One workflow per notification task (`task-<taskId>`). The workflow holds only control state;
 * messages live in Postgres and are paged through by the dispatch activities, so history stays
 * small whatever the number of recipients.
 */
export async function taskWorkflow(input: TaskWorkflowInput): Promise<{ status: string }> {
  const { taskId } = input;
  const state: TaskWorkflowStatus = {
    control: input.control ?? 'running',
    phase: 'starting',
    waitingUntil: null,
    sweeps: 0,
    lastSweep: null,
  };
  let dispatchScope: CancellationScope | undefined;
  let sweepIntervalMs = SWEEP_INTERVAL_MS;

  setHandler(statusQuery, () => state);
  setHandler(
    pauseUpdate,
    (_taskId: string) => {
      state.control = 'paused';
      dispatchScope?.cancel();
      return { status: 'paused' };
    },
    {
      validator: (_taskId: string) => {
        if (state.control === 'canceling') throw ApplicationFailure.nonRetryable('task is canceled', 'InvalidTransition');
        if (state.control === 'paused') throw ApplicationFailure.nonRetryable('task is already paused', 'InvalidTransition');
      },
    },
  );
  setHandler(
    resumeUpdate,
    (_taskId: string) => {
      state.control = 'running';
      return { status: 'in_progress' };
    },
    {
      validator: (_taskId: string) => {
        if (state.control === 'canceling') throw ApplicationFailure.nonRetryable('task is canceled', 'InvalidTransition');
        if (state.control !== 'paused') throw ApplicationFailure.nonRetryable('task is not paused', 'InvalidTransition');
      },
    },
  );
  setHandler(
    cancelUpdate,
    (_taskId: string) => {
      state.control = 'canceling';
      dispatchScope?.cancel();
      return { status: 'canceled' };
    },
    {
      validator: (_taskId: string) => {
        if (state.control === 'canceling') throw ApplicationFailure.nonRetryable('task is already canceled', 'InvalidTransition');
      },
    },
  );

  const plan = await control.beginTask(taskId);
  if (!input.begun) upsertSearchAttributes([{ key: TASK_STATUS, value: 'in_progress' }]);
  const controlChanged = (from: TaskWorkflowStatus['control']) => () => state.control !== from;

  // `startAt`: a task scheduled for later waits on a durable timer.
  if (plan.startAt && !input.begun) {
    const delay = new Date(plan.startAt).getTime() - Date.now();
    if (delay > 0) {
      state.phase = 'waiting_for_start';
      state.waitingUntil = plan.startAt;
      await condition(() => state.control === 'canceling', delay);
    }
  }

  for (;;) {
    if (state.control === 'canceling') {
      state.phase = 'finishing';
      await control.finishTask(taskId, 'canceled');
      upsertSearchAttributes([{ key: TASK_STATUS, value: 'canceled' }]);
      return { status: 'canceled' };
    }
    if (state.control === 'paused') {
      state.phase = 'paused';
      await control.pauseTask(taskId);
      upsertSearchAttributes([{ key: TASK_STATUS, value: 'paused' }]);
      await condition(controlChanged('paused'));
      // Narrowing does not see the update handler's write while we waited.
      if ((state.control as TaskWorkflowStatus['control']) === 'running') {
        await control.resumeTask(taskId);
        upsertSearchAttributes([{ key: TASK_STATUS, value: 'in_progress' }]);
      }
      continue;
    }

    const now = new Date(Date.now());
    const opening = nextWindowOpening(now, plan.sendWindows, plan.timezone);
    if (opening.getTime() > now.getTime()) {
      state.phase = 'waiting_for_window';
      state.waitingUntil = opening.toISOString();
      await control.waitForWindow(taskId, opening.toISOString());
      await condition(controlChanged('running'), opening.getTime() - now.getTime());
      state.waitingUntil = null;
      continue;
    }
    const closing = currentWindowClosing(now, plan.sendWindows, plan.timezone);

    const sweep = await control.sweepTask(taskId);
    state.sweeps += 1;
    const waitingChannels = Object.entries(sweep.waitingByChannel).filter(([, n]) => n > 0);
    const unchanged = sweep.expired === 0 && sweep.released === 0 && sweep.canceled === 0 && sweep.inFlight === state.lastSweep?.inFlight;
    sweepIntervalMs = unchanged ? Math.min(MAX_SWEEP_INTERVAL_MS, sweepIntervalMs * 2) : SWEEP_INTERVAL_MS;
    state.lastSweep = {
      inFlight: sweep.inFlight,
      held: sweep.held,
      waiting: waitingChannels.reduce((sum, [, n]) => sum + n, 0),
      expired: sweep.expired,
      released: sweep.released,
    };
    if (sweep.done) {
      state.phase = 'finishing';
      await control.finishTask(taskId, 'completed');
      upsertSearchAttributes([{ key: TASK_STATUS, value: 'completed' }]);
      return { status: 'completed' };
    }

    if (waitingChannels.length > 0) {
      state.phase = 'dispatching';
      dispatchScope = new CancellationScope();
      try {
        // allSettled, not all: on pause every partition must have stopped before rows are marked PAUSED.
        await dispatchScope.run(() =>
          settleAll(
            waitingChannels.flatMap(([channel, waiting]) => {
              // Small batches need no parallelism; large ones get every partition.
              const count = waiting > 1000 ? plan.dispatchPartitions : 1;
              return Array.from({ length: count }, (_, index) =>
                dispatcherFor(channel as Channel).dispatchChannel({
                  taskId,
                  channel: channel as Channel,
                  windowClosesAt: closing ? closing.toISOString() : undefined,
                  partition: { index, count },
                }),
              );
            }),
          ),
        );
      } catch (error) {
        // Pause and cancel stop dispatch by canceling this scope; anything else is a real failure.
        if (!isCancellation(error)) throw error;
      } finally {
        dispatchScope = undefined;
      }
    } else {
      state.phase = 'waiting_for_receipts';
      await condition(controlChanged('running'), sweepIntervalMs);
    }

    if (workflowInfo().continueAsNewSuggested) {
      await continueAsNew<typeof taskWorkflow>({ taskId, control: state.control, begun: true });
    }
  }
}
