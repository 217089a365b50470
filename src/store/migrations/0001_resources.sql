-- Current version of every resource. Clinical rows carry the person (MPI enterprise id) and the source
-- Patient they belong to, so privacy filters, purges and a future Citus distribution all key on person_id.
create table resources (
  resource_type text not null,
  id text not null,
  version_id integer not null,
  last_updated timestamptz not null,
  deleted boolean not null default false,
  patient_id text,
  person_id text,
  source_org text,
  security text[] not null default '{}',
  clinical_date timestamptz,
  content jsonb not null,
  primary key (resource_type, id)
);
create index resources_person on resources (person_id, resource_type) where person_id is not null;
create index resources_patient on resources (patient_id) where patient_id is not null;
create index resources_type_updated on resources (resource_type, last_updated);

-- Every version ever written (including the current one and deletions).
create table resource_history (
  resource_type text not null,
  id text not null,
  version_id integer not null,
  last_updated timestamptz not null,
  deleted boolean not null default false,
  person_id text,
  content jsonb not null,
  primary key (resource_type, id, version_id)
);
create index resource_history_person on resource_history (person_id) where person_id is not null;
create index resource_history_updated on resource_history (last_updated);
