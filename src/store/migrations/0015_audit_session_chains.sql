-- Each database connection appends to a chain of its own. Until now every audited access locked a free chain head
-- row (`for update skip locked`) and updated it in its own transaction: a row lock and a second row write per access,
-- measured as 28 % of an audited read's statement on PostgreSQL. Now a connection claims a chain once, with a
-- session advisory lock (in a key space per schema), and keeps the chain's head in a session setting that its
-- transactions move forward: a setting changed by a transaction that rolls back returns to its earlier value, so the
-- head always matches what the connection committed. No other connection appends to that chain while the lock is
-- held (the unique position index would refuse it anyway), and when the connection ends the chain is free again and
-- the next claimant continues it from its last entry in the log. The setting names its schema: a session that
-- changes `search_path` claims a chain of the other schema's log.
--
-- `audit_chain_head` is no longer moved by every append: the claim and each signed checkpoint publish a chain's
-- last entry there (still forward only). It lists the chains that exist; `audit verify` compares each chain's tail
-- with it and with the signed checkpoints. Connection poolers must keep sessions (PgBouncer session mode), as
-- node-postgres's pool does. Servers of the version before this one must be stopped first: they append to chains
-- by locking head rows, and an append of theirs to a chain a new connection holds fails on the position index.

alter table audit_chain_head drop constraint audit_chain_head_id_check;
alter table audit_chain_head add constraint audit_chain_head_id_check check (id between 1 and 1024);

create function audit_chain_claim() returns text language plpgsql volatile as $$
declare
  space integer := hashtext(current_schema());
  claimed integer;
  pos bigint;
  last_hash text;
  head text;
begin
  -- A session whose setting was rolled back (its first append failed) keeps the chain it already holds.
  select min(l.objid::int) into claimed from pg_locks l
    where l.locktype = 'advisory' and l.pid = pg_backend_pid() and l.objsubid = 2 and l.classid = space::oid;
  if claimed is null then
    for c in 1..1024 loop
      if pg_try_advisory_lock(space, c) then
        claimed := c;
        exit;
      end if;
    end loop;
  end if;
  if claimed is null then
    raise exception 'no free audit chain: 1,024 connections are appending to the audit log'
      using errcode = 'too_many_connections';
  end if;
  select coalesce(l.chain_seq, l.seq), l.hash into pos, last_hash
    from audit_log l where l.chain = claimed order by coalesce(l.chain_seq, l.seq) desc limit 1;
  insert into audit_chain_head (id, seq, hash) values (claimed, coalesce(pos, 0), coalesce(last_hash, repeat('0', 64)))
    on conflict (id) do update set seq = excluded.seq, hash = excluded.hash where audit_chain_head.seq < excluded.seq;
  head := claimed || ':' || coalesce(pos, 0) || ':' || coalesce(last_hash, repeat('0', 64)) || ':' || current_schema();
  perform set_config('katahdin.audit_head', head, false);
  return head;
end;
$$;
