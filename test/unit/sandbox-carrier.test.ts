import type { Pool } from 'pg';
import { SandboxCarrier, SandboxProvider } from '../../activities/channels/sandbox';

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

/**
 * A stand-in for the two tables the sandbox uses, answering the provider's and the carrier's
 * statements (the status changes find no message rows here and change nothing): what is counted
 * is how often the carrier goes to the database, and when each receipt is taken.
 */
function receiptTables(passDelayMs = 0, lookDelayMs = 0) {
  const receipts: { id: string; dueAt: number }[] = [];
  const taken = new Map<string, number>();
  const stats = { passes: 0, inFlight: 0, mostInFlight: 0 };
  const answer = async (statement: string | { text: string; values?: unknown[] }, values: unknown[] = []) => {
    const [sql, params] = typeof statement === 'string' ? [statement, values] : [statement.text, statement.values ?? []];
    if (sql.includes('insert into sandbox_submissions')) {
      // Every send id is fresh here; its receipts are scheduled in the same statement.
      const [, messageIds, ids, , , delays] = params as [string[], string[], string[], string[], string[], number[]];
      ids.forEach((id, i) => receipts.push({ id, dueAt: Date.now() + delays[i]! }));
      return { rows: messageIds.map((id) => ({ message_id: id })) };
    }
    if (sql.includes('delete from sandbox_receipts')) {
      stats.passes++;
      stats.mostInFlight = Math.max(stats.mostInFlight, ++stats.inFlight);
      await new Promise((r) => setTimeout(r, passDelayMs));
      stats.inFlight--;
      const due = receipts.filter((r) => r.dueAt <= Date.now()).slice(0, params[0] as number);
      for (const r of due) {
        receipts.splice(receipts.indexOf(r), 1);
        taken.set(r.id, Date.now() - r.dueAt); // how late it was taken
      }
      return { rows: due.map((r) => ({ message_id: r.id, status: 'DELIVERED', description: 'sandbox: delivered', due_at: new Date(r.dueAt) })) };
    }
    if (sql.includes('min(due_at)')) {
      // Read when asked, answered after lookDelayMs: what is scheduled meanwhile is not in it.
      const next = Math.min(...receipts.map((r) => r.dueAt));
      await new Promise((r) => setTimeout(r, lookDelayMs));
      return { rows: [{ ms: Number.isFinite(next) ? next - Date.now() : null }] };
    }
    return { rows: [], rowCount: 0 }; // begin, commit, and the status changes
  };
  const pool = { query: answer, connect: async () => ({ query: answer, release: () => undefined }) } as unknown as Pool;
  return { pool, receipts, taken, stats };
}

const outgoing = (i: number) => ({ messageId: `m${i}`, sendId: `t:${i}:sms`, channel: 'sms' as const, recipient: `+7999${String(i).padStart(6, '0')}0` /* ends in 0: delivered */, sender: null, text: 'x', payload: null, deliveryEndAt: new Date(Date.now() + 60_000) });

it('receipts scheduled while the carrier waits cost no pass until the first falls due, then go out together', async () => {
  const db = receiptTables();
  const carrier = new SandboxCarrier(db.pool, 1000, 3);
  carrier.start();
  try {
    await new Promise((r) => setTimeout(r, 50)); // its first look: nothing due
    const provider = new SandboxProvider('sms', db.pool, 300);
    const passesBefore = db.stats.passes;
    const firstDue = Date.now() + 300;
    for (let i = 0; i < 20; i++) {
      await provider.submit([0, 1, 2, 3, 4].map((k) => outgoing(i * 5 + k)));
      await new Promise((r) => setTimeout(r, 10));
    }
    await new Promise((r) => setTimeout(r, Math.max(0, firstDue - Date.now() - 20)));
    expect(db.stats.passes - passesBefore).toBe(0); // twenty submissions woke nobody to look early
    const lastDue = Math.max(...db.receipts.map((r) => r.dueAt));
    await new Promise((r) => setTimeout(r, lastDue + 300 - Date.now()));
    expect(db.taken.size).toBe(100);
    // Each receipt soon after it fell due (a pass waits 25 ms for more), in a handful of passes rather than three per submission.
    expect(Math.max(...db.taken.values())).toBeLessThan(250);
    expect(db.stats.passes - passesBefore).toBeLessThanOrEqual(15);
  } finally {
    await carrier.stop();
  }
});

it('a receipt scheduled while the carrier reads the next due time is not slept past', async () => {
  const db = receiptTables(0, 100);
  const carrier = new SandboxCarrier(db.pool, 1000, 3);
  carrier.start();
  try {
    await new Promise((r) => setTimeout(r, 20)); // its first look is on its way: nothing scheduled yet
    await new SandboxProvider('sms', db.pool, 150).submit([outgoing(1)]);
    // Due 150 ms from now; idle, the carrier would look again only after 2 s.
    await new Promise((r) => setTimeout(r, 600));
    expect(db.taken.size).toBe(1);
  } finally {
    await carrier.stop();
  }
});

it('a backlog is worked by all its loops at once', async () => {
  const db = receiptTables(20);
  for (let i = 0; i < 5000; i++) db.receipts.push({ id: `b${i}`, dueAt: Date.now() - 1 });
  const carrier = new SandboxCarrier(db.pool, 500, 3);
  carrier.start();
  try {
    for (const at = Date.now(); db.taken.size < 5000 && Date.now() - at < 5000; ) await new Promise((r) => setTimeout(r, 20));
    expect(db.taken.size).toBe(5000);
    expect(db.stats.mostInFlight).toBe(3);
  } finally {
    await carrier.stop();
  }
});
