import { Migration } from '@mikro-orm/migrations';

/**
 * Short links: one row per message and URL, written with the message in the same transaction
 * (db/messages.ts), followed by `GET /l/:code`.
 * - `code` is the key the public route looks up; it is random (api/services/links.ts), so the
 *   table is the only way from a code to its message.
 * - A link goes with its message: replacing a task's file deletes the messages, and their links
 *   with them. `short_links_message` serves that cascade and the message page's list.
 */
export class Migration20261128200000_links extends Migration {
  override async up(): Promise<void> {
    this.addSql(`
create table short_links (
  code text primary key,
  message_id uuid not null references messages (id) on delete cascade,
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
