-- An AuditEvent names the persons it was about; when it is read, each person's source Patients as linked at that
-- moment are added (IHE BALP's patient entity), looked up by person in `mpi_link_periods`.
create index mpi_link_periods_person on mpi_link_periods (person_id, linked_from);
