import type { Patient } from '@medplum/fhirtypes';
import type { GateScope } from '../access/gate-scope.ts';
import type { SearchEngine } from '../access/search-engine.ts';
import { purgeRawForPerson } from '../ingest/inbox.ts';
import { run } from '../store/database.ts';
import { purgePersonClinicalData, type PurgeCounts } from '../store/purge.ts';
import { sql } from '../store/sql.ts';

/** What an opted-out person's source records keep: enough to recognise them and block new data (privacy-rules §2). */
export function trimPatient(p: Patient & { id: string }): Patient & { id: string } {
  return {
    resourceType: 'Patient',
    id: p.id,
    meta: { source: p.meta?.source },
    identifier: (p.identifier ?? []).filter((i) => i.system !== 'http://hl7.org/fhir/sid/us-ssn'),
    name: p.name,
    gender: p.gender,
    birthDate: p.birthDate,
    managingOrganization: p.managingOrganization,
  };
}

/**
 * Opt-out purge of one person, in the caller's transaction (so a crash leaves all or nothing): every clinical
 * resource and version, index rows, protected values and raw messages go; Patients are trimmed; consents stay.
 */
export async function purgePerson(
  scope: GateScope,
  personId: string,
  deps: { deleteIndex: SearchEngine['deleteIndex']; reindexPatient: (scope: GateScope, patient: Patient & { id: string }) => Promise<void> },
): Promise<PurgeCounts> {
  const patients = await run<{ id: string; content: Patient & { id: string }; source_org: string | null }>(
    scope.tx,
    sql`select id, content, source_org from resources where person_id = ${personId} and resource_type = 'Patient' and deleted = false`,
  );
  for (const p of patients) {
    const trimmed = trimPatient(p.content);
    const previous = await scope.currentForWrite('Patient', p.id, true);
    // The sender keeps seeing its own record (source_org), so its later ADT updates it instead of creating a duplicate.
    await scope.write({ resource: trimmed, patientId: p.id, personId, sourceOrg: p.source_org ?? undefined, security: [], previous, action: 'update', derived: true });
    await run(scope.tx, sql`delete from protected_values where resource_type = 'Patient' and id = ${p.id}`);
    await deps.reindexPatient(scope, trimmed);
  }
  const counts = await purgePersonClinicalData(scope.tx, personId, deps.deleteIndex);
  await run(scope.tx, sql`delete from care_relationships where patient_id in (select patient_id from mpi_links where person_id = ${personId})`);
  // Raw HL7/C-CDA bodies carry the same clinical content: they go in the same transaction.
  await purgeRawForPerson(scope.tx, personId);
  scope.note('purge', [personId], [], { detail: `opt-out purge: ${counts.resources} resources, ${counts.versions} versions` });
  return counts;
}
