-- A person's FHIR Person lists, at `level2`, the records an open review task proposes for one of its members
-- (`readPersonMembers`); that lookup goes by the candidate side of open tasks.
create index mpi_tasks_open_candidate on mpi_tasks (patient_b) where status = 'open';
