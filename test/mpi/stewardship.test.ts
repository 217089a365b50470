// Review queue, link, unlink and merge through the real server: decisions stick, compartments move with their
// records, and nothing changes owner wrongly or is lost. Also $match and $ihe-pix.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Bundle, Parameters, Patient } from '@medplum/fhirtypes';
import { systemContext } from '../../src/access/context.ts';
import { run } from '../../src/store/database.ts';
import { sql } from '../../src/store/sql.ts';
import { databaseKinds } from '../support/databases.ts';
import { startTestServer, type TestServer } from '../support/test-server.ts';
import { systemClientToken, userWithToken } from '../support/tokens.ts';
import { demoPatient, jsonCaller, patientWriter, personOfPatient, type Demo } from './support.ts';

const kinds = await databaseKinds();
const MRN = 'urn:katahdin:id:STEWARD';

const patient = (d: Demo): Patient => demoPatient(MRN, d, { line: ['12 Harbor Rd'], city: 'Rockland', postalCode: '04841' });

interface TaskView { id: string; a: Patient; b: Patient; explanation: Array<{ field: string; level: string; weight: number }> }

describe.each(kinds)('MPI stewardship on %s', (kind) => {
  let server: TestServer;
  let system: string;
  let admin: string;
  const call = jsonCaller(() => server);
  const { create, update } = patientWriter(call, () => system, patient);
  const observe = async (patientId: string, n: number) => {
    for (let i = 0; i < n; i++) {
      const res = await call(system, 'POST', '/fhir/Observation', { resourceType: 'Observation', status: 'final', code: { text: `reading ${i}` }, subject: { reference: `Patient/${patientId}` }, valueQuantity: { value: 100 + i, unit: 'mg/dL' } });
      expect(res.status).toBe(201);
    }
  };
  const personOf = (patientId: string) => personOfPatient(server, patientId);
  /** Every current non-Person resource of these source Patients: id → person it is filed under. */
  const owners = async (patientIds: string[]) => {
    const rows = await run<{ resource_type: string; id: string; patient_id: string; person_id: string }>(server.services.db, sql`
      select resource_type, id, coalesce(patient_id, id) as patient_id, person_id from resources
      where deleted = false and resource_type <> 'Person' and (patient_id = any(${patientIds}::text[]) or (resource_type = 'Patient' and id = any(${patientIds}::text[])))`);
    return rows;
  };
  /** Every resource must sit in the compartment of the person its source Patient is linked to. */
  const expectConsistent = async (patientIds: string[]) => {
    for (const r of await owners(patientIds)) expect(r.person_id, `${r.resource_type} of its patient`).toBe(await personOf(r.patient_id));
  };
  const openTasks = async (): Promise<TaskView[]> => (await call(admin, 'GET', '/admin/mpi/tasks')).body;
  const taskFor = (tasks: TaskView[], x: string, y: string) => tasks.find((t) => [t.a.id, t.b.id].sort().join() === [x, y].sort().join());

  beforeAll(async () => {
    server = await startTestServer(kind);
    const org = await server.services.gate.run(systemContext('test'), { action: 'create' }, (scope) =>
      server.services.records.create(scope, { resourceType: 'Organization', name: 'Steward Test Hospital' }));
    system = await systemClientToken(server, 'steward-ehr', org.resource.id!);
    admin = await userWithToken(server, { username: 'mpi-steward', role: 'admin' });
  }, 300_000);
  afterAll(async () => server?.stop());

  it('remembers a not-link decision across updates of either record', async () => {
    const a = { mrn: 'NL-A', given: 'Margaret', family: 'Thibodeau', birthDate: '1961-04-12', ssn: '123-45-6789' };
    const b = { ...a, mrn: 'NL-B', ssn: '987-65-4320' };
    const idA = await create(a);
    const idB = await create(b);
    expect(await personOf(idB)).not.toBe(await personOf(idA));
    const task = taskFor(await openTasks(), idA, idB);
    expect(task, 'SSN conflict goes to review').toBeDefined();
    expect(task!.explanation.find((e) => e.field === 'decision')?.level).toBe('ssn-conflict');
    expect((await call(admin, 'POST', `/admin/mpi/tasks/${task!.id}`, { decision: 'not-link' })).body).toEqual({ status: 'not-linked' });
    expect((await call(admin, 'POST', `/admin/mpi/tasks/${task!.id}`, { decision: 'link' })).status).toBe(400);
    await update(idB, { ...b, given: 'Peggy' });
    await update(idA, { ...a, birthDate: '1961-04-12' });
    expect(taskFor(await openTasks(), idA, idB)).toBeUndefined();
    expect(await personOf(idB)).not.toBe(await personOf(idA));
  });

  it('a link decision moves the record and its clinical data into the other person', async () => {
    const c = { mrn: 'LK-C', given: 'Evangeline', family: 'Pelletier', birthDate: '1948-11-30', ssn: '234-56-7891' };
    const idC = await create(c);
    const idD = await create({ ...c, mrn: 'LK-D', ssn: '876-54-3219' });
    await observe(idD, 2);
    const task = taskFor(await openTasks(), idC, idD);
    expect(task).toBeDefined();
    const before = await personOf(idD);
    expect((await call(admin, 'POST', `/admin/mpi/tasks/${task!.id}`, { decision: 'link' })).body).toEqual({ status: 'linked' });
    const target = await personOf(idC);
    expect(await personOf(idD)).toBe(target);
    const rows = await owners([idD]);
    expect(rows.filter((r) => r.resource_type === 'Observation')).toHaveLength(2);
    expect(rows.every((r) => r.person_id === target)).toBe(true);
    const person = (await call(admin, 'GET', `/fhir/Person/${target}`)).body;
    expect(person.link.map((l: { target: { reference: string } }) => l.target.reference).sort()).toEqual([`Patient/${idC}`, `Patient/${idD}`].sort());
    expect((await call(admin, 'GET', `/fhir/Person/${before}`)).body.active).toBe(false);
  });

  it('unlink then merge round-trips without losing or mis-filing a resource', async () => {
    const e = { mrn: 'RT-1', given: 'Josephine', family: 'Michaud', birthDate: '1975-02-03', ssn: '345-67-8912' };
    const id1 = await create(e);
    const id2 = await create({ ...e, mrn: 'RT-2' });
    const home = await personOf(id1);
    expect(await personOf(id2), 'identical records auto-link').toBe(home);
    await observe(id1, 2);
    await observe(id2, 3);
    const snapshot = async () => (await owners([id1, id2])).map((r) => `${r.resource_type}/${r.id}`).sort();
    const all = await snapshot();
    expect(all).toHaveLength(7);

    const split = (await call(admin, 'POST', '/admin/mpi/unlink', { patientId: id2 })).body.personId as string;
    expect(split).not.toBe(home);
    await expectConsistent([id1, id2]);
    const byPerson = (rows: Awaited<ReturnType<typeof owners>>, p: string) => rows.filter((r) => r.person_id === p).length;
    expect(byPerson(await owners([id1, id2]), home!)).toBe(3);
    expect(byPerson(await owners([id1, id2]), split)).toBe(4);
    await update(id2, { ...e, mrn: 'RT-2', given: 'Josie' });
    expect(await personOf(id2), 'an unlinked record does not auto-link back').toBe(split);

    expect((await call(admin, 'POST', '/admin/mpi/merge', { sourcePersonId: split, targetPersonId: home })).body.personId).toBe(home);
    await expectConsistent([id1, id2]);
    expect(await snapshot()).toEqual(all);
    expect(byPerson(await owners([id1, id2]), home!)).toBe(7);
    expect(byPerson(await owners([id1, id2]), split)).toBe(0);
  });

  it('a merge that brings an opted-out patient\'s record opts the person out: its clinical data goes; the person left keeps no stale choice', async () => {
    const out = await create({ mrn: 'OO-1', given: 'Odile', family: 'Ouellette', birthDate: '1948-03-09' });
    const other = await create({ mrn: 'OO-2', given: 'Aurele', family: 'Pelletier', birthDate: '1983-11-21', gender: 'male' });
    await observe(other, 2);
    const [from, to] = [await personOf(out), await personOf(other)];
    expect(from).not.toBe(to);
    const officer = await userWithToken(server, { username: 'oo-officer', role: 'privacy-officer' });
    const optOut = await call(officer, 'POST', `/fhir/Patient/${out}/$consent`, { resourceType: 'Parameters', parameter: [{ name: 'action', valueString: 'opt-out' }, { name: 'channel', valueString: 'paper' }] });
    expect(optOut.status).toBe(200);
    const clinical = async (person: string) => (await run<{ n: number }>(server.services.db,
      sql`select count(*)::int as n from resources where person_id = ${person} and resource_type not in ('Patient', 'Person', 'Consent')`))[0].n;
    expect(await clinical(to!)).toBe(2);
    expect((await call(admin, 'POST', '/admin/mpi/merge', { sourcePersonId: from, targetPersonId: to })).body.personId).toBe(to);
    const state = async (person: string) => (await run<{ opted_out: boolean }>(server.services.db, sql`select opted_out from person_privacy where person_id = ${person}`))[0]?.opted_out ?? false;
    expect(await state(to!)).toBe(true);
    expect(await state(from!)).toBe(false);
    expect(await clinical(to!)).toBe(0);
    await expectConsistent([out, other]);
  });

  it('Patient/$merge joins two persons; $ihe-pix then returns every identifier of the person', async () => {
    const x = await create({ mrn: 'PX-1', given: 'Roland', family: 'Daigle', birthDate: '1990-07-19', gender: 'male' });
    const y = await create({ mrn: 'PX-2', given: 'Beatrice', family: 'Cyr', birthDate: '1952-01-08' });
    await observe(y, 1);
    expect(await personOf(x)).not.toBe(await personOf(y));
    const merged = await call(admin, 'POST', '/fhir/Patient/$merge', { resourceType: 'Parameters', parameter: [
      { name: 'source-patient', valueReference: { reference: `Patient/${y}` } },
      { name: 'target-patient', valueReference: { reference: `Patient/${x}` } }] });
    expect(merged.status).toBe(200);
    expect(await personOf(y)).toBe(await personOf(x));
    await expectConsistent([x, y]);
    const pix = await call(system, 'GET', `/fhir/Patient/$ihe-pix?sourceIdentifier=${encodeURIComponent(`${MRN}|PX-1`)}`);
    expect(pix.status).toBe(200);
    const params = pix.body as Parameters;
    expect(params.parameter!.filter((p) => p.name === 'targetIdentifier').map((p) => p.valueIdentifier!.value).sort()).toEqual(['PX-1', 'PX-2']);
    expect(params.parameter!.filter((p) => p.name === 'targetId').map((p) => p.valueReference!.reference).sort()).toEqual([`Patient/${x}`, `Patient/${y}`].sort());
  });

  it('$match returns scored candidates with the match-grade extension', async () => {
    const id = await create({ mrn: 'MT-1', given: 'Theodore', family: 'Levesque', birthDate: '1983-09-14', gender: 'male', ssn: '456-78-9123' });
    const probe = patient({ mrn: 'probe', given: 'Ted', family: 'Levesque', birthDate: '1983-09-14', gender: 'male', ssn: '456-78-9123' });
    const res = await call(system, 'POST', '/fhir/Patient/$match', { resourceType: 'Parameters', parameter: [{ name: 'resource', resource: probe }, { name: 'count', valueInteger: 5 }] });
    expect(res.status).toBe(200);
    const bundle = res.body as Bundle;
    const hit = bundle.entry?.find((e) => e.resource?.id === id);
    expect(hit?.search?.score).toBeGreaterThan(0.9);
    expect(hit?.search?.extension?.[0]).toEqual({ url: 'http://hl7.org/fhir/StructureDefinition/match-grade', valueCode: 'certain' });
    const certain = await call(system, 'POST', '/fhir/Patient/$match', { resourceType: 'Parameters', parameter: [
      { name: 'resource', resource: patient({ mrn: 'probe2', given: 'Nobody', family: 'Zzyzx', birthDate: '2001-01-01' }) }, { name: 'onlyCertainMatches', valueBoolean: true }] });
    expect((certain.body as Bundle).entry ?? []).toHaveLength(0);
  });

  it('sends a record that would auto-link to two different persons to review instead', async () => {
    const r = { mrn: 'AM-1', given: 'Clementine', family: 'Ouellette', birthDate: '1969-12-24', ssn: '567-89-1234' };
    const id1 = await create(r);
    const id2 = await create({ ...r, mrn: 'AM-2' });
    await call(admin, 'POST', '/admin/mpi/unlink', { patientId: id2 });
    const [p1, p2] = [await personOf(id1), await personOf(id2)];
    expect(p1).not.toBe(p2);
    const id3 = await create({ ...r, mrn: 'AM-3' });
    const p3 = await personOf(id3);
    expect([p1, p2]).not.toContain(p3);
    const tasks = await openTasks();
    for (const other of [id1, id2]) {
      expect(taskFor(tasks, id3, other)?.explanation.find((e) => e.field === 'decision')?.level).toBe('ambiguous-persons');
    }
  });
});
