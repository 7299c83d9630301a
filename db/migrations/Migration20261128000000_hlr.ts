import { Migration } from '@mikro-orm/migrations';

/**
 * Phone checks (HLR): one row per lookup, written by `POST /api/v1/hlr`, listed newest first by
 * cursor and exported.
 * - `created_at` has millisecond precision so a row's time round-trips through the API (a JS
 *   Date, an ISO string in a cursor) exactly; `(created_at, id)` is the list's total order.
 * - A part of the number is found through a trigram index (pg_trgm, a trusted extension since
 *   PostgreSQL 13: the database owner may create it), which serves `like '%…%'` for 3+ characters.
 */
export class Migration20261128000000_hlr extends Migration {
  override async up(): Promise<void> {
    this.addSql(`
create extension if not exists pg_trgm;

create table hlr_checks (
  id uuid primary key,
  phone text not null,
  status text not null check (status in ('active', 'absent_subscriber', 'invalid_number', 'unknown', 'failed')),
  operator text,
  country text,
  ported boolean,
  roaming boolean,
  cost numeric(14, 4) not null default 0,
  provider text not null,
  error text,
  raw jsonb,
  created_by uuid,
  created_at timestamptz(3) not null default clock_timestamp()
);
create index hlr_checks_newest on hlr_checks (created_at, id);
create index hlr_checks_phone_trgm on hlr_checks using gin (phone gin_trgm_ops);
`);
  }

  override async down(): Promise<void> {
    this.addSql('drop table if exists hlr_checks;');
  }
}
