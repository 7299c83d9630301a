import {
  ActivityFailure,
  ApplicationFailure,
  CancellationScope,
  condition,
  continueAsNew,
  isCancellation,
  proxyActivities,
  setHandler,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { ControlActivities, TaskSweep } from '../activities/control';
import type { DispatchActivities } from '../activities/dispatch';
import { channelTaskQueue, type Channel } from '../core/channels';
import { TASK_STATUS } from '../core/search-attributes';
import { nextWindowOpening } from '../core/send-window';
import type { TaskStatus } from '../core/status';
import { statusQuery, taskControlSignal, type TaskWorkflowInput, type TaskWorkflowStatus } from './definitions';

const control = proxyActivities<ControlActivities>({
  startToCloseTimeout: '2 minutes',
  retry: { initialInterval: '1 second', maximumInterval: '30 seconds' },
});

function dispatcherFor(channel: Channel) {
  return proxyActivities<DispatchActivities>({
    taskQueue: channelTaskQueue(workflowInfo().taskQueue, channel),
    // Long-running: pages until nothing can be claimed. It heartbeats every second on a timer,
    // so a missed heartbeat means its worker died, and the retry claims what is left.
    startToCloseTimeout: '24 hours',
    heartbeatTimeout: '10 seconds',
    retry: { initialInterval: '1 second', maximumInterval: '10 seconds' },
  });
}

/** Between sweeps: 1 s while things change, backing off to 15 s while nothing does (e.g. waiting
 * out a day-long lifetime), so history grows slowly on long waits. While dispatchers run, every
 * 5 s: they do the work, the sweep only expires lifetimes and releases fallbacks meanwhile. */
const SWEEP_INTERVAL_MS = 1000;
const MAX_SWEEP_INTERVAL_MS = 15_000;
const DISPATCHING_SWEEP_INTERVAL_MS = 5000;
/** A channel with more rows than this waiting gets every dispatch partition. */
const PARTITION_THRESHOLD = 1000;

const ENDED: readonly TaskStatus[] = ['completed', 'canceled', 'failed'];

/**
 * One workflow per campaign task (`task-<taskId>`). It holds no message and no control state of
 * its own: the task row is where the task's status lives (the API changes it and signals), and
 * each step starts by reading it through a sweep. The story of a run:
 * begin → loop { sweep; stop when the task has ended and nothing is in flight; wait while paused;
 * wait for the start time; wait for the window; dispatch the channels that have rows to claim;
 * wait for receipts } → complete.
 */
export async function taskWorkflow(input: TaskWorkflowInput): Promise<{ status: string }> {
  const { taskId } = input;
  const state: TaskWorkflowStatus = { status: 'in_progress', phase: 'starting', waitingUntil: null, dispatching: [], sweeps: 0, lastSweep: null };
  let controlChanges = 0;
  setHandler(taskControlSignal, () => void controlChanges++);
  setHandler(statusQuery, () => state);

  let searchStatus: string | undefined = input.begun ? 'in_progress' : undefined;
  const showStatus = (status: TaskStatus) => {
    if (status === searchStatus) return;
    searchStatus = status;
    upsertSearchAttributes([{ key: TASK_STATUS, value: status }]);
  };

  const running = new Map<Channel, Promise<void>>();
  let dispatchFailure: unknown;
  let dispatchesEnded = 0;
  /** Starts a channel's dispatch (its partitions) in the background. */
  const dispatch = (channel: Channel, claimable: number, partitions: number) => {
    const count = claimable > PARTITION_THRESHOLD ? partitions : 1;
    const all = Array.from({ length: count }, (_, index) =>
      dispatcherFor(channel).dispatchChannel({ taskId, channel, partition: { index, count } }),
    );
    running.set(
      channel,
      Promise.all(all).then(
        () => undefined,
        (error) => void (dispatchFailure ??= error),
      ).finally(() => {
        running.delete(channel);
        dispatchesEnded++;
      }),
    );
  };

  try {
    const { dispatchPartitions } = await control.beginTask(taskId);
    let interval = SWEEP_INTERVAL_MS;
    let previous: TaskSweep | undefined;
    for (;;) {
      if (dispatchFailure) throw dispatchFailure;
      const seen = { controlChanges, dispatchesEnded };
      const sweep = await control.sweepTask(taskId);
      state.sweeps += 1;
      state.status = sweep.status;
      state.lastSweep = { waiting: sweep.waiting, inFlight: sweep.inFlight, held: sweep.held, expired: sweep.expired, released: sweep.released };
      showStatus(sweep.status);
      interval = changed(previous, sweep) ? SWEEP_INTERVAL_MS : Math.min(MAX_SWEEP_INTERVAL_MS, interval * 2);
      previous = sweep;

      const now = Date.now();
      const live = sweep.inFlight > 0 || sweep.held > 0 || running.size > 0;
      let wakeAt = live ? now + (running.size > 0 ? DISPATCHING_SWEEP_INTERVAL_MS : interval) : Infinity;
      if (sweep.settling) wakeAt = Math.min(wakeAt, now + SWEEP_INTERVAL_MS);
      state.waitingUntil = null;

      if (ENDED.includes(sweep.status)) {
        // Canceled or failed while rows were in flight: keep sweeping until each has its final status.
        if (!live && sweep.waiting === 0) return { status: sweep.status };
        state.phase = 'finishing';
        wakeAt = now + interval;
      } else if (sweep.done && running.size === 0) {
        state.phase = 'finishing';
        const final = await control.completeTask(taskId);
        showStatus(final);
        if (final === 'completed') return { status: final };
        continue; // paused or canceled at that very moment: read the row again
      } else if (sweep.status === 'paused') {
        state.phase = 'paused';
      } else if (sweep.startAt && new Date(sweep.startAt).getTime() > now) {
        state.phase = 'waiting_for_start';
        state.waitingUntil = sweep.startAt;
        wakeAt = Math.min(wakeAt, new Date(sweep.startAt).getTime());
      } else {
        const opening = nextWindowOpening(new Date(now), sweep.sendWindows, sweep.timezone);
        if (opening.getTime() > now) {
          state.phase = 'waiting_for_window';
          state.waitingUntil = opening.toISOString();
          wakeAt = Math.min(wakeAt, opening.getTime());
        } else {
          for (const [channel, claimable] of Object.entries(sweep.claimableByChannel)) {
            if (!running.has(channel as Channel)) dispatch(channel as Channel, claimable, dispatchPartitions);
          }
          // Rows waiting only for a retry time or a lapsed claim: look again soon.
          if (sweep.waiting > 0) wakeAt = Math.min(wakeAt, now + interval);
          state.phase = running.size > 0 ? 'dispatching' : 'waiting_for_receipts';
          if (running.size > 0) wakeAt = Math.min(wakeAt, now + DISPATCHING_SWEEP_INTERVAL_MS);
        }
      }
      state.dispatching = [...running.keys()];

      const woken = () => controlChanges !== seen.controlChanges || dispatchesEnded !== seen.dispatchesEnded;
      if (wakeAt === Infinity) await condition(woken);
      else await condition(woken, Math.max(1, wakeAt - now));

      if (workflowInfo().continueAsNewSuggested && running.size === 0) {
        await continueAsNew<typeof taskWorkflow>({ taskId, begun: true });
      }
    }
  } catch (error) {
    if (isCancellation(error)) {
      // Canceled from Temporal (the UI or CLI) rather than through the API: cancel the task too.
      await CancellationScope.nonCancellable(() => control.cancelTask(taskId));
      throw error;
    }
    // Anything else is a real failure: the task must not stay in_progress forever.
    await control.failTask(taskId, `workflow failed: ${failureMessage(error)}`);
    upsertSearchAttributes([{ key: TASK_STATUS, value: 'failed' }]);
    throw error;
  }
}

/** Whether a sweep saw anything happen since the last one (the sweep interval backs off if not). */
function changed(before: TaskSweep | undefined, now: TaskSweep): boolean {
  if (!before) return true;
  return (
    now.expired + now.released + now.canceled + now.returned + now.delayed + (now.settled ?? 0) > 0 ||
    now.inFlight !== before.inFlight ||
    now.waiting !== before.waiting ||
    now.held !== before.held ||
    now.status !== before.status
  );
}

/** The innermost message of a failure chain (an activity's own error, not "Activity task failed"). */
function failureMessage(error: unknown): string {
  let current: unknown = error;
  while (current instanceof ActivityFailure && current.cause) current = current.cause;
  if (current instanceof ApplicationFailure || current instanceof Error) return current.message;
  return String(current);
}
