-- FHIR Subscriptions (R4, rest-hook). The Subscription resource itself lives in `resources`; this table is the
-- server's index of them: the system client that created it, whose standing (organization, scopes, query role)
-- decides what each notification may carry, and the type it watches while live. Every server process reads it
-- (no resource content, so without going through the gate) to know which writes queue notifications.
create table subscription_index (
  subscription_id text primary key,
  client_id text not null,
  resource_type text not null,
  live boolean not null,
  updated_at timestamptz not null default now()
);
create index subscription_index_live on subscription_index (resource_type) where live;

-- Notifications to send: written in the transaction of the write that triggers them, so a committed write is
-- never left unnotified; sent (and audited) by the notification worker, retried with backoff.
create table notification_outbox (
  seq bigserial primary key,
  subscription_id text not null,
  resource_type text not null,
  id text not null,
  enqueued_at timestamptz not null default now(),
  attempts integer not null default 0,
  next_attempt timestamptz not null default now(),
  last_error text
);
create index notification_outbox_due on notification_outbox (next_attempt);
create index notification_outbox_resource on notification_outbox (resource_type, id);
