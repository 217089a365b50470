-- MPI: blocking keys (candidate retrieval by index), review tasks, remembered not-link decisions, versioned models.
create table mpi_block_keys (
  key text not null,
  patient_id text not null,
  primary key (key, patient_id)
);
create index mpi_block_keys_patient on mpi_block_keys (patient_id);

create table mpi_tasks (
  id text primary key,
  patient_a text not null,
  patient_b text not null,
  score double precision not null,
  explanation jsonb not null,
  status text not null default 'open',
  decision text,
  decided_by text,
  decided_at timestamptz,
  created_at timestamptz not null
);
create index mpi_tasks_status on mpi_tasks (status, created_at);
create unique index mpi_tasks_open_pair on mpi_tasks (least(patient_a, patient_b), greatest(patient_a, patient_b)) where status = 'open';

create table mpi_not_links (
  patient_a text not null,
  patient_b text not null,
  decided_by text,
  decided_at timestamptz not null,
  primary key (patient_a, patient_b)
);

create table mpi_models (
  version integer primary key,
  trained_at timestamptz not null,
  model jsonb not null
);
