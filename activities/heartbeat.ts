import { Context } from '@temporalio/activity';

/** How often long-running activities report that they are alive (their heartbeat timeout is 10 s). */
const HEARTBEAT_EVERY_MS = 3000;

/**
 * Heartbeats on a timer for as long as the activity runs, whatever it is waiting on: a statement
 * blocked behind a lock or a slow provider is not a dead worker, and must not make Temporal start
 * a second attempt beside a live one. A worker that really died (or an event loop that is really
 * stuck) stops the timer too, and its attempt times out as it should. Returns the stop function.
 */
export function keepHeartbeating(details?: () => unknown): () => void {
  const ctx = Context.current();
  const beat = () => ctx.heartbeat(details?.());
  beat();
  const timer = setInterval(beat, HEARTBEAT_EVERY_MS);
  return () => clearInterval(timer);
}

/** Sleeps, waking early when `signal` aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
    if (signal?.aborted) done();
  });
}
