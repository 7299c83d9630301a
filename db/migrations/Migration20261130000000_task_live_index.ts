import { Migration } from '@mikro-orm/migrations';

/**
 * The (task, status) index holds only rows that are not final (docs/ARCHITECTURE.md, "Write
 * budget"): the engine's statements that look for a task's rows by status (pause, resume, cancel,
 * completion) look only for live ones, and a row leaves the index when it reaches a final status,
 * so a delivery receipt writes one index entry fewer. The message log filters a task's rows by
 * status through `messages_log_task`.
 */
export class Migration20261130000000_task_live_index extends Migration {
  override async up(): Promise<void> {
    this.addSql(`
create index if not exists messages_task_live on messages (task_id, status)
  where status in ('CREATED', 'DELAYED', 'PAUSED', 'QUEUED', 'SENT', 'PENDING');
drop index if exists messages_task_status;
`);
  }

  override async down(): Promise<void> {
    this.addSql(`
create index if not exists messages_task_status on messages (task_id, status);
drop index if exists messages_task_live;
`);
  }
}
