-- FHIR Bulk Data export jobs. A job holds what was asked and how its output splits into files (resource ids that
-- bound each file), never resource content: each file is read through the access gate when it is downloaded, so
-- an opt-out, a withdrawn consent or an ended care relationship after the kick-off is honoured by every file.
create table export_jobs (
  id text primary key,
  -- `user:<id>` or `client:<id>`: only the requester may see the job and its files.
  requester text not null,
  level text not null check (level in ('system', 'patient', 'group')),
  group_id text,
  types text[],
  since timestamptz,
  transaction_time timestamptz not null,
  request_url text not null,
  purpose text not null,
  status text not null check (status in ('planning', 'complete', 'failed', 'cancelled')),
  files jsonb not null default '[]',
  warnings jsonb not null default '[]',
  error text,
  created_at timestamptz not null default now(),
  expires_at timestamptz not null
);
create index export_jobs_expires on export_jobs (expires_at);
