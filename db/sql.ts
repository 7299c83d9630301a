import type { MessageStatus } from '../core/status';
import type { QueryConfig } from 'pg';

/** Small helpers for SQL written by hand. */

/** The statuses as an SQL list literal (`'A', 'B'`): partial indexes are only used when a query's
 * condition names the same literals as the index. */
export function sqlList(statuses: readonly MessageStatus[]): string {
  return statuses.map((s) => `'${s}'`).join(', ');
}

/** An ILIKE pattern matching `text` anywhere, with `%`, `_` and `\` taken literally. */
export function containsPattern(text: string): string {
  return `%${text.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
}

/** Distinct statement texts given names so far in this process, and the most it names. */
const statementNames = new Map<string, string>();
const MAX_NAMED_STATEMENTS = 200;

/**
 * A statement that only writes (inserts from parameter arrays, reading no table) as a named,
 * prepared one: each pooled connection parses it once and PostgreSQL soon keeps one generic plan
 * instead of planning every call — planning the API send's insert cost a third as much as running
 * it (`pg_stat_statements` with `track_planning`, 1,000 sends a second).
 *
 * Not for statements that read a table: a generic plan is kept for the connection's life and made
 * for the table's size when it was made. Claims and status changes prepared on a new database kept
 * hash joins over sequential scans of `messages` as it grew (claims 3× slower over a 60 s bench);
 * only an ANALYZE or VACUUM of the table replans them. Past MAX_NAMED_STATEMENTS distinct texts a
 * statement goes unnamed, so a text built from data cannot fill the connections' memory.
 */
export function prepared(text: string, values: unknown[] = []): QueryConfig {
  let name = statementNames.get(text);
  if (!name && statementNames.size < MAX_NAMED_STATEMENTS) statementNames.set(text, (name = `hot_${statementNames.size}`));
  return name ? { name, text, values } : { text, values };
}
