-- Audit log (privacy rules §6). One row per FHIR AuditEvent, append-only, hash-chained in seq order.
-- Compact columns hold the searchable facts; `event` is the canonical AuditEvent JSON exactly as hashed.
-- seq is assigned by the application under the chain-head lock (gapless), never by a sequence.
create table audit_log (
  seq bigint primary key,
  recorded timestamptz not null,
  action text not null,
  subtype text not null,
  outcome text not null,
  purpose text,
  agent_user_id text,
  agent_name text not null,
  agent_role text not null,
  agent_org text,
  agent_client text,
  source_ip text,
  person_ids text[] not null default '{}',
  entity_refs text[] not null default '{}',
  relationship text,
  break_glass boolean not null default false,
  event text not null,
  prev_hash text not null,
  hash text not null
);
create index audit_log_recorded on audit_log (recorded);
create index audit_log_person on audit_log using gin (person_ids);
create index audit_log_entity on audit_log using gin (entity_refs);
create index audit_log_agent_user on audit_log (agent_user_id, recorded) where agent_user_id is not null;
create index audit_log_agent_client on audit_log (agent_client, recorded) where agent_client is not null;

-- The chain head: one row, locked FOR UPDATE by each append so concurrent transactions append in a total
-- order. It must be updatable by the application, so a trigger at least forbids moving it backwards.
create table audit_chain_head (
  id integer primary key check (id = 1),
  seq bigint not null,
  hash text not null
);
insert into audit_chain_head (id, seq, hash) values (1, 0, '0000000000000000000000000000000000000000000000000000000000000000');

-- Signed checkpoints of the head hash (Ed25519; the key lives in <dataDir>/keys, never here).
create table audit_checkpoints (
  id bigserial primary key,
  seq bigint not null,
  hash text not null,
  signature text not null,
  key_id text not null,
  created_at timestamptz not null
);

-- Entries exported to NDJSON archives (the rows stay in the log; see src/audit/README in the report).
create table audit_archives (
  id bigserial primary key,
  first_seq bigint not null,
  last_seq bigint not null,
  last_hash text not null,
  file_sha256 text not null,
  location text not null,
  created_at timestamptz not null default now()
);

create function audit_reject_change() returns trigger language plpgsql as $$
begin
  raise exception 'the audit log is append-only (% on %)', tg_op, tg_table_name
    using errcode = 'insufficient_privilege';
end;
$$;

create trigger audit_log_no_update before update or delete on audit_log
  for each row execute function audit_reject_change();
create trigger audit_log_no_truncate before truncate on audit_log
  for each statement execute function audit_reject_change();
create trigger audit_checkpoints_no_update before update or delete on audit_checkpoints
  for each row execute function audit_reject_change();
create trigger audit_checkpoints_no_truncate before truncate on audit_checkpoints
  for each statement execute function audit_reject_change();

create function audit_head_forward_only() returns trigger language plpgsql as $$
begin
  if tg_op <> 'UPDATE' or new.seq < old.seq then
    raise exception 'the audit chain head only moves forward' using errcode = 'insufficient_privilege';
  end if;
  return new;
end;
$$;
create trigger audit_chain_head_forward before update or delete on audit_chain_head
  for each row execute function audit_head_forward_only();

-- "enable always" so session_replication_role = replica does not silently skip them.
alter table audit_log enable always trigger audit_log_no_update;
alter table audit_log enable always trigger audit_log_no_truncate;
alter table audit_checkpoints enable always trigger audit_checkpoints_no_update;
alter table audit_checkpoints enable always trigger audit_checkpoints_no_truncate;
alter table audit_chain_head enable always trigger audit_chain_head_forward;

-- Privacy-officer review of break-the-glass declarations and attestations (one row per audit event).
create table audit_reviews (
  event_seq bigint primary key,
  kind text not null check (kind in ('break-glass', 'attestation')),
  status text not null default 'pending' check (status in ('pending', 'reviewed')),
  reviewer text,
  notes text,
  reviewed_at timestamptz
);
create index audit_reviews_pending on audit_reviews (kind, event_seq) where status = 'pending';

-- Patients' requests for their access report (online form, or paper/phone taken by a privacy officer).
create table audit_requests (
  id text primary key,
  person_id text not null,
  channel text not null check (channel in ('online', 'paper', 'phone')),
  requested_by text not null,
  requested_at timestamptz not null,
  status text not null default 'requested' check (status in ('requested', 'fulfilled')),
  fulfilled_by text,
  fulfilled_at timestamptz
);
create index audit_requests_status on audit_requests (status, requested_at);
create index audit_requests_person on audit_requests (person_id);

-- In PostgreSQL, hand the log to a separate owner role so the application's login can insert and read but
-- can neither disable the triggers nor replace the trigger function without first re-granting itself that
-- role (which a CREATEROLE login can still do; the hash chain and signed checkpoints detect what follows).
-- Skipped silently where roles cannot be created (PGlite-restricted setups, managed servers).
do $$
declare
  me text := current_user;
  is_super boolean;
begin
  select rolsuper into is_super from pg_roles where rolname = me;
  begin
    create role katahdin_audit_owner nologin;
  exception when duplicate_object or unique_violation then null;
  end;
  if not is_super then
    execute format('grant katahdin_audit_owner to %I', me);
    -- A new owner needs CREATE on the schema (superusers skip this check).
    execute format('grant usage, create on schema %I to katahdin_audit_owner', current_schema());
  end if;
  execute 'alter table audit_log owner to katahdin_audit_owner';
  execute 'alter table audit_checkpoints owner to katahdin_audit_owner';
  execute 'alter function audit_reject_change() owner to katahdin_audit_owner';
  execute format('grant select, insert on audit_log, audit_checkpoints to %I', me);
  execute format('grant usage on sequence audit_checkpoints_id_seq to %I', me);
  if not is_super then
    execute format('revoke katahdin_audit_owner from %I', me);
  end if;
exception when insufficient_privilege or feature_not_supported or invalid_grant_operation then null;
end;
$$;
