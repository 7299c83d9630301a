import { Migration } from '@mikro-orm/migrations';

/**
 * The message log (`GET /api/v1/messages`, `…/export.xlsx`): newest first by (registered_at, id),
 * paged by keyset, filtered by channel, status, task, period and a part of the recipient. Each
 * filter has an index that yields its rows already in that order, so a page reads about as many
 * rows as it shows, whatever the table's size (plans at 10 million rows: docs/message-log-plans.md).
 * `pg_trgm` is a trusted extension (PostgreSQL 13+): the database owner may create it.
 */
export class Migration20261128100000_message_log extends Migration {
  override async up(): Promise<void> {
    this.addSql(`
create extension if not exists pg_trgm;

-- (registered_at) alone served nothing but this log; the id breaks ties between rows registered
-- in the same transaction (one now() for a whole send), so a page boundary never splits them.
drop index if exists messages_registered_at;
create index if not exists messages_log on messages (registered_at desc, id desc);
create index if not exists messages_log_channel on messages (channel, registered_at desc, id desc);
create index if not exists messages_log_status on messages (status, registered_at desc, id desc);
create index if not exists messages_log_task on messages (task_id, registered_at desc, id desc);
-- "A part of the recipient", case-insensitive: ILIKE '%…%' through trigrams.
create index if not exists messages_recipient_trgm on messages using gin (recipient gin_trgm_ops);
-- The planner estimates how many recipients contain a pattern by trying it on the column's
-- histogram: 100 entries took 3 digits found in 68,000 of 10 million rows for 1,000, and read and
-- sorted them all (1 s) instead of walking messages_log for the first page (21 ms). 1,000 entries
-- estimate it at 80,000.
alter table messages alter column recipient set statistics 1000;
`);
  }

  override async down(): Promise<void> {
    this.addSql(`
alter table messages alter column recipient set statistics -1;
drop index if exists messages_recipient_trgm;
drop index if exists messages_log_task;
drop index if exists messages_log_status;
drop index if exists messages_log_channel;
drop index if exists messages_log;
create index messages_registered_at on messages (registered_at);
`);
  }
}
