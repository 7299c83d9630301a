import { Migration } from '@mikro-orm/migrations';

/**
 * Engine correctness (one control model):
 * - a claimed row has an owner and a lease, so two dispatchers can never hand it over both;
 * - a provider's "try later" puts the row back with a not-before time instead of holding its page;
 * - receipts for a provider message id not yet known are parked until the id appears;
 * - a failed task keeps its reason;
 * - the indexes follow what the sweeps and claims scan, so their cost follows the rows still
 *   waiting or in flight, never the number of tasks ever paused or canceled.
 */
export class Migration20261127000000_engine extends Migration {
  override async up(): Promise<void> {
    this.addSql(`
alter table messages
  add column owner text,
  add column lease_until timestamptz,
  add column not_before timestamptz,
  add column attempts integer not null default 0;

alter table tasks add column status_reason text;

-- Claimable rows only (PAUSED rows wait for a resume, not for a dispatcher).
drop index messages_dispatch;
create index messages_dispatch on messages (channel, task_id, seq)
  where released and status in ('CREATED', 'DELAYED', 'QUEUED');

-- Lifetimes: every live row whose lifetime has started, in deadline order.
drop index messages_in_flight;
create index messages_deadline on messages (delivery_end_at)
  where delivery_end_at is not null and status in ('CREATED', 'DELAYED', 'PAUSED', 'QUEUED', 'SENT', 'PENDING');

-- Claims whose owner may have died.
create index messages_lease on messages (lease_until) where status = 'QUEUED' and owner is not null;

drop index messages_held;
create index messages_held on messages (task_id, id) where not released and status = 'CREATED';

create table parked_receipts (
  id bigserial primary key,
  channel text not null,
  provider text not null,
  provider_message_id text not null,
  status text not null,
  description text,
  source text not null,
  received_at timestamptz not null default now()
);
create index parked_receipts_ref on parked_receipts (provider, provider_message_id);
`);
  }

  override async down(): Promise<void> {
    this.addSql(`
drop table if exists parked_receipts;
drop index if exists messages_lease;
drop index if exists messages_deadline;
create index messages_in_flight on messages (task_id, delivery_end_at) where status in ('SENT', 'PENDING');
drop index if exists messages_dispatch;
create index messages_dispatch on messages (channel, task_id, seq) where released and status in ('CREATED', 'QUEUED', 'DELAYED', 'PAUSED');
drop index if exists messages_held;
create index messages_held on messages (task_id, group_id) where not released and status = 'CREATED';
alter table tasks drop column status_reason;
alter table messages drop column owner, drop column lease_until, drop column not_before, drop column attempts;
`);
  }
}
