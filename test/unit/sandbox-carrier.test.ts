import type { Pool } from 'pg';
import { SandboxCarrier } from '../../activities/channels/sandbox';

/**
 * The sandbox carrier stops whenever it is asked to, even while its loops are at the database.
 * A loop that was at the database when stop() woke the others went to sleep afterwards — for
 * good, as the loops that do not poll sleep until woken — and the worker's shutdown waited on it
 * (a test suite's teardown hung for its whole 120 s limit). The database here answers slowly and
 * with nothing due, so that every stop lands while the loops are waiting for it.
 */
function slowEmptyDatabase(delayMs: number): Pool {
  const answer = (rows: unknown[]) => new Promise((resolve) => setTimeout(() => resolve({ rows, rowCount: rows.length }), delayMs));
  const client = { query: () => answer([]), release: () => undefined };
  return {
    connect: async () => client,
    query: () => answer([{ ms: null }]),
  } as unknown as Pool;
}

async function within(promise: Promise<unknown>, ms: number): Promise<string> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<string>((resolve) => (timer = setTimeout(() => resolve(`still running after ${ms} ms`), ms)));
  try {
    return await Promise.race([promise.then(() => 'stopped'), late]);
  } finally {
    clearTimeout(timer);
  }
}

it.each([0, 5, 15, 25, 40])('stops while its loops are at the database (stop after %i ms)', async (afterMs) => {
  const carrier = new SandboxCarrier(slowEmptyDatabase(10), 1000, 3);
  carrier.start();
  await new Promise((resolve) => setTimeout(resolve, afterMs));
  await expect(within(carrier.stop(), 3000)).resolves.toBe('stopped');
});
