-- `_typeFilter` of a bulk export: per resource type, the search criteria (parameter pairs) a resource must meet one of.
-- Kept with the job, like `types` and `since`, because each file is selected anew when it is downloaded.
alter table export_jobs add column type_filters jsonb;
