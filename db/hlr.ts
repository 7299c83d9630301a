import type { HlrResult } from '../core/hlr';
import type { Queryable } from './messages';

/** Phone checks (HLR lookups) as stored in `hlr_checks`, newest first by (created_at, id). */
export interface HlrCheckRow {
  id: string;
  phone: string;
  status: HlrResult['status'];
  operator: string | null;
  country: string | null;
  ported: boolean | null;
  roaming: boolean | null;
  cost: number;
  provider: string;
  error: string | null;
  /** Millisecond precision (timestamptz(3)): it round-trips through a JS Date and a cursor exactly. */
  createdAt: Date;
}

/** Which checks a list or export shows. */
export interface HlrFilter {
  /** Digits of the number; with a leading `+`, the number starts with them, else contains them. */
  phone?: string;
  /** Inclusive. */
  from?: Date;
  /** Exclusive. */
  to?: Date;
}

/** A position in the newest-first order: the last row of the page before. */
export interface HlrPosition {
  createdAt: Date;
  id: string;
}

const HLR_COLUMNS = 'id, phone, status, operator, country, ported, roaming, cost, provider, error, created_at';

function checkFromRow(r: Record<string, any>): HlrCheckRow {
  return {
    id: r.id,
    phone: r.phone,
    status: r.status,
    operator: r.operator,
    country: r.country,
    ported: r.ported,
    roaming: r.roaming,
    cost: r.cost,
    provider: r.provider,
    error: r.error,
    createdAt: r.created_at,
  };
}

/** Stores one check as soon as it is done: a lookup is paid for, so its answer is never lost
 * to a later failure of the same call. */
export async function insertHlrCheck(
  db: Queryable,
  check: { id: string; phone: string; provider: string; createdBy: string | null } & HlrResult,
): Promise<HlrCheckRow> {
  const { rows } = await db.query(
    `insert into hlr_checks (id, phone, status, operator, country, ported, roaming, cost, provider, error, raw, created_by)
     values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
     returning ${HLR_COLUMNS}`,
    [
      check.id,
      check.phone,
      check.status,
      check.operator,
      check.country,
      check.ported,
      check.roaming,
      check.cost,
      check.provider,
      check.error,
      check.raw === undefined ? null : JSON.stringify(check.raw),
      check.createdBy,
    ],
  );
  return checkFromRow(rows[0]);
}

/** The filter as SQL conditions; `hlr_checks_phone_trgm` serves the phone part (3+ digits),
 * `hlr_checks_newest` the period and the order. */
function filterConditions(filter: HlrFilter, param: (value: unknown) => string): string[] {
  const where: string[] = [];
  if (filter.phone) {
    const pattern = filter.phone.startsWith('+') ? `${filter.phone}%` : `%${filter.phone}%`;
    where.push(`phone like ${param(pattern)}`);
  }
  if (filter.from) where.push(`created_at >= ${param(filter.from)}`);
  if (filter.to) where.push(`created_at < ${param(filter.to)}`);
  return where;
}

/**
 * Up to `limit` checks, newest first, strictly after `after` in that order. Keyset pagination:
 * rows stored since the first page sort before it, so later pages neither repeat nor skip a row.
 */
export async function listHlrChecks(db: Queryable, filter: HlrFilter, limit: number, after?: HlrPosition): Promise<HlrCheckRow[]> {
  const params: unknown[] = [];
  const param = (value: unknown) => `$${params.push(value)}`;
  const where = filterConditions(filter, param);
  if (after) where.push(`(created_at, id) < (${param(after.createdAt)}::timestamptz, ${param(after.id)}::uuid)`);
  const { rows } = await db.query(
    `select ${HLR_COLUMNS} from hlr_checks
     ${where.length > 0 ? `where ${where.join(' and ')}` : ''}
     order by created_at desc, id desc
     limit ${param(limit)}`,
    params,
  );
  return rows.map(checkFromRow);
}

export async function countHlrChecks(db: Queryable, filter: HlrFilter): Promise<number> {
  const params: unknown[] = [];
  const where = filterConditions(filter, (value) => `$${params.push(value)}`);
  const { rows } = await db.query(`select count(*) as n from hlr_checks ${where.length > 0 ? `where ${where.join(' and ')}` : ''}`, params);
  return rows[0].n;
}
