-- What narrows a bulk export, kept with the job like `types` and `since` because each file is selected anew when it is downloaded.
-- `_typeFilter`: per resource type, the search criteria (parameter pairs) a resource must meet one of.
alter table export_jobs add column type_filters jsonb;
-- `patient` of a Patient- or Group-level export: the source Patients (ids) whose records it covers.
alter table export_jobs add column patients text[];
-- `_elements`: the root elements kept, per resource type or for every type (key `*`).
alter table export_jobs add column elements jsonb;
