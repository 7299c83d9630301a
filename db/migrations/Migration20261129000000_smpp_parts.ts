import { Migration } from '@mikro-orm/migrations';

/**
 * The SMPP adapter's parts (activities/channels/smpp.ts): each submit_sm the SMSC accepted, by the
 * message id it answered, with the send it belongs to and the state its receipt reported. Receipts
 * come per part and may arrive before the part is recorded (a row with no send yet) or after a
 * worker restart; a message is reported final once all its parts are (`reported` on part 1). A
 * resubmitted send finds its accepted parts here and does not send them again.
 */
export class Migration20261129000000_smpp_parts extends Migration {
  override async up(): Promise<void> {
    this.addSql(`
create table smpp_parts (
  provider text not null,
  part_id text not null,
  send_id text,
  part_index int,
  parts_total int,
  state text,
  stat text,
  reported boolean not null default false,
  updated_at timestamptz not null default now(),
  primary key (provider, part_id)
);
create index smpp_parts_send on smpp_parts (provider, send_id) where send_id is not null;
`);
  }

  override async down(): Promise<void> {
    this.addSql('drop table if exists smpp_parts;');
  }
}
