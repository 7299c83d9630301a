import { Migration } from '@mikro-orm/migrations';

/**
 * A message group's id is its first message's id (services/notifications.ts#planRecipient), so
 * the fallback sweep reaches a group's first row by its primary key, and `messages_group` keeps
 * only the rows it cannot reach that way: the later channels' rows, and the first rows of groups
 * registered before this change (their id differs from the group's). A single-channel message —
 * every message of most campaigns — writes no entry into it, where each of its four row versions
 * (registration, QUEUED, SENT, DELIVERED) wrote one before. db/sweep.ts#EARLIER_ATTEMPTS reads
 * both ways.
 */
export class Migration20261201000000_group_first_row extends Migration {
  override async up(): Promise<void> {
    this.addSql(`
drop index if exists messages_group;
create index messages_group on messages (group_id, channel_index) where channel_index > 0 or id <> group_id;
`);
  }

  override async down(): Promise<void> {
    this.addSql(`
drop index if exists messages_group;
create index messages_group on messages (group_id, channel_index);
`);
  }
}
