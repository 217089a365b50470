-- Which FHIR base the search index was built for, and whether it must be rebuilt (src/store/search/index-state.ts).
-- An absolute reference is indexed as a local resource only under the server's own FHIR base (PUBLIC_URL + /fhir), so
-- the index rows depend on that base: the server refuses to serve an index built for another base, and `katahdin
-- reindex` rebuilds for the recorded base rather than for whatever PUBLIC_URL its shell has.
-- Rows written before this migration resolved every absolute URL ending in Type/id as local (another server's
-- Patient/123 was taken for ours): a database holding resources gets a rebuild marked pending, which the server
-- carries out before it serves (or `katahdin migrate` / `katahdin reindex` ahead of it). Its base is not known yet
-- (null): the first server to start on it records its own. A new database has nothing to rebuild.
-- The rebuild walks current resources in (resource_type, id) order; `rebuild_after_*` is the last key whose rows are
-- rebuilt, committed with that batch, so a rebuild cut off by a crash resumes there.
-- Not named search_*: that prefix is the index tables (0014_analyze_sooner.sql and its test find them by it).
create table reindex_state (
  singleton boolean primary key default true check (singleton),
  base text,
  rebuild_pending boolean not null default false,
  rebuild_reason text,
  rebuild_after_type text not null default '',
  rebuild_after_id text not null default '',
  rebuild_done bigint not null default 0,
  rebuild_started timestamptz,
  updated_at timestamptz not null default now()
);

insert into reindex_state (rebuild_pending, rebuild_reason, rebuild_started)
  select data, case when data then 'index rows written before migration 0024' end, case when data then now() end
  from (select exists (select 1 from resources where deleted = false) as data) existing;
