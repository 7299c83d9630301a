import { Migration } from '@mikro-orm/migrations';

/**
 * A pause, resume or cancel answers once the task row has changed and a first batch of its rows
 * followed; the sweep moves the rest in batches (db/tasks.ts, `settleControlledRows`). The flag
 * marks tasks whose rows have not all followed their task's status yet, so a sweep finds them
 * through a tiny partial index instead of looking at every paused or canceled task it covers.
 */
export class Migration20261130200000_task_control_pending extends Migration {
  override async up(): Promise<void> {
    this.addSql(`
alter table tasks add column if not exists control_pending boolean not null default false;
create index if not exists tasks_control_pending on tasks (id) where control_pending;
`);
  }

  override async down(): Promise<void> {
    this.addSql(`
drop index if exists tasks_control_pending;
alter table tasks drop column if exists control_pending;
`);
  }
}
