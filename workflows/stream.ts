import {
  ActivityFailure,
  ApplicationFailure,
  allHandlersFinished,
  condition,
  continueAsNew,
  proxyActivities,
  setHandler,
} from '@temporalio/workflow';
import type { StreamControlActivities, StreamTaskAction } from '../activities/control';
import type { DispatchActivities } from '../activities/dispatch';
import { CHANNELS, channelTaskQueue, type Channel } from '../core/config';
import { cancelUpdate, pauseUpdate, resumeUpdate } from './definitions';

/** How long each round's long-running activities run before the workflow continues as new. */
const ROUND_MS = 5 * 60_000;

const streamControl = proxyActivities<StreamControlActivities>({
  startToCloseTimeout: ROUND_MS + 60_000,
  heartbeatTimeout: '10 seconds',
  retry: { initialInterval: '1 second', maximumInterval: '10 seconds' },
});
const taskControl = proxyActivities<StreamControlActivities>({
  startToCloseTimeout: '30 seconds',
  retry: { initialInterval: '500 milliseconds', maximumInterval: '5 seconds', nonRetryableErrorTypes: ['InvalidTransition'] },
});
function streamDispatcher(channel: Channel) {
  return proxyActivities<DispatchActivities>({
    taskQueue: channelTaskQueue(channel),
    startToCloseTimeout: ROUND_MS + 60_000,
    heartbeatTimeout: '10 seconds',
    retry: { initialInterval: '1 second', maximumInterval: '10 seconds' },
  });
}

/**
 * The notifications stream (`notifications-stream`): API sends are written to Postgres as tasks of
 * their own and dispatched here, so a thousand requests a second cost no workflow start each. Each
 * round runs one long-lived dispatch activity per channel and one sweep, for a few minutes, then
 * the workflow continues as new: its history stays at a few dozen events however much it sends.
 * Pause, resume and cancel of a stream task are updates carrying the task id.
 */
export async function notificationStreamWorkflow(): Promise<void> {
  const control = (action: StreamTaskAction) => async (taskId: string) => {
    if (!taskId) throw ApplicationFailure.nonRetryable('a task id is required', 'InvalidTransition');
    try {
      return await taskControl.controlStreamTask(taskId, action);
    } catch (error) {
      // Surface the refusal itself ("cannot resume a task that is canceled") to the caller.
      if (error instanceof ActivityFailure && error.cause instanceof ApplicationFailure) {
        throw ApplicationFailure.nonRetryable(error.cause.message, error.cause.type ?? 'InvalidTransition');
      }
      throw error;
    }
  };
  setHandler(pauseUpdate, control('pause'));
  setHandler(resumeUpdate, control('resume'));
  setHandler(cancelUpdate, control('cancel'));

  await Promise.all([
    streamControl.streamSweep({ runForMs: ROUND_MS }),
    ...CHANNELS.map((channel) => streamDispatcher(channel).streamChannel({ channel, runForMs: ROUND_MS })),
  ]);
  await condition(allHandlersFinished);
  await continueAsNew<typeof notificationStreamWorkflow>();
}
