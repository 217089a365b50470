-- The keyed fingerprint of what a link decision was made from (the source record as the matcher sees it, the
-- Person mirror's name/sex/birth date, and the model version). An update of the Patient that changes none of it keeps
-- the decision without scoring again; stewardship and batch relinking leave it null, so the next update decides anew.
alter table mpi_links add column record_hash text;
