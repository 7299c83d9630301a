import { Migration } from '@mikro-orm/migrations';

/**
 * Short links: one row per message and URL, written with the message in the same transaction
 * (db/messages.ts), followed by `GET /l/:code`.
 * - `code` is the key the public route looks up; it is random (api/services/links.ts), so the
 *   table is the only way from a code to its message.
 * - No foreign key to `messages`, as for `message_events`: checking one takes a row lock on each
 *   message named (a write to every page of an import's messages), which made a 200,000-row insert
 *   of links 35–100% slower here. The only code that deletes messages (a created task's file being
 *   replaced: api/services/task-import.ts#clearTaskRows) deletes their links first, through
 *   `short_links_message`, which also serves the message page's list.
 */
export class Migration20261128200000_links extends Migration {
  override async up(): Promise<void> {
    this.addSql(`
create table short_links (
  code text primary key,
  message_id uuid not null,
  url text not null,
  clicks integer not null default 0,
  created_at timestamptz not null default now(),
  last_click_at timestamptz
);
create index short_links_message on short_links (message_id);
`);
  }

  override async down(): Promise<void> {
    this.addSql('drop table if exists short_links;');
  }
}
