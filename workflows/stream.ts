import { condition, continueAsNew, proxyActivities, setHandler, sleep, workflowInfo } from '@temporalio/workflow';
import type { ControlActivities } from '../activities/control';
import type { DispatchActivities } from '../activities/dispatch';
import { CHANNELS, channelTaskQueue } from '../core/channels';
import { streamStatusQuery, type StreamWorkflowInput, type StreamWorkflowStatus } from './definitions';

/** Default length of a round: how long the stream's activities run before it continues as new. */
const DEFAULT_STREAM_ROUND_MS = 5 * 60_000;
/** Past the round's end, how long a piece may still take to notice it (its activity may not have
 * started at all, e.g. while its worker is down). */
const ROUND_GRACE_MS = 30_000;
/** How long the round's end waits for pieces still running before the next round starts anyway. */
const ROUND_END_WAIT_MS = 1000;

/**
 * The notifications stream (`notifications-stream`): API sends are written to Postgres as tasks of
 * their own and dispatched here, so a thousand requests a second cost no workflow start each.
 *
 * A round runs its pieces side by side — the sweep and one dispatcher per channel, each a
 * long-running activity — until the same end time, then continues as new, so history stays at a
 * few dozen events. Each piece keeps itself running on its own: one that fails, times out or is
 * retried is started again at once and never holds up the others, and a retry runs to the round's
 * end, not for a new round. Pause, resume and cancel of API sends need no message here: the
 * dispatchers read each task's row when they claim (db/dispatch.ts).
 */
export async function notificationStreamWorkflow(input: StreamWorkflowInput = {}): Promise<void> {
  const roundMs = input.roundMs ?? DEFAULT_STREAM_ROUND_MS;
  const roundEndsAt = Date.now() + roundMs;
  const until = new Date(roundEndsAt).toISOString();
  const status: StreamWorkflowStatus = { roundEndsAt: until, starts: {} };
  setHandler(streamStatusQuery, () => status);

  /** Activity options for a piece started now: it may not outlive the round (plus grace), retries included. */
  const optionsNow = (taskQueue?: string) => {
    const budgetMs = Math.max(1000, roundEndsAt - Date.now()) + ROUND_GRACE_MS;
    return {
      taskQueue,
      startToCloseTimeout: budgetMs,
      scheduleToCloseTimeout: budgetMs,
      // The activities heartbeat on a timer, so only a dead worker misses this. Each heartbeat the
      // SDK forwards (every 0.8 × this) is a write for the Temporal server: 20 s keeps an idle
      // installation cheap, and is how long a killed worker's pieces wait to be started again (a
      // stopped worker's pieces end at once and start again as soon as a worker polls).
      heartbeatTimeout: '20 seconds',
      retry: { initialInterval: '1 second', maximumInterval: '5 seconds' },
    };
  };

  const keepRunning = async (piece: string, run: () => Promise<unknown>) => {
    while (Date.now() < roundEndsAt) {
      status.starts[piece] = (status.starts[piece] ?? 0) + 1;
      try {
        await run();
      } catch {
        // Out of retry budget (the round is ending) or a non-retryable failure: start afresh.
        if (Date.now() < roundEndsAt) await sleep('1 second');
      }
    }
  };

  let piecesEnded = 0;
  const pieces = [
    keepRunning('sweep', () => proxyActivities<ControlActivities>(optionsNow()).streamSweep({ until })),
    ...CHANNELS.map((channel) =>
      keepRunning(channel, () => proxyActivities<DispatchActivities>(optionsNow(channelTaskQueue(workflowInfo().taskQueue, channel))).streamChannel({ channel, until })),
    ),
  ];
  for (const piece of pieces) void piece.finally(() => piecesEnded++);
  // A piece whose activity has not even started (its worker is down) must not hold the next round
  // back for the others: it is left behind (the closed run's unstarted activities are dropped, and
  // a straggler still running ends at `until` by itself; leases keep any overlap safe).
  await condition(() => piecesEnded === pieces.length, roundMs + ROUND_END_WAIT_MS);
  await continueAsNew<typeof notificationStreamWorkflow>(input);
}
