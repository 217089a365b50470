-- Typed search index rows, derived from the R4 SearchParameter definitions (src/store/search/extract.ts) and
-- written in the same transaction as the resource. Every table is keyed by (resource_type, id, param); the
-- (resource_type, id) index serves replace/delete and correlated EXISTS checks, the second index serves lookups.

-- Strings: `value` is lower-case without diacritics (default prefix search), `raw` is the original (:exact).
create table search_string (
  resource_type text not null,
  id text not null,
  param text not null,
  value text not null,
  raw text not null
);
create index search_string_key on search_string (resource_type, id);
create index search_string_value on search_string (resource_type, param, value text_pattern_ops);

-- Tokens: Coding, CodeableConcept, Identifier, ContactPoint, code, boolean. `display` (normalised) answers
-- :text; type_system/type_code (Identifier.type) answer :of-type.
create table search_token (
  resource_type text not null,
  id text not null,
  param text not null,
  system text,
  value text,
  display text,
  type_system text,
  type_code text
);
create index search_token_key on search_token (resource_type, id);
create index search_token_value on search_token (resource_type, param, value, system);

-- Dates as half-open ranges [lo, hi) at the precision given (2020 → [2020-01-01, 2021-01-01)); open ends are ±infinity.
create table search_date (
  resource_type text not null,
  id text not null,
  param text not null,
  lo timestamptz not null,
  hi timestamptz not null
);
create index search_date_key on search_date (resource_type, id);
create index search_date_range on search_date (resource_type, param, lo, hi);

-- References: target_type/target_id for `Type/id` (and absolute URLs ending in Type/id), `ref` the reference as written
-- (canonical URLs keep only `ref`).
create table search_reference (
  resource_type text not null,
  id text not null,
  param text not null,
  target_type text,
  target_id text,
  ref text not null
);
create index search_reference_key on search_reference (resource_type, id);
create index search_reference_target on search_reference (target_id, target_type, resource_type, param);
create index search_reference_canonical on search_reference (resource_type, param, ref) where target_id is null;

create table search_quantity (
  resource_type text not null,
  id text not null,
  param text not null,
  value numeric not null,
  system text,
  code text,
  unit text
);
create index search_quantity_key on search_quantity (resource_type, id);
create index search_quantity_value on search_quantity (resource_type, param, value);

create table search_number (
  resource_type text not null,
  id text not null,
  param text not null,
  value numeric not null
);
create index search_number_key on search_number (resource_type, id);
create index search_number_value on search_number (resource_type, param, value);

create table search_uri (
  resource_type text not null,
  id text not null,
  param text not null,
  value text not null
);
create index search_uri_key on search_uri (resource_type, id);
create index search_uri_value on search_uri (resource_type, param, value text_pattern_ops);
