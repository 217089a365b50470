-- Each version keeps the sensitivity labels it was written with. Until now history had no label column and its
-- readers filtered by the current row's labels, so a correction that dropped a label (an HIV result re-coded as a
-- glucose) released the earlier, labelled version through vread and _history. Readers now filter a version by its own
-- labels together with the current row's (a label added later by `katahdin privacy relabel` covers every version).
alter table resource_history add column security text[] not null default '{}';

-- Existing versions: the labels written into each version's own `meta.security` (the v3-ActCode sensitivity codings,
-- as `securityCodings` writes them) together with the current row's.
update resource_history h set security = array(
    select distinct l from (
      select c->>'code' as l from jsonb_array_elements(case when jsonb_typeof(h.content->'meta'->'security') = 'array'
          then h.content->'meta'->'security' else '[]'::jsonb end) c
        where c->>'system' = 'http://terminology.hl7.org/CodeSystem/v3-ActCode' and c->>'code' in ('PSY', 'HIV', 'ETH')
      union
      select unnest(r.security)) x
    where l is not null order by l)
  from resources r
  where r.resource_type = h.resource_type and r.id = h.id
    and (cardinality(r.security) > 0 or jsonb_typeof(h.content->'meta'->'security') = 'array');
