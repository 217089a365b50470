import { randomUUID } from 'node:crypto';
import type { Patient, Person, PersonLink } from '@medplum/fhirtypes';
import type { GateScope } from '../access/gate-scope.ts';
import type { PatientLinker } from '../record/hooks.ts';
import { run } from '../store/database.ts';
import { readPatients, rehomePatient, type StoredRow } from '../store/resource-store.ts';
import { sql } from '../store/sql.ts';
import { blockKeys, blockMembers, MAX_BLOCK_SIZE } from './blocking.ts';
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
   *
   * Each key is read on its own through the primary key with a limit one past the cap, so the work is bounded by
   * the number of keys, never by the size of the index (a join over the whole key table made every write scan it:
   * 270 ms at 20,000 records). Links and not-link decisions are then read by primary key for the few ids found.
   */
  async candidates(scope: GateScope, record: MpiRecord, excludePatientId?: string): Promise<Candidate[]> {
    const keys = blockKeys(record).map(this.deps.hashKey);
    if (keys.length === 0) return [];
    const hits = await run<{ key: string; patient_id: string }>(scope.tx, sql`
      select u.key, b.patient_id from unnest(${keys}::text[]) as u(key)
      cross join lateral (select patient_id from mpi_block_keys b where b.key = u.key limit ${MAX_BLOCK_SIZE + 1}) b`);
    const found = blockMembers(hits, MAX_BLOCK_SIZE).filter((id) => id !== excludePatientId);
    if (found.length === 0) return [];
    const refused = excludePatientId ? await this.notLinked(scope, excludePatientId) : new Set<string>();
    const ids = found.filter((id) => !refused.has(id)).slice(0, MAX_CANDIDATES);
    const links = await run<{ patient_id: string; person_id: string }>(scope.tx, sql`
      select patient_id, person_id from mpi_links where patient_id = any(${ids}::text[])`);
    const personOf = new Map(links.map((r) => [r.patient_id, r.person_id]));
    const records = await this.records(scope, ids.filter((id) => personOf.has(id)));
    const model = this.deps.model();
    return records.map((other) => {
      const result = score(record, other, model);
      return { patientId: other.id, personId: personOf.get(other.id)!, record: other, result, decision: decide(record, other, result, model) };
    });
  }

  /** Records a steward decided are not this one (stored in both directions). */
  private async notLinked(scope: GateScope, patientId: string): Promise<Set<string>> {
    const rows = await run<{ patient_b: string }>(scope.tx, sql`select patient_b from mpi_not_links where patient_a = ${patientId}`);
    return new Set(rows.map((r) => r.patient_b));
  }

  /** Matcher records of stored Patients, with their SSNs decrypted for comparison only. */
  async records(scope: GateScope, patientIds: string[]): Promise<MpiRecord[]> {
    const patients = await readPatients(scope.tx, patientIds);
    const ssns = await run<{ id: string; ciphertext: string }>(scope.tx, sql`select p.id, p.ciphertext from unnest(${patientIds}::text[]) as u(id)
      join protected_values p on p.resource_type = 'Patient' and p.id = u.id and p.kind = 'ssn'`);
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
    const moved = previousPerson !== undefined && previousPerson !== personId;
    await this.writePersons(scope, moved ? [personId, previousPerson] : [personId]);
    if (moved) {
      scope.note('mpi-link', [personId, previousPerson], [`Patient/${patientId}`], { detail: `moved to person with assurance ${assurance}` });
    } else if (!previousPerson) {
      scope.note('mpi-link', [personId], [`Patient/${patientId}`], { detail: `linked with assurance ${assurance}` });
    }
    await this.afterJoin(scope, [personId]);
    return personId;
  }

  /** Records joined these persons: for each person who opted out, the newcomers' clinical data must go too. */
  async afterJoin(scope: GateScope, personIds: string[]): Promise<void> {
    if (!this.deps.onJoinOptedOut || personIds.length === 0) return;
    const optedOut = await run<{ person_id: string }>(scope.tx, sql`select person_id from person_privacy where person_id = any(${personIds}::text[]) and opted_out`);
    for (const { person_id } of optedOut) await this.deps.onJoinOptedOut(scope, person_id);
  }

  /** Stored (keyed-hash) block keys of a record, for bulk writers. */
  hashedBlockKeys(record: MpiRecord): string[] {
    return blockKeys(record).map(this.deps.hashKey);
  }

  /**
   * The FHIR Persons mirror the link table (see `personResource`). All of them are read and written set-based:
   * one statement per table whatever their number, through the gate's batched write, which produces the same
   * rows (resources, history, search index) as writing them one by one.
   */
  async writePersons(scope: GateScope, personIds: string[]): Promise<void> {
    if (personIds.length === 0) return;
    const links = await run<PersonMember & { person_id: string }>(scope.tx, sql`select person_id, patient_id, assurance from mpi_links
      where person_id = any(${personIds}::text[]) order by person_id, patient_id`);
    const patients = new Map((await readPatients(scope.tx, links.map((l) => l.patient_id))).map((p) => [p.id, p.content as Patient]));
    const members = new Map<string, PersonMember[]>();
    for (const l of links) members.set(l.person_id, [...(members.get(l.person_id) ?? []), l]);
    const previous = await this.currentPersons(scope, personIds);
    await scope.writeMany(personIds.map((personId) => {
      const prior = previous.get(`Person/${personId}`);
      return { resource: personResource(personId, members.get(personId) ?? [], patients), personId, security: [], previous: prior, action: prior ? 'update' : 'create', derived: true };
    }));
  }

  /**
   * Current Person rows, locked. Internal jobs (batch relink) read them in one statement; a caller's write reads
   * its one or two persons as derived writes, because the caller itself may not write Persons.
   */
  private async currentPersons(scope: GateScope, personIds: string[]): Promise<Map<string, StoredRow>> {
    if (scope.ctx.internal) return scope.currentForWriteMany(personIds.map((id) => ({ resourceType: 'Person', id })));
    const out = new Map<string, StoredRow>();
    for (const id of personIds) {
      const row = await scope.currentForWrite('Person', id, true);
      if (row) out.set(`Person/${id}`, row);
    }
    return out;
  }
}

interface PersonMember {
  patient_id: string;
  assurance: Assurance;
}

/**
 * A person's FHIR Person: one link per source Patient (in patient id order) with its assurance, and the
 * demographics of the first of those records that is still stored; inactive once it has no records.
 */
export function personResource(personId: string, members: readonly PersonMember[], patients: ReadonlyMap<string, Patient>): Person & { id: string } {
  const first = members.map((m) => patients.get(m.patient_id)).find((p) => p !== undefined);
  return {
    resourceType: 'Person',
    id: personId,
    active: members.length > 0,
    name: first?.name,
    gender: first?.gender,
    birthDate: first?.birthDate,
    link: members.map((m): PersonLink => ({ target: { reference: `Patient/${m.patient_id}` }, assurance: m.assurance })),
  };
}
