import { Migration } from '@mikro-orm/migrations';

/**
 * Campaigns from Excel files:
 * - a task remembers its file, the rows it dropped as repeats, and whether it was deleted (a deleted
 *   task's messages stay in the message log, so the row stays too);
 * - the rows a file could not send, with the reason, for `GET /tasks/:id/errors.xlsx`;
 * - per-status counts per task kept by statement triggers on `messages`, so lists and task pages
 *   never count over the messages table. Each statement adds its net change per (task, status), in
 *   key order so concurrent statements lock counter rows in the same order (no deadlocks).
 */
export class Migration20261127100000_task_files extends Migration {
  override async up(): Promise<void> {
    this.addSql(`
alter table tasks
  add column file_name text,
  add column duplicates integer not null default 0,
  add column deleted_at timestamptz;
create index tasks_list on tasks (created_at desc, id) where deleted_at is null;

create table task_row_errors (
  id bigserial primary key,
  task_id uuid not null references tasks (id) on delete cascade,
  row_number integer not null,
  column_name text,
  value text,
  reason text not null
);
create index task_row_errors_task on task_row_errors (task_id, id);

create table task_counts (
  task_id uuid not null,
  status text not null,
  n bigint not null,
  primary key (task_id, status)
);
insert into task_counts (task_id, status, n) select task_id, status, count(*) from messages group by task_id, status;

create function task_counts_after_insert() returns trigger language plpgsql as $$
begin
  insert into task_counts (task_id, status, n)
  select task_id, status, count(*) from new_rows group by task_id, status order by task_id, status
  on conflict (task_id, status) do update set n = task_counts.n + excluded.n;
  return null;
end $$;

create function task_counts_after_update() returns trigger language plpgsql as $$
begin
  insert into task_counts (task_id, status, n)
  select task_id, status, sum(n) from (
    select task_id, status, -count(*) as n from old_rows group by task_id, status
    union all
    select task_id, status, count(*) from new_rows group by task_id, status) change
  group by task_id, status having sum(n) <> 0 order by task_id, status
  on conflict (task_id, status) do update set n = task_counts.n + excluded.n;
  return null;
end $$;

create function task_counts_after_delete() returns trigger language plpgsql as $$
begin
  update task_counts c set n = c.n - d.n
  from (select task_id, status, count(*) as n from old_rows group by task_id, status order by task_id, status) d
  where c.task_id = d.task_id and c.status = d.status;
  return null;
end $$;

create trigger messages_counted_insert after insert on messages
  referencing new table as new_rows for each statement execute function task_counts_after_insert();
create trigger messages_counted_update after update on messages
  referencing old table as old_rows new table as new_rows for each statement execute function task_counts_after_update();
create trigger messages_counted_delete after delete on messages
  referencing old table as old_rows for each statement execute function task_counts_after_delete();
`);
  }

  override async down(): Promise<void> {
    this.addSql(`
drop trigger if exists messages_counted_insert on messages;
drop trigger if exists messages_counted_update on messages;
drop trigger if exists messages_counted_delete on messages;
drop function if exists task_counts_after_insert(), task_counts_after_update(), task_counts_after_delete();
drop table if exists task_counts, task_row_errors;
drop index if exists tasks_list;
alter table tasks drop column file_name, drop column duplicates, drop column deleted_at;
`);
  }
}
