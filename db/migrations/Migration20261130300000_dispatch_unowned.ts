import { Migration } from '@mikro-orm/migrations';

/**
 * The dispatch index holds only rows nobody owns (db/dispatch.ts#claimableRow): a claimed row
 * (QUEUED with an owner) leaves it, so the claim writes no entry into it and later claims and the
 * stream's walk of waiting tasks do not step over the rows in flight — at a million rows, walking
 * them was a large part of each claim. A row whose lease lapsed comes back through the sweep,
 * which gives it up (owner null) before it is claimed again.
 */
export class Migration20261130300000_dispatch_unowned extends Migration {
  override async up(): Promise<void> {
    this.addSql(`
drop index if exists messages_dispatch;
create index messages_dispatch on messages (channel, task_id, seq)
  where released and (status in ('CREATED', 'DELAYED', 'PAUSED') or (status = 'QUEUED' and owner is null));
`);
  }

  override async down(): Promise<void> {
    this.addSql(`
drop index if exists messages_dispatch;
create index messages_dispatch on messages (channel, task_id, seq)
  where released and status in ('CREATED', 'QUEUED', 'DELAYED', 'PAUSED');
`);
  }
}
