import { Pool, types } from 'pg';

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
