import type { MessageStatus } from '../core/status';

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
