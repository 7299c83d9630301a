import type { Pool } from 'pg';

/**
 * What each statement costs per message, from pg_stat_statements, when the server loads it
 * (`shared_preload_libraries = 'pg_stat_statements'`; the bench says how when it does not).
 * Only statements of the bench's own database are counted.
 */
export interface StatementProfile {
  available: boolean;
  reset(): Promise<void>;
  /** The costliest statements since `reset()`, per 1,000 of `count` units (messages, or sends). */
  report(count: number, options?: { unit?: string; top?: number }): Promise<string>;
}

export async function statementProfile(pool: Pool): Promise<StatementProfile> {
  let available = false;
  try {
    await pool.query('create extension if not exists pg_stat_statements');
    await pool.query('select 1 from pg_stat_statements limit 1');
    available = true;
  } catch {
    available = false;
  }
  const dbFilter = 'dbid = (select oid from pg_database where datname = current_database())';
  return {
    available,
    async reset() {
      if (available) await pool.query('select pg_stat_statements_reset()');
    },
    async report(count, { unit = 'messages', top = 12 } = {}) {
      if (!available) return 'statement profile: pg_stat_statements is not loaded (shared_preload_libraries) — skipped\n';
      const { rows } = await pool.query(
        `select calls, total_exec_time as ms, rows, wal_bytes, shared_blks_dirtied as dirtied,
           regexp_replace(left(query, 110), '\\s+', ' ', 'g') as query
         from pg_stat_statements where ${dbFilter} order by total_exec_time desc limit $1`,
        [top],
      );
      const { rows: sum } = await pool.query(`select sum(total_exec_time) as ms, sum(wal_bytes) as wal from pg_stat_statements where ${dbFilter}`);
      const per = (x: number) => (x / count) * 1000;
      const lines = rows.map(
        (r) =>
          `  ${per(r.ms).toFixed(1).padStart(8)} ms ${String(r.calls).padStart(8)} calls ${(per(Number(r.wal_bytes)) / 1024).toFixed(0).padStart(6)} KiB WAL  ${r.query}`,
      );
      return (
        `statements by execution time per 1,000 ${unit} (all: ${per(Number(sum[0].ms)).toFixed(0)} ms, WAL ${(per(Number(sum[0].wal)) / 1024).toFixed(0)} KiB):\n` +
        lines.join('\n') +
        '\n'
      );
    },
  };
}
