-- When each source record belonged to which person. An access is audited under the person the record belonged to
-- at that moment; after a merge, a move or an unlink the record's person changes, and the patient's access report
-- ("who viewed my record") must still find the accesses made under the earlier person while the record was part of
-- it. A trigger keeps the periods, so every writer of `mpi_links` (the link store, the batch relink) is covered.
-- `linked_from` / `linked_until` come from the link's `updated_at`, the writer's clock, as the audit's `recorded` does.
create table mpi_link_periods (
  patient_id text not null,
  person_id text not null,
  linked_from timestamptz not null,
  linked_until timestamptz
);
create index mpi_link_periods_patient on mpi_link_periods (patient_id);
create unique index mpi_link_periods_open on mpi_link_periods (patient_id) where linked_until is null;

create function mpi_link_period() returns trigger language plpgsql as $$
begin
  if tg_op = 'UPDATE' and new.person_id = old.person_id then
    return new;
  end if;
  -- Also on insert: a link deleted and written again (a rebuild) must not leave the earlier period open.
  update mpi_link_periods set linked_until = greatest(linked_from, new.updated_at)
    where patient_id = new.patient_id and linked_until is null;
  insert into mpi_link_periods (patient_id, person_id, linked_from) values (new.patient_id, new.person_id, new.updated_at);
  return new;
end;
$$;

create trigger mpi_links_period after insert or update of person_id on mpi_links
  for each row execute function mpi_link_period();

-- Links written before: the persons each record appears in across the Person resources' versions (the Person
-- mirrors its links), from the first version naming the record to the first later version that no longer does.
with named as (
  select h.id as person_id, substr(t->'target'->>'reference', 9) as patient_id, min(h.last_updated) as first_seen, max(h.last_updated) as last_seen
    from resource_history h cross join lateral jsonb_array_elements(case when jsonb_typeof(h.content->'link') = 'array' then h.content->'link' else '[]'::jsonb end) t
   where h.resource_type = 'Person' and t->'target'->>'reference' like 'Patient/%'
   group by 1, 2)
insert into mpi_link_periods (patient_id, person_id, linked_from, linked_until)
select n.patient_id, n.person_id, n.first_seen,
       case when exists (select 1 from mpi_links l where l.patient_id = n.patient_id and l.person_id = n.person_id) then null
            else coalesce((select min(h.last_updated) from resource_history h
                            where h.resource_type = 'Person' and h.id = n.person_id and h.last_updated > n.last_seen), n.last_seen) end
  from named n;

-- Current links whose Person was never written (or wrote no link for them).
insert into mpi_link_periods (patient_id, person_id, linked_from)
select l.patient_id, l.person_id, l.updated_at from mpi_links l
 where not exists (select 1 from mpi_link_periods p where p.patient_id = l.patient_id and p.linked_until is null);
