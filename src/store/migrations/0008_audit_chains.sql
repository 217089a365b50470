-- Several audit chains instead of one. With a single chain head every audited access of the whole server waited
-- for the one row lock, held through COMMIT (a WAL flush): measured, 70% of a read's time on PostgreSQL. Now an
-- append takes the first head nobody else holds (`for update skip locked`), so concurrent transactions append to
-- different chains and one after another they all use chain 1. Each chain is gapless and hash-linked on its own;
-- `audit verify` walks each one and checkpoints sign every head.
--
-- Entries written before this migration keep their numbering: chain 1, position = seq (chain_seq stays null;
-- the log is append-only, so it is not rewritten). New entries get their event id (seq) from a sequence and
-- their position in their chain in chain_seq.
--
-- And entries become compact (see below): about a third of the bytes, and far less to build, hash and write per access.

create sequence audit_event_seq;
select setval('audit_event_seq', coalesce((select max(seq) from audit_log), 0) + 1, false);

alter table audit_chain_head drop constraint audit_chain_head_id_check;
alter table audit_chain_head add constraint audit_chain_head_id_check check (id between 1 and 64);
insert into audit_chain_head (id, seq, hash)
  select c, 0, '0000000000000000000000000000000000000000000000000000000000000000' from generate_series(2, 16) as c;

alter table audit_checkpoints add column chain smallint not null default 1;

-- audit_log belongs to katahdin_audit_owner (0004): take that role for the change where we are not superuser.
do $$
declare
  me text := current_user;
  is_super boolean;
  owner_role boolean;
begin
  select rolsuper into is_super from pg_roles where rolname = me;
  select exists (select 1 from pg_roles where rolname = 'katahdin_audit_owner') into owner_role;
  if owner_role and not is_super then
    execute format('grant katahdin_audit_owner to %I', me);
  end if;
  alter table audit_log add column chain smallint not null default 1;
  alter table audit_log add column chain_seq bigint;
  -- Compact entries: the AuditEvent JSON is no longer stored (1.5 of 2.3 KB per entry) but rebuilt from the
  -- columns when read; the query and detail it carried get columns of their own. Older entries keep theirs.
  alter table audit_log alter column event drop not null;
  alter table audit_log add column query text;
  alter table audit_log add column detail text;
  create unique index audit_log_chain_position on audit_log (chain, (coalesce(chain_seq, seq)));
  if owner_role and not is_super then
    execute format('revoke katahdin_audit_owner from %I', me);
  end if;
end;
$$;
