import { randomUUID } from 'node:crypto';
import type { Patient } from '@medplum/fhirtypes';
import type { GateScope } from '../access/gate-scope.ts';
import { badRequest, forbidden, notFound } from '../fhir/outcome.ts';
import { run } from '../store/database.ts';
import { readPatients } from '../store/resource-store.ts';
import { sql } from '../store/sql.ts';
import type { LinkStore } from './link-store.ts';

export interface ReviewTask {
  id: string;
  status: string;
  score: number;
  createdAt: string;
  a: Patient;
  b: Patient;
  explanation: Array<{ field: string; level: string; weight: number }>;
}

const STEWARDS = new Set(['admin', 'registrar']);
const TASK_STATUSES = ['open', 'closed'];

export function requireSteward(scope: GateScope): void {
  if (!scope.ctx.internal && !STEWARDS.has(scope.ctx.role)) throw forbidden('Only HIE administrators and registrars manage the MPI.');
}

/** Open review tasks with both records side by side (demographics only) and the match explanation. */
export async function listTasks(scope: GateScope, status = 'open'): Promise<ReviewTask[]> {
  requireSteward(scope);
  if (!TASK_STATUSES.includes(status)) throw badRequest(`status must be one of ${TASK_STATUSES.join(', ')}.`, ['status']);
  const rows = await run<{ id: string; status: string; score: number; created_at: Date; patient_a: string; patient_b: string; explanation: ReviewTask['explanation'] }>(
    scope.tx, sql`select id, status, score, created_at, patient_a, patient_b, explanation from mpi_tasks where status = ${status} order by created_at limit 200`);
  const patients = new Map((await readPatients(scope.tx, rows.flatMap((r) => [r.patient_a, r.patient_b]))).map((p) => [p.id, p.content as Patient]));
  scope.note('read', [], rows.flatMap((r) => [`Patient/${r.patient_a}`, `Patient/${r.patient_b}`]), { detail: 'MPI review queue' });
  return rows.map((r) => ({
    id: r.id, status: r.status, score: r.score, createdAt: new Date(r.created_at).toISOString(), explanation: r.explanation,
    a: patients.get(r.patient_a) ?? { resourceType: 'Patient', id: r.patient_a }, b: patients.get(r.patient_b) ?? { resourceType: 'Patient', id: r.patient_b },
  }));
}

export interface LinkExplanation {
  patientId: string;
  personId: string;
  assurance: string;
  /** Total match weight (log2 odds) of the decision that linked it; null for links no score decided (a new person, a steward). */
  score: number | null;
  /** Which fields agreed and how much each weighed, as the matcher explained the decision. */
  explanation: ReviewTask['explanation'] | null;
  updatedAt: string;
  /** The other source records of the same person. */
  companions: string[];
}

/** Why a source record belongs to its person: the stored decision with its per-field weights (issue #3: inspectable). */
export async function linkOf(scope: GateScope, patientId: string): Promise<LinkExplanation> {
  requireSteward(scope);
  const [link] = await run<{ person_id: string; assurance: string; score: number | null; explanation: ReviewTask['explanation'] | null; updated_at: Date }>(
    scope.tx, sql`select person_id, assurance, score, explanation, updated_at from mpi_links where patient_id = ${patientId}`);
  if (!link) throw notFound(`Patient/${patientId} is not linked to a person.`);
  const companions = await run<{ patient_id: string }>(scope.tx,
    sql`select patient_id from mpi_links where person_id = ${link.person_id} and patient_id <> ${patientId} order by patient_id`);
  scope.note('read', [link.person_id], [`Patient/${patientId}`], { detail: 'MPI link explanation' });
  return {
    patientId, personId: link.person_id, assurance: link.assurance, score: link.score, explanation: link.explanation,
    updatedAt: new Date(link.updated_at).toISOString(), companions: companions.map((c) => c.patient_id),
  };
}

/** A steward's decision: link (confirmed, level4) or not-link (remembered so the pair is not proposed again). */
export async function decideTask(scope: GateScope, links: LinkStore, taskId: string, decision: 'link' | 'not-link'): Promise<string> {
  requireSteward(scope);
  const task = (await run<{ patient_a: string; patient_b: string; status: string }>(scope.tx, sql`select patient_a, patient_b, status from mpi_tasks where id = ${taskId} for update`))[0];
  if (!task) throw notFound('No such review task.');
  if (task.status !== 'open') throw badRequest('This task was already decided.');
  // Closed first, so the Persons rewritten below no longer list the record as probable (level2) for this pair.
  await run(scope.tx, sql`update mpi_tasks set status = 'closed', decision = ${decision}, decided_by = ${scope.ctx.userId ?? scope.ctx.clientId ?? null}, decided_at = ${scope.settings.now.toISOString()} where id = ${taskId}`);
  const target = await links.personOf(scope, task.patient_b);
  if (decision === 'link') {
    if (!target) throw notFound('The matched record is not linked.');
    await moveToPerson(scope, links, task.patient_a, target);
  } else {
    await rememberNotLink(scope, task.patient_a, task.patient_b);
    // Only the candidate's Person showed the pair (level2); the record's own Person is unchanged by a not-link.
    if (target) await links.writePersons(scope, [target]);
  }
  return decision === 'link' ? 'linked' : 'not-linked';
}

async function rememberNotLink(scope: GateScope, a: string, b: string): Promise<void> {
  await run(scope.tx, sql`insert into mpi_not_links (patient_a, patient_b, decided_by, decided_at)
    values (${a}, ${b}, ${scope.ctx.userId ?? null}, ${scope.settings.now.toISOString()}), (${b}, ${a}, ${scope.ctx.userId ?? null}, ${scope.settings.now.toISOString()})
    on conflict do nothing`);
}

/** Moves one source record (and its whole compartment) to a person, confirmed by a person (level4). */
export async function moveToPerson(scope: GateScope, links: LinkStore, patientId: string, personId: string): Promise<void> {
  const previous = await links.personOf(scope, patientId);
  await links.finish(scope, patientId, personId, 'level4', undefined, previous);
  scope.note('mpi-link', [personId, ...(previous ? [previous] : [])], [`Patient/${patientId}`], { detail: 'manual link (level4)' });
}

/** Splits a source record into a person of its own; remembered as not-link against its former companions. */
export async function unlink(scope: GateScope, links: LinkStore, patientId: string): Promise<string> {
  requireSteward(scope);
  const previous = await links.personOf(scope, patientId);
  if (!previous) throw notFound('That record is not linked.');
  const others = await run<{ patient_id: string }>(scope.tx, sql`select patient_id from mpi_links where person_id = ${previous} and patient_id <> ${patientId}`);
  for (const o of others) await rememberNotLink(scope, patientId, o.patient_id);
  const personId = randomUUID();
  await links.finish(scope, patientId, personId, 'level4', undefined, previous);
  scope.note('mpi-unlink', [personId, previous], [`Patient/${patientId}`], { detail: 'unlink' });
  return personId;
}

/** Merges two persons: every source record of `source` joins `target` (reversible with unlink). */
export async function mergePersons(scope: GateScope, links: LinkStore, sourcePersonId: string, targetPersonId: string, fromFeed = false): Promise<string> {
  // A feed's ADT^A40 is the sending system's own authoritative merge of its records; people need the steward role.
  if (!fromFeed) requireSteward(scope);
  if (sourcePersonId === targetPersonId) throw badRequest('A person cannot be merged into itself.');
  // Every member's link row is locked here, in patient order, before the first move takes the persons' privacy
  // locks: a clinical write holds its record's row while it waits for its person's privacy lock (`linksLockedFirst`).
  const members = await run<{ patient_id: string }>(scope.tx,
    sql`select patient_id from mpi_links where person_id = ${sourcePersonId} order by patient_id for no key update`);
  if (members.length === 0) throw notFound('The source person has no records.');
  for (const m of members) await links.finish(scope, m.patient_id, targetPersonId, 'level4', undefined, sourcePersonId);
  await run(scope.tx, sql`update attestations set person_id = ${targetPersonId} where person_id = ${sourcePersonId}`);
  await run(scope.tx, sql`update break_glass set person_id = ${targetPersonId} where person_id = ${sourcePersonId}`);
  scope.note('mpi-merge', [sourcePersonId, targetPersonId], members.map((m) => `Patient/${m.patient_id}`), { detail: 'merge persons' });
  return targetPersonId;
}
