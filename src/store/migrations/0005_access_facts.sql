-- Facts the access gate turns into SQL filters. Kept per source Patient or per person so that MPI
-- link changes re-home them with one UPDATE.

-- Source Patient -> enterprise person (the MPI's answer; the Person resource mirrors it for FHIR clients).
create table mpi_links (
  patient_id text primary key,
  person_id text not null,
  assurance text not null,
  score double precision,
  explanation jsonb,
  updated_at timestamptz not null default now()
);
create index mpi_links_person on mpi_links (person_id);

-- An organization's care relationship with a source Patient, from encounters and referrals it sent.
create table care_relationships (
  patient_id text not null,
  organization_id text not null,
  last_date timestamptz not null,
  active boolean not null default false,
  primary key (patient_id, organization_id)
);
create index care_relationships_org on care_relationships (organization_id, patient_id);

create table attestations (
  id text primary key,
  user_id text not null,
  person_id text not null,
  reason text not null,
  created_at timestamptz not null,
  expires_at timestamptz not null
);
create index attestations_user_person on attestations (user_id, person_id, expires_at);

create table break_glass (
  id text primary key,
  user_id text not null,
  organization_id text,
  person_id text not null,
  reason text not null,
  created_at timestamptz not null,
  expires_at timestamptz not null
);
create index break_glass_user_person on break_glass (user_id, person_id, expires_at);

-- The person's current privacy choices, derived from their Consent resources on every consent write.
create table person_privacy (
  person_id text primary key,
  opted_out boolean not null default false,
  opted_out_at timestamptz,
  opt_in_date timestamptz,
  shared_labels text[] not null default '{}',
  updated_at timestamptz not null default now()
);

-- Protected identifier values (SSNs): encrypted, with a keyed hash for matching; never in `content`.
create table protected_values (
  resource_type text not null,
  id text not null,
  kind text not null,
  ciphertext text not null,
  hmac text not null,
  primary key (resource_type, id, kind)
);
create index protected_values_hmac on protected_values (kind, hmac);

-- PHI-free counts of data discarded because of a patient's choices.
create table discarded_data (
  day date not null,
  channel text not null,
  reason text not null,
  resource_type text not null,
  count integer not null default 0,
  primary key (day, channel, reason, resource_type)
);
