import { Pool, types, type PoolClient } from 'pg';

// numeric (cost) as a JS number: costs are small decimals with 4 places, well inside double precision.
types.setTypeParser(1700, (value) => Number(value));
// bigint counts (count(*)) as numbers.
types.setTypeParser(20, (value) => Number(value));

/** The plain `pg` pool for bulk message SQL (unnest arrays, COPY-sized batches). */
export function createPool(databaseUrl: string, max = 10): Pool {
  const pool = new Pool({ connectionString: databaseUrl, max, idleTimeoutMillis: 30_000 });
  // A dropped idle connection must not crash the process; the next query reconnects.
  pool.on('error', () => undefined);
  // Nor one dropped while checked out between two statements (its next query fails instead).
  pool.on('connect', (client) => client.on('error', () => undefined));
  return pool;
}

/** PostgreSQL's answers that mean "this transaction lost a race; run it again". */
const RETRYABLE = new Set(['40P01' /* deadlock_detected */, '40001' /* serialization_failure */]);

/**
 * Runs `work` in a transaction and commits it; rolls back on any error. A transaction PostgreSQL
 * chose as a deadlock's victim (a task's statement over many rows meeting a dispatcher's or a
 * receipt batch's over the same rows in another order) is run again from the start, up to
 * `attempts` times: everything it did was undone, so running it again is safe.
 */
export async function inTransaction<T>(pool: Pool, work: (client: PoolClient) => Promise<T>, attempts = 5): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    const client = await pool.connect();
    try {
      await client.query('begin');
      const result = await work(client);
      await client.query('commit');
      return result;
    } catch (error) {
      await client.query('rollback').catch(() => undefined);
      if (attempt >= attempts || !RETRYABLE.has((error as { code?: string }).code ?? '')) throw error;
    } finally {
      client.release();
    }
  }
}
