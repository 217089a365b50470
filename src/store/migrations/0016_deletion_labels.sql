-- A deletion version keeps the labels of the version it deletes (`GateScope.remove`); until now it was written with
-- none, and the paths that list deletions (bulk export's `deleted` file) read the labels back from the deleted
-- content's `meta.security`. Fill in the deletions written before, from the same place: the sensitivity labels are
-- the v3-ActCode codings of `meta.security` (`securityCodings`). History rows carry no label column: their readers
-- filter by the current row's.
update resources d set security = array(
    select c->>'code' from jsonb_array_elements(d.content->'meta'->'security') c
    where c->>'system' = 'http://terminology.hl7.org/CodeSystem/v3-ActCode' and c->>'code' is not null)
  where d.deleted and d.security = '{}' and jsonb_typeof(d.content->'meta'->'security') = 'array';
