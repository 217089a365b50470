-- The durable inbox: every message is committed here before it is acknowledged, so nothing acknowledged is lost.
create table ingest_messages (
  id text primary key,
  received_at timestamptz not null,
  channel text not null,
  sender text not null,
  message_type text,
  control_id text,
  status text not null,
  reason text,
  error_location text,
  person_ids text[] not null default '{}',
  raw text,
  ack text,
  resources integer not null default 0,
  processed_at timestamptz
);
create unique index ingest_messages_control on ingest_messages (sender, control_id) where control_id is not null and control_id <> '';
create index ingest_messages_status on ingest_messages (status, received_at);
create index ingest_messages_received on ingest_messages (received_at);
create index ingest_messages_persons on ingest_messages using gin (person_ids);
