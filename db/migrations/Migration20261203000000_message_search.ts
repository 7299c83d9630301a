import { Migration } from '@mikro-orm/migrations';

/**
 * The message log's keys move out of `messages` into `message_search` (id, task, channel,
 * recipient, registration time — columns a message never changes), with the log's four indexes on
 * them. A status change cannot be a HOT update (`status` is in several of the engine's indexes), so
 * each one wrote an entry into every index of `messages`: the log's three btrees and its trigram
 * index took four of those entries per change, three changes per message, for keys that never
 * change. Here they are written once, at registration. Measured before the move with the four
 * indexes dropped (`npm run bench -- --recipients 100000 --engine-only`, two alternated pairs):
 * 4,312–4,688 → 6,115–6,430 msg/s, statements 876–1,030 → 543–621 ms and WAL 6.6 → 4.5 MB per
 * 1,000 messages.
 *
 * Triggers keep the two tables in step, whoever writes `messages` (a send's insert, an import's
 * COPY, a test): a registered row gets its search row in the same statement, a deleted one loses it,
 * a changed key is copied. No foreign key: its check would lock each new `messages` row (FOR KEY
 * SHARE).
 */
export class Migration20261203000000_message_search extends Migration {
  override async up(): Promise<void> {
    this.addSql(`
create table message_search (
  id uuid primary key,
  task_id uuid not null,
  channel text not null,
  recipient text not null,
  registered_at timestamptz not null
);
-- Inserted and deleted, never updated. Its statistics refreshed as often as those of messages
-- (Migration20261130100000_autovacuum): the log's plans are made from them.
alter table message_search set (autovacuum_analyze_scale_factor = 0.02, autovacuum_analyze_threshold = 10000);
-- As on messages (Migration20261128100000_message_log): the planner's guess of how many recipients
-- contain a pattern comes from this histogram.
alter table message_search alter column recipient set statistics 1000;

insert into message_search (id, task_id, channel, recipient, registered_at)
select id, task_id, channel, recipient, registered_at from messages;

create index message_search_log on message_search (registered_at desc, id desc);
create index message_search_channel on message_search (channel, registered_at desc, id desc);
create index message_search_task on message_search (task_id, registered_at desc, id desc);
create index message_search_recipient_trgm on message_search using gin (recipient gin_trgm_ops);

drop index if exists messages_log;
drop index if exists messages_log_channel;
drop index if exists messages_log_task;
drop index if exists messages_recipient_trgm;
alter table messages alter column recipient set statistics -1;

create or replace function message_search_after_insert() returns trigger language plpgsql as $$
begin
  insert into message_search (id, task_id, channel, recipient, registered_at)
  select id, task_id, channel, recipient, registered_at from new_rows;
  return null;
end $$;

create or replace function message_search_after_delete() returns trigger language plpgsql as $$
begin
  delete from message_search s using old_rows o where s.id = o.id;
  return null;
end $$;

-- The engine never changes a message's keys; a hand-made fix (or a test backdating rows) may. Per
-- row and only for an UPDATE that sets one of them: a status change does not fire it.
create or replace function message_search_after_key_update() returns trigger language plpgsql as $$
begin
  update message_search set task_id = new.task_id, channel = new.channel, recipient = new.recipient,
    registered_at = new.registered_at
  where id = old.id;
  return null;
end $$;

create trigger message_search_after_key_update after update of id, task_id, channel, recipient, registered_at on messages
  for each row execute function message_search_after_key_update();
create trigger message_search_after_insert after insert on messages
  referencing new table as new_rows for each statement execute function message_search_after_insert();
create trigger message_search_after_delete after delete on messages
  referencing old table as old_rows for each statement execute function message_search_after_delete();

analyze message_search;
`);
  }

  override async down(): Promise<void> {
    this.addSql(`
drop trigger if exists message_search_after_insert on messages;
drop trigger if exists message_search_after_delete on messages;
drop trigger if exists message_search_after_key_update on messages;
drop function if exists message_search_after_key_update();
drop function if exists message_search_after_insert();
drop function if exists message_search_after_delete();
drop table if exists message_search;
create index if not exists messages_log on messages (registered_at desc, id desc);
create index if not exists messages_log_channel on messages (channel, registered_at desc, id desc);
create index if not exists messages_log_task on messages (task_id, registered_at desc, id desc);
create index if not exists messages_recipient_trgm on messages using gin (recipient gin_trgm_ops);
alter table messages alter column recipient set statistics 1000;
`);
  }
}
