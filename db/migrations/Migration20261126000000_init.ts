import { Migration } from '@mikro-orm/migrations';

/** Initial schema. Message rows are written in bulk by plain SQL (db/messages.ts), so their
 * indexes are chosen for the dispatch cursor (task, status, seq) and the operator's filters. */
export class Migration20261126000000_init extends Migration {
  override async up(): Promise<void> {
    this.addSql(`
create table api_keys (
  id uuid primary key,
  name text not null,
  role text not null check (role in ('admin', 'operator')),
  key_hash text not null unique,
  key_prefix text not null,
  created_at timestamptz not null default now(),
  revoked_at timestamptz
);

create table channel_settings (
  channel text primary key,
  enabled boolean not null,
  updated_at timestamptz not null default now()
);
insert into channel_settings (channel, enabled) values
  ('sms', true), ('email', false), ('push', false), ('viber', true), ('whatsapp', true), ('chat', true);

create table senders (
  id uuid primary key,
  name text not null,
  channel text not null,
  status text not null check (status in ('pending', 'approved', 'rejected')),
  created_at timestamptz not null default now(),
  approved_at timestamptz,
  unique (channel, name)
);

create table templates (
  id uuid primary key,
  name text not null,
  timezone text not null,
  send_windows jsonb not null default '[]',
  channels jsonb not null,
  variables text[] not null default '{}',
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);
create index templates_created_at on templates (created_at desc);

create table tasks (
  id uuid primary key,
  name text not null,
  type text not null,
  status text not null check (status in ('created', 'in_progress', 'paused', 'completed', 'canceled', 'failed')),
  template_id uuid references templates (id) on delete set null,
  timezone text not null default 'UTC',
  send_windows jsonb not null default '[]',
  start_at timestamptz,
  total integer not null default 0,
  rejected integer not null default 0,
  workflow_id text not null,
  created_by uuid,
  created_at timestamptz not null default now(),
  started_at timestamptz,
  finished_at timestamptz
);
create index tasks_created_at on tasks (created_at desc);
create index tasks_template_status on tasks (template_id, status);
create index tasks_type_status on tasks (type, status);

create table task_events (
  id bigserial primary key,
  task_id uuid not null references tasks (id) on delete cascade,
  kind text not null,
  detail jsonb not null default '{}',
  created_at timestamptz not null default now()
);
create index task_events_task on task_events (task_id, id);

create table messages (
  id uuid primary key,
  task_id uuid not null references tasks (id) on delete cascade,
  group_id uuid not null,
  send_id text not null unique,
  seq integer not null,
  channel text not null,
  channel_index integer not null,
  optional boolean not null,
  -- false for an optional (fallback) row until every earlier attempt of its recipient failed
  released boolean not null,
  status text not null,
  status_description text,
  sender text,
  recipient text not null,
  external_id text,
  text text,
  payload jsonb,
  variables jsonb,
  template_id uuid,
  template_name text,
  parts integer not null default 1,
  cost numeric(14, 4) not null default 0,
  operator text,
  provider text,
  provider_message_id text,
  lifetime_seconds double precision not null,
  short_link text,
  link_clicks integer not null default 0,
  email_views integer not null default 0,
  email_clicks integer not null default 0,
  registered_at timestamptz not null default now(),
  queued_at timestamptz,
  sent_at timestamptz,
  status_at timestamptz not null default now(),
  delayed_start_at timestamptz,
  delivery_end_at timestamptz
);
-- Rows that still wait for dispatch leave this index as soon as they are handed to a provider.
create index messages_dispatch on messages (channel, task_id, seq)
  where released and status in ('CREATED', 'QUEUED', 'DELAYED', 'PAUSED');
create index messages_task_status on messages (task_id, status);
create index messages_registered_at on messages (registered_at);
create index messages_group on messages (group_id, channel_index);
create index messages_provider_ref on messages (provider, provider_message_id) where provider_message_id is not null;
create index messages_held on messages (task_id, group_id) where not released and status = 'CREATED';
create index messages_in_flight on messages (task_id, delivery_end_at) where status in ('SENT', 'PENDING');

create table message_events (
  id bigserial primary key,
  message_id uuid not null,
  status text not null,
  description text,
  source text not null,
  created_at timestamptz not null default now()
);
create index message_events_message on message_events (message_id, id);

create table idempotency_keys (
  api_key_id uuid not null,
  key text not null,
  request_hash text not null,
  status_code integer not null,
  response jsonb not null,
  created_at timestamptz not null default now(),
  primary key (api_key_id, key)
);

-- The sandbox carrier's pending delivery receipts: durable, so a worker restart loses none.
create table sandbox_receipts (
  message_id uuid not null,
  status text not null,
  description text,
  due_at timestamptz not null,
  primary key (message_id, status)
);
create index sandbox_receipts_due on sandbox_receipts (due_at);

-- What the sandbox carrier accepted, once per send id: a resubmission after a crash is counted
-- here instead of being sent again, which is what tests check "exactly once" against.
create table sandbox_submissions (
  send_id text primary key,
  message_id uuid not null,
  accepted_at timestamptz not null default now(),
  duplicates integer not null default 0
);
`);
  }

  override async down(): Promise<void> {
    this.addSql(`drop table if exists sandbox_submissions, sandbox_receipts, idempotency_keys, message_events, messages, task_events, tasks,
      templates, senders, channel_settings, api_keys cascade;`);
  }
}
