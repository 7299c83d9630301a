import { Migration } from '@mikro-orm/migrations';

/**
 * Per-status task counts without a hot row. The statement triggers on `messages` upserted one
 * counter row per (task, status), held locked until their transaction committed — so every
 * claim, receipt batch, pause and cancel of a task queued behind the others on those rows, and a
 * cancel of a large running campaign deadlocked with its own dispatchers. Now each statement only
 * appends its net change to `task_count_changes` (an insert conflicts with nobody); a task's
 * counts are `task_counts` plus its changes, and the worker's supervisor folds changes into
 * `task_counts` in short transactions of their own (db/tasks.ts#foldTaskCountChanges).
 */
export class Migration20261128300000_task_count_changes extends Migration {
  override async up(): Promise<void> {
    this.addSql(`
create table task_count_changes (
  id bigserial primary key,
  task_id uuid not null,
  status text not null,
  n bigint not null
);
create index task_count_changes_task on task_count_changes (task_id);

create or replace function task_counts_after_insert() returns trigger language plpgsql as $$
begin
  insert into task_count_changes (task_id, status, n)
  select task_id, status, count(*) from new_rows group by task_id, status;
  return null;
end $$;

create or replace function task_counts_after_update() returns trigger language plpgsql as $$
begin
  insert into task_count_changes (task_id, status, n)
  select task_id, status, sum(n) from (
    select task_id, status, -count(*) as n from old_rows group by task_id, status
    union all
    select task_id, status, count(*) from new_rows group by task_id, status) change
  group by task_id, status having sum(n) <> 0;
  return null;
end $$;

create or replace function task_counts_after_delete() returns trigger language plpgsql as $$
begin
  insert into task_count_changes (task_id, status, n)
  select task_id, status, -count(*) from old_rows group by task_id, status;
  return null;
end $$;
`);
  }

  override async down(): Promise<void> {
    this.addSql(`
insert into task_counts (task_id, status, n)
select task_id, status, sum(n) from task_count_changes group by task_id, status order by task_id, status
on conflict (task_id, status) do update set n = task_counts.n + excluded.n;
drop table task_count_changes;

create or replace function task_counts_after_insert() returns trigger language plpgsql as $$
begin
  insert into task_counts (task_id, status, n)
  select task_id, status, count(*) from new_rows group by task_id, status order by task_id, status
  on conflict (task_id, status) do update set n = task_counts.n + excluded.n;
  return null;
end $$;

create or replace function task_counts_after_update() returns trigger language plpgsql as $$
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

create or replace function task_counts_after_delete() returns trigger language plpgsql as $$
begin
  update task_counts c set n = c.n - d.n
  from (select task_id, status, count(*) as n from old_rows group by task_id, status order by task_id, status) d
  where c.task_id = d.task_id and c.status = d.status;
  return null;
end $$;
`);
  }
}
