import { randomUUID } from 'node:crypto';
import type { Patient, Person, PersonLink } from '@medplum/fhirtypes';
import type { GateScope } from '../access/gate-scope.ts';
import type { PatientLinker } from '../record/hooks.ts';
import { run } from '../store/database.ts';
import { readPatients, rehomePatient } from '../store/resource-store.ts';
import { sql } from '../store/sql.ts';
import { blockKeys, MAX_BLOCK_SIZE } from './blocking.ts';
import { decide } from './decide.ts';
import type { MatchModel, ScoreResult } from './model.ts';
import { score } from './model.ts';
import { patientToRecord, SSN_SYSTEM, type MpiRecord } from './normalize.ts';
import { chooseLink, type Candidate } from './link-choice.ts';

export { AMBIGUOUS_PERSONS, chooseLink, type Candidate, type LinkChoice } from './link-choice.ts';

export type Assurance = 'level2' | 'level3' | 'level4';

export interface LinkStoreDeps {
  model: () => MatchModel;
  /** Decrypts a stored SSN for comparison; matching needs the digits, storage never holds them in clear. */
  revealSsn: (ciphertext: string) => string | undefined;
  /** Called when a record joins a person who opted out: its clinical data must go too. */
  onJoinOptedOut?: (scope: GateScope, personId: string) => Promise<void>;
  /** Keyed hash for stored block keys: they hold SSN, phone and address fragments and must not sit in clear. */
  hashKey: (key: string) => string;
}

const MAX_CANDIDATES = 500;

/** The MPI's database side: block keys, candidate retrieval, links, tasks and the Person resources that mirror them. */
export class LinkStore implements PatientLinker {
  constructor(private readonly deps: LinkStoreDeps) {}

  async personOf(scope: GateScope, patientId: string): Promise<string | undefined> {
    const rows = await run<{ person_id: string }>(scope.tx, sql`select person_id from mpi_links where patient_id = ${patientId}`);
    return rows[0]?.person_id;
  }

  async members(scope: GateScope, personId: string): Promise<string[]> {
    const rows = await run<{ patient_id: string }>(scope.tx, sql`select patient_id from mpi_links where person_id = ${personId} order by patient_id`);
    return rows.map((r) => r.patient_id);
  }

  async link(scope: GateScope, patient: Patient & { id: string }): Promise<string> {
    const record = patientToRecord(patient);
    await this.storeBlockKeys(scope, patient.id, record);
    const current = (await run<{ person_id: string; assurance: Assurance }>(scope.tx, sql`select person_id, assurance from mpi_links where patient_id = ${patient.id}`))[0];
    if (current?.assurance === 'level4') return this.finish(scope, patient.id, current.person_id, 'level4', undefined, current.person_id);
    const candidates = await this.candidates(scope, record, patient.id);
    const choice = chooseLink(candidates, current?.person_id);
    for (const t of choice.tasks) await this.openTask(scope, patient.id, t.candidate, t.reason);
    if (choice.autoLinkPersons > 1) {
      scope.note('mpi-link', [], [`Patient/${patient.id}`], { detail: `auto-link candidates in ${choice.autoLinkPersons} persons: sent to review` });
    }
    const personId = choice.best?.personId ?? current?.person_id ?? randomUUID();
    return this.finish(scope, patient.id, personId, 'level3', choice.best?.result, current?.person_id);
  }

  /**
   * Candidate source records sharing a block key, scored and decided; pairs marked not-link are skipped. Keys
   * shared by more than MAX_BLOCK_SIZE records ("JOHN SMITH 1980") are ignored, as in batch blocking: they
   * discriminate nothing and would make every write score hundreds of records.
   */
  async candidates(scope: GateScope, record: MpiRecord, excludePatientId?: string): Promise<Candidate[]> {
    const keys = blockKeys(record).map(this.deps.hashKey);
    if (keys.length === 0) return [];
    const ids = await run<{ patient_id: string; person_id: string }>(scope.tx, sql`
      with usable as (select key from mpi_block_keys where key = any(${keys}::text[]) group by key having count(*) <= ${MAX_BLOCK_SIZE})
      select distinct k.patient_id, l.person_id from mpi_block_keys k join usable u on u.key = k.key join mpi_links l on l.patient_id = k.patient_id
      where k.patient_id <> ${excludePatientId ?? ''}
      and not exists (select 1 from mpi_not_links n where (n.patient_a = ${excludePatientId ?? ''} and n.patient_b = k.patient_id)
        or (n.patient_b = ${excludePatientId ?? ''} and n.patient_a = k.patient_id))
      limit ${MAX_CANDIDATES}`);
    const personOf = new Map(ids.map((r) => [r.patient_id, r.person_id]));
    const records = await this.records(scope, ids.map((r) => r.patient_id));
    const model = this.deps.model();
    return records.map((other) => {
      const result = score(record, other, model);
      return { patientId: other.id, personId: personOf.get(other.id)!, record: other, result, decision: decide(record, other, result, model) };
    });
  }

  /** Matcher records of stored Patients, with their SSNs decrypted for comparison only. */
  async records(scope: GateScope, patientIds: string[]): Promise<MpiRecord[]> {
    const patients = await readPatients(scope.tx, patientIds);
    const ssns = await run<{ id: string; ciphertext: string }>(scope.tx, sql`select id, ciphertext from protected_values
      where resource_type = 'Patient' and kind = 'ssn' and id = any(${patientIds}::text[])`);
    const ssnOf = new Map(ssns.map((s) => [s.id, this.deps.revealSsn(s.ciphertext)]));
    return patients.map(({ id, content }) => {
      const p = content as Patient;
      const ssn = ssnOf.get(id);
      const identifier = (p.identifier ?? []).filter((i) => i.system !== SSN_SYSTEM);
      return patientToRecord({ ...p, id, identifier: ssn ? [...identifier, { system: SSN_SYSTEM, value: ssn }] : identifier });
    });
  }

  /** Replaces a record's block keys (also after an opt-out trims the record). */
  async storeBlockKeys(scope: GateScope, patientId: string, record: MpiRecord): Promise<void> {
    await run(scope.tx, sql`delete from mpi_block_keys where patient_id = ${patientId}`);
    const keys = blockKeys(record).map(this.deps.hashKey);
    if (keys.length) await run(scope.tx, sql`insert into mpi_block_keys (key, patient_id) select k, ${patientId} from unnest(${keys}::text[]) as k on conflict do nothing`);
  }

  /** A review task; the decision reason rides in the explanation as a zero-weight `decision` entry for the steward. */
  private async openTask(scope: GateScope, patientId: string, c: Candidate, reason: string): Promise<void> {
    const explanation = [...c.result.explanation, { field: 'decision', level: reason, weight: 0 }];
    await run(scope.tx, sql`insert into mpi_tasks (id, patient_a, patient_b, score, explanation, status, created_at)
      values (${randomUUID()}, ${patientId}, ${c.patientId}, ${c.result.weight}, ${JSON.stringify(explanation)}::jsonb, 'open', ${scope.settings.now.toISOString()})
      on conflict do nothing`);
  }

  /** Records the link, moves the record's data into the person's compartment, refreshes both Person resources. */
  async finish(scope: GateScope, patientId: string, personId: string, assurance: Assurance, result: ScoreResult | undefined, previousPerson: string | undefined): Promise<string> {
    await run(scope.tx, sql`insert into mpi_links (patient_id, person_id, assurance, score, explanation, updated_at)
      values (${patientId}, ${personId}, ${assurance}, ${result?.weight ?? null}, ${result ? JSON.stringify(result.explanation) : null}::jsonb, ${scope.settings.now.toISOString()})
      on conflict (patient_id) do update set person_id = excluded.person_id, assurance = excluded.assurance,
        score = coalesce(excluded.score, mpi_links.score), explanation = coalesce(excluded.explanation, mpi_links.explanation), updated_at = excluded.updated_at`);
    await rehomePatient(scope.tx, patientId, personId);
    await this.writePerson(scope, personId);
    if (previousPerson && previousPerson !== personId) {
      await this.writePerson(scope, previousPerson);
      scope.note('mpi-link', [personId, previousPerson], [`Patient/${patientId}`], { detail: `moved to person with assurance ${assurance}` });
    } else if (!previousPerson) {
      scope.note('mpi-link', [personId], [`Patient/${patientId}`], { detail: `linked with assurance ${assurance}` });
    }
    await this.afterJoin(scope, personId);
    return personId;
  }

  /** A record joined this person: if the person opted out, the newcomer's clinical data must go too. */
  async afterJoin(scope: GateScope, personId: string): Promise<void> {
    const optedOut = await run<{ opted_out: boolean }>(scope.tx, sql`select opted_out from person_privacy where person_id = ${personId}`);
    if (optedOut[0]?.opted_out && this.deps.onJoinOptedOut) await this.deps.onJoinOptedOut(scope, personId);
  }

  /** Stored (keyed-hash) block keys of a record, for bulk writers. */
  hashedBlockKeys(record: MpiRecord): string[] {
    return blockKeys(record).map(this.deps.hashKey);
  }

  /** The FHIR Person mirrors the link table: demographics of the first record, one link per source Patient. */
  async writePerson(scope: GateScope, personId: string): Promise<void> {
    const links = await run<{ patient_id: string; assurance: Assurance }>(scope.tx, sql`select patient_id, assurance from mpi_links where person_id = ${personId} order by patient_id`);
    const patients = await readPatients(scope.tx, links.map((l) => l.patient_id));
    const first = patients[0]?.content as Patient | undefined;
    const person: Person & { id: string } = {
      resourceType: 'Person',
      id: personId,
      active: links.length > 0,
      name: first?.name,
      gender: first?.gender,
      birthDate: first?.birthDate,
      link: links.map((l): PersonLink => ({ target: { reference: `Patient/${l.patient_id}` }, assurance: l.assurance })),
    };
    const previous = await scope.currentForWrite('Person', personId, true);
    await scope.write({ resource: person, personId, security: [], previous, action: previous ? 'update' : 'create', derived: true });
  }
}
