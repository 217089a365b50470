import { randomUUID } from 'node:crypto';
import type { Patient, Person, PersonLink } from '@medplum/fhirtypes';
import type { GateScope } from '../access/gate-scope.ts';
import type { PatientLinker } from '../record/hooks.ts';
import { personPrivacyMany, privacyLocks } from '../record/write-policy.ts';
import { run } from '../store/database.ts';
import { readBlockCandidates, readPersonMembers, type PersonMemberRow } from '../store/mpi-reads.ts';
import { readPatients, rehomePatient, type StoredRow } from '../store/resource-store.ts';
import { sql, type Sql } from '../store/sql.ts';
import { blockKeys, MAX_BLOCK_SIZE, MAX_CANDIDATES } from './blocking.ts';
import { decide } from './decide.ts';
import type { MatchModel, ScoreResult } from './model.ts';
import { score } from './model.ts';
import { patientToRecord, SSN_SYSTEM, type MpiRecord } from './normalize.ts';
import { chooseLink, type Candidate, type LinkChoice } from './link-choice.ts';

export { AMBIGUOUS_PERSONS, chooseLink, type Candidate, type LinkChoice } from './link-choice.ts';

export type Assurance = 'level2' | 'level3' | 'level4';

export interface LinkStoreDeps {
  model: () => MatchModel;
  /** Decrypts a stored SSN for comparison; matching needs the digits, storage never holds them in clear. */
  revealSsn: (ciphertext: string) => string | undefined;
  /** Called when a record joins a person who opted out: its clinical data must go too. */
  onJoinOptedOut?: (scope: GateScope, personId: string) => Promise<void>;
  /** Called with the rows a record brought to a person: the privacy intake rules apply to them as to data arriving. */
  onJoin?: (scope: GateScope, personId: string, joined: Array<{ resourceType: string; id: string }>) => Promise<void>;
  /** Called with the persons a Consent left or joined: their privacy choices are worked out again from the Consents they hold. */
  onChoicesMoved?: (scope: GateScope, personIds: string[]) => Promise<void>;
  /** Keyed hash for stored block keys: they hold SSN, phone and address fragments and must not sit in clear. */
  hashKey: (key: string) => string;
}

/** The MPI's database side: block keys, candidate retrieval, links, tasks and the Person resources that mirror them. */
export class LinkStore implements PatientLinker {
  constructor(private readonly deps: LinkStoreDeps) {}

  async personOf(scope: GateScope, patientId: string): Promise<string | undefined> {
    const rows = await run<{ person_id: string }>(scope.tx, sql`select person_id from mpi_links where patient_id = ${patientId}`);
    return rows[0]?.person_id;
  }

  /**
   * The persons a write files its rows under, each link row locked `for share` until commit: a move of one of these
   * records (it updates the row) waits for the write to commit and then re-homes its rows too, or commits first and
   * the write reads the new person (the lock waits for it, then reads the row as the move left it). Without the lock
   * a move committing between this read and the write's commit left the write's rows in the person the record had
   * left. Rows are locked in patient order (see `linksLockedFirst`). A record not linked yet has no row to lock.
   */
  async personsForWrite(scope: GateScope, patientIds: readonly string[]): Promise<Map<string, string>> {
    if (patientIds.length === 0) return new Map();
    const rows = await run<{ patient_id: string; person_id: string }>(scope.tx,
      sql`select patient_id, person_id from mpi_links where patient_id = any(${patientIds}::text[]) order by patient_id for share`);
    return new Map(rows.map((r) => [r.patient_id, r.person_id]));
  }

  async members(scope: GateScope, personId: string): Promise<string[]> {
    const rows = await run<{ patient_id: string }>(scope.tx, sql`select patient_id from mpi_links where person_id = ${personId} order by patient_id`);
    return rows.map((r) => r.patient_id);
  }

  async link(scope: GateScope, patient: Patient & { id: string }): Promise<string> {
    const record = patientToRecord(patient);
    const fingerprint = this.fingerprint(patient, record);
    const current = (await run<{ person_id: string; assurance: Assurance; record_hash: string | null; opted_out: boolean; anchored: boolean }>(scope.tx,
      this.replaceKeys(patient.id, record, sql`select l.person_id, l.assurance, l.record_hash,
        coalesce((select pp.opted_out from person_privacy pp where pp.person_id = l.person_id), false) as opted_out,
        not exists (select 1 from mpi_links o where o.person_id = l.person_id and o.patient_id <> l.patient_id)
          or exists (select 1 from mpi_links o where o.person_id = l.person_id and o.patient_id <> l.patient_id and o.assurance = 'level4') as anchored
        from mpi_links l where l.patient_id = ${patient.id}`)))[0];
    // Nothing the decision or the Person mirror was made from has changed (an ORU repeating the patient's PID): it
    // stands, as an incremental linker decides for the record that changed, not for every record on each message.
    // A person who opted out always takes the full path: it trims what the sender wrote to the kept demographics.
    if (current?.record_hash === fingerprint && !current.opted_out) return current.person_id;
    if (current?.assurance === 'level4') return this.finish(scope, patient.id, current.person_id, 'level4', undefined, current.person_id, fingerprint);
    const candidates = await this.candidates(scope, record, patient.id);
    // An update that no longer auto-links to anyone leaves the person it shares with others (else its data stays in
    // their compartment), unless a steward confirmed someone there; ambiguous auto-links keep it where it was.
    const leaves = current !== undefined && !current.anchored && !candidates.some((c) => c.decision.decision === 'auto-link');
    const stay = leaves ? undefined : current?.person_id;
    const choice = chooseLink(candidates, stay);
    await this.openTasks(scope, patient.id, choice.tasks);
    if (choice.autoLinkPersons > 1) {
      scope.note('mpi-link', [], [`Patient/${patient.id}`], { detail: `auto-link candidates in ${choice.autoLinkPersons} persons: sent to review` });
    }
    const personId = choice.best?.personId ?? stay ?? randomUUID();
    return this.finish(scope, patient.id, personId, 'level3', choice.best?.result, current?.person_id, fingerprint);
  }

  /** Keyed (the record holds the SSN): what `link` decided from, with the model that decided. */
  private fingerprint(patient: Patient, record: MpiRecord): string {
    return this.deps.hashKey(`link-record:${this.deps.model().version}:${JSON.stringify(record)}:${JSON.stringify([patient.name, patient.gender, patient.birthDate])}`);
  }

  /**
   * Candidate source records sharing a block key, scored and decided; pairs marked not-link are skipped. Keys
   * shared by more than MAX_BLOCK_SIZE records ("JOHN SMITH 1980") are ignored, as in batch blocking: they
   * discriminate nothing and would make every write score hundreds of records. One statement whose work is bounded
   * by the number of keys (see `readBlockCandidates`); a join over the whole key table had made every write scan
   * it (270 ms at 20,000 records).
   */
  async candidates(scope: GateScope, record: MpiRecord, excludePatientId?: string): Promise<Candidate[]> {
    const keys = blockKeys(record).map(this.deps.hashKey);
    const rows = await readBlockCandidates(scope.tx, { keys, exclude: excludePatientId ?? '', maxBlockSize: MAX_BLOCK_SIZE, limit: MAX_CANDIDATES });
    const model = this.deps.model();
    return rows.map((row) => {
      const other = this.matcherRecord(row.patient_id, row.content as Patient, row.ssn_ciphertext);
      const result = score(record, other, model);
      return { patientId: row.patient_id, personId: row.person_id, record: other, result, decision: decide(record, other, result, model) };
    });
  }

  /** Matcher records of stored Patients, with their SSNs decrypted for comparison only. */
  async records(scope: GateScope, patientIds: string[]): Promise<MpiRecord[]> {
    const patients = await readPatients(scope.tx, patientIds);
    const ssns = await run<{ id: string; ciphertext: string }>(scope.tx, sql`select p.id, p.ciphertext from unnest(${patientIds}::text[]) as u(id)
      join protected_values p on p.resource_type = 'Patient' and p.id = u.id and p.kind = 'ssn'`);
    const ssnOf = new Map(ssns.map((s) => [s.id, s.ciphertext]));
    return patients.map(({ id, content }) => this.matcherRecord(id, content as Patient, ssnOf.get(id)));
  }

  /** The stored Patient as the matcher sees it: the sealed SSN (masked in the JSON) replaced by its digits. */
  private matcherRecord(id: string, p: Patient, ssnCiphertext: string | null | undefined): MpiRecord {
    const ssn = ssnCiphertext ? this.deps.revealSsn(ssnCiphertext) : undefined;
    const identifier = (p.identifier ?? []).filter((i) => i.system !== SSN_SYSTEM);
    return patientToRecord({ ...p, id, identifier: ssn ? [...identifier, { system: SSN_SYSTEM, value: ssn }] : identifier });
  }

  /** Replaces a record's block keys (also after an opt-out trims the record). */
  async storeBlockKeys(scope: GateScope, patientId: string, record: MpiRecord): Promise<void> {
    await run(scope.tx, this.replaceKeys(patientId, record, sql`select 1`));
  }

  /**
   * One statement that replaces a record's block keys and then runs `then` (a link reads the record's current
   * link in the same round trip). Keys the record keeps are left alone; the delete and the insert touch disjoint
   * rows, so they can share a statement.
   */
  private replaceKeys(patientId: string, record: MpiRecord, then: ReturnType<typeof sql>): ReturnType<typeof sql> {
    const keys = blockKeys(record).map(this.deps.hashKey);
    return sql`with gone as (delete from mpi_block_keys where patient_id = ${patientId} and not (key = any(${keys}::text[]))),
      added as (insert into mpi_block_keys (key, patient_id) select k, ${patientId} from unnest(${keys}::text[]) as k on conflict do nothing)
      ${then}`;
  }

  /**
   * Review tasks, one statement; the decision reason rides in the explanation as a zero-weight `decision` entry for
   * the steward. The candidates' Persons list the record at level2 from their next write (a decision, a batch relink,
   * a later link into that person), not here: rewriting another person's Person in every feed transaction made
   * concurrent messages deadlock on those rows (`bench:ingest`, 2026-12-07: 5 AE of 1,728 messages, p99 847 ms).
   */
  private async openTasks(scope: GateScope, patientId: string, tasks: LinkChoice['tasks']): Promise<void> {
    if (tasks.length === 0) return;
    const explanations = tasks.map((t) => JSON.stringify([...t.candidate.result.explanation, { field: 'decision', level: t.reason, weight: 0 }]));
    await run(scope.tx, sql`insert into mpi_tasks (id, patient_a, patient_b, score, explanation, status, created_at)
      select gen_random_uuid()::text, ${patientId}, b, sc, ex::jsonb, 'open', ${scope.settings.now.toISOString()}
      from unnest(${tasks.map((t) => t.candidate.patientId)}::text[], ${tasks.map((t) => t.candidate.result.weight)}::float8[], ${explanations}::text[]) as t(b, sc, ex)
      on conflict do nothing`);
  }

  /** Records the link, moves the record's data into the person's compartment, refreshes both Person resources. */
  /** `recordHash`: the fingerprint of what `link` decided from; stewardship passes none, so the next update decides anew. */
  async finish(scope: GateScope, patientId: string, personId: string, assurance: Assurance, result: ScoreResult | undefined, previousPerson: string | undefined, recordHash?: string): Promise<string> {
    const moved = previousPerson !== undefined && previousPerson !== personId;
    // Both persons' privacy state is locked (exclusively: the record may bring Consents) before anything moves or
    // reads it, in the link's own statement rather than one more round trip per link: a concurrent relink chunk,
    // link or `$consent` on either person waits for this commit, and this waits for theirs, so the state worked
    // out below and the intake and purge decided against it see every Consent and row they committed. The link row
    // is locked first, in the same statement (`linksLockedFirst`): a clinical write of the record holds it
    // (`personsForWrite`) until it commits, so the re-homing below, a later statement, takes its rows along.
    await run(scope.tx, sql`insert into mpi_links (patient_id, person_id, assurance, score, explanation, updated_at, record_hash)
      select ${patientId}::text, ${personId}::text, ${assurance}::text, ${result?.weight ?? null}::float8, ${result ? JSON.stringify(result.explanation) : null}::jsonb,
        ${scope.settings.now.toISOString()}::timestamptz, ${recordHash ?? null}::text
      from (${privacyLocks(sql`select unnest(${moved ? [personId, previousPerson] : [personId]}::text[]), true where ${linksLockedFirst([patientId])}`)}) as locked
      on conflict (patient_id) do update set person_id = excluded.person_id, assurance = excluded.assurance,
        score = coalesce(excluded.score, mpi_links.score), explanation = coalesce(excluded.explanation, mpi_links.explanation), updated_at = excluded.updated_at,
        record_hash = excluded.record_hash`);
    const joined = await rehomePatient(scope.tx, patientId, personId);
    // Before anything reads the persons' state (their Person's opted-out flag, the intake of the joined rows): an
    // opted-out patient's record merged into another person makes that person opted out.
    const choicesMoved = joined.some((r) => r.resourceType === 'Consent');
    const left = choicesMoved && moved ? (await personPrivacyMany(scope, [previousPerson])).get(previousPerson) : undefined;
    if (choicesMoved) await this.deps.onChoicesMoved?.(scope, moved ? [personId, previousPerson] : [personId]);
    const optedOut = await this.writePersons(scope, moved ? [personId, previousPerson] : [personId]);
    if (moved) {
      scope.note('mpi-link', [personId, previousPerson], [`Patient/${patientId}`], { detail: `moved to person with assurance ${assurance}` });
    } else if (!previousPerson) {
      scope.note('mpi-link', [personId], [`Patient/${patientId}`], { detail: `linked with assurance ${assurance}` });
    }
    if (joined.length > 0) await this.deps.onJoin?.(scope, personId, joined);
    if (optedOut.has(personId)) await this.joinedOptedOut(scope, [personId]);
    // The person the record left is opted out again when its opt-in went with it (it was someone else's): purged as
    // when the opt-out was recorded, not merely hidden.
    if (moved && left && !left.optedOut && optedOut.has(previousPerson)) await this.deps.onJoinOptedOut?.(scope, previousPerson);
    return personId;
  }

  /** Records joined these persons, who opted out: the newcomers' clinical data must go too. */
  async joinedOptedOut(scope: GateScope, personIds: Iterable<string>): Promise<void> {
    for (const personId of personIds) await this.deps.onJoinOptedOut?.(scope, personId);
  }

  /** Block keys as stored (keyed hashes), for bulk writers that computed them while linking. */
  hashKeys(keys: readonly string[]): string[] {
    return keys.map(this.deps.hashKey);
  }

  /**
   * The FHIR Persons mirror the link table (see `personResource`). All of them are read and written set-based:
   * one statement per table whatever their number, through the gate's batched write, which produces the same
   * rows (resources, history, search index) as writing them one by one. Returns the persons who opted out, whose
   * newcomers' clinical data must go (`onJoinOptedOut`).
   */
  async writePersons(scope: GateScope, personIds: string[]): Promise<Set<string>> {
    if (personIds.length === 0) return new Set();
    const rows = await readPersonMembers(scope.tx, personIds);
    const members = new Map<string, PersonMember[]>();
    for (const r of rows) {
      const list = members.get(r.person_id);
      if (list) list.push(r);
      else members.set(r.person_id, [r]);
    }
    const previous = await this.currentPersons(scope, personIds);
    await scope.writeMany(personIds.map((personId) => {
      const prior = previous.get(`Person/${personId}`);
      return { resource: personResource(personId, members.get(personId) ?? []), personId, security: [], previous: prior, action: prior ? 'update' : 'create', derived: true };
    }));
    return new Set(rows.filter((r) => r.opted_out).map((r) => r.person_id));
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

/**
 * A condition that is always true and locks the link rows of these records (in patient order, as a write locks
 * them) when its statement starts: uncorrelated, it runs once as a one-time filter before the statement yields a
 * row. A move puts it into the statement that takes its persons' privacy locks (`privacyLocks`), so it holds every
 * link row it will update before any of those, the order a clinical write takes them in (`personsForWrite`, then
 * its person's shared privacy lock). In the other order a write holding the row and waiting for the privacy lock,
 * and a move holding that lock and waiting for the row, deadlocked.
 */
export function linksLockedFirst(patientIds: readonly string[]): Sql {
  return sql`(select count(*) from (select 1 from mpi_links where patient_id = any(${patientIds}::text[]) order by patient_id for no key update) as l) >= 0`;
}

/** A member of a person as its Person resource shows it: the link, and the record's demographics when it is stored. */
export type PersonMember = Omit<PersonMemberRow, 'person_id' | 'opted_out'>;

/** A record of another person that an open review task proposes for this one: listed, never in the compartment. */
const isProbable = (m: Pick<PersonMember, 'assurance'>): boolean => m.assurance === 'level2';

/**
 * A person's FHIR Person: one link per source Patient of its compartment (in patient id order) with its assurance,
 * then the probable records (level2, awaiting review); the demographics of the first compartment record that is
 * still stored; inactive once its compartment has no records (a probable record alone keeps no person alive).
 */
export function personResource(personId: string, members: readonly PersonMember[]): Person & { id: string } {
  const own = members.filter((m) => !isProbable(m));
  const first = own.find((m) => m.stored);
  const link = (m: PersonMember): PersonLink => ({ target: { reference: `Patient/${m.patient_id}` }, assurance: m.assurance as PersonLink['assurance'] });
  return {
    resourceType: 'Person',
    id: personId,
    active: own.length > 0,
    name: first?.name ?? undefined,
    gender: (first?.gender ?? undefined) as Person['gender'],
    birthDate: first?.birth_date ?? undefined,
    link: [...own, ...members.filter(isProbable)].map(link),
  };
}
