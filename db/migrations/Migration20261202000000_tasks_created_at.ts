import { Migration } from '@mikro-orm/migrations';

/**
 * `tasks_created_at` served the task list before `tasks_list` (created_at desc, id — where
 * deleted_at is null) did, and the list is the only query ordered or bounded by created_at, always
 * with `deleted_at is null` (db/tasks.ts#listTasks). Every API send is a task whose row is written
 * twice (created, then completed), so the redundant index cost two entries per send.
 */
export class Migration20261202000000_tasks_created_at extends Migration {
  override async up(): Promise<void> {
    this.addSql('drop index if exists tasks_created_at;');
  }

  override async down(): Promise<void> {
    this.addSql('create index if not exists tasks_created_at on tasks (created_at desc);');
  }
}
