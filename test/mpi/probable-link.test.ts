// Probable links (issue #3: `level2`, awaiting review): the candidate's Person lists a record that a review task
// proposes for it, while the record's data stays in its own person's compartment (privacy, access and audit key on
// `mpi_links.person_id`). A steward's decision, or the batch path, keeps the Persons in step.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Bundle, Parameters, Patient, PersonLink } from '@medplum/fhirtypes';
import { systemContext } from '../../src/access/context.ts';
import { bulkRelink } from '../../src/mpi/bulk-relink.ts';
import { run } from '../../src/store/database.ts';
import { sql } from '../../src/store/sql.ts';
import { databaseKinds } from '../support/databases.ts';
import { startTestServer, type TestServer } from '../support/test-server.ts';
import { systemClientToken, userWithToken } from '../support/tokens.ts';
import { jsonCaller, personOfPatient } from './support.ts';

const kinds = await databaseKinds();
const MRN = 'urn:katahdin:id:PROBABLE';

interface Demo { mrn: string; given: string; family: string; birthDate: string; city: string }

const patient = (d: Demo): Patient => ({
  resourceType: 'Patient',
  identifier: [{ system: MRN, value: d.mrn }],
  name: [{ use: 'official', family: d.family, given: [d.given] }],
  gender: 'female',
  birthDate: d.birthDate,
  address: [{ line: [d.city === 'Rockland' ? '12 Harbor Rd' : '4 Elm St'], city: d.city, postalCode: d.city === 'Rockland' ? '04841' : '04401' }],
});

describe.each(kinds)('MPI probable (level2) links on %s', (kind) => {
  let server: TestServer;
  let systemA: string;
  let systemB: string;
  let admin: string;
  let clinicianA: string;
  const call = jsonCaller(() => server);
  const write = async (token: string, resource: object): Promise<string> => {
    const res = await call(token, 'POST', `/fhir/${(resource as { resourceType: string }).resourceType}`, resource);
    expect(res.status).toBe(201);
    return res.body.id;
  };
  const observe = (token: string, patientId: string) =>
    write(token, { resourceType: 'Observation', status: 'final', code: { text: 'glucose' }, subject: { reference: `Patient/${patientId}` }, valueQuantity: { value: 101, unit: 'mg/dL' } });
  const personOf = (patientId: string) => personOfPatient(server, patientId);
  const links = async (personId: string): Promise<Array<[string, string | undefined]>> =>
    ((await call(admin, 'GET', `/fhir/Person/${personId}`)).body.link as PersonLink[]).map((l) => [l.target.reference!, l.assurance]);
  const taskFor = async (x: string, y: string) => {
    const tasks = (await call(admin, 'GET', '/admin/mpi/tasks')).body as Array<{ id: string; a: Patient; b: Patient; explanation: Array<{ field: string; level: string }> }>;
    return tasks.find((t) => t.a.id === x && t.b.id === y);
  };
  /** The candidate B, seen by organization A (encounter: A's clinician has a care relationship), and X from B, between the thresholds. */
  const probablePair = async (given: string, family: string, birthDate: string, otherBirthDate: string) => {
    const b = await write(systemA, patient({ mrn: `${family}-A`, given, family, birthDate, city: 'Rockland' }));
    await write(systemA, { resourceType: 'Encounter', status: 'finished', class: { system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode', code: 'AMB' }, subject: { reference: `Patient/${b}` }, period: { start: new Date().toISOString() } });
    const x = await write(systemB, patient({ mrn: `${family}-B`, given, family, birthDate: otherBirthDate, city: 'Bangor' }));
    const task = await taskFor(x, b);
    expect(task?.explanation.find((e) => e.field === 'decision')?.level).toBe('between-thresholds');
    const personB = (await personOf(b))!;
    // The candidate's Person lists the record from its next write (a feed's transaction leaves other persons' Persons
    // alone: rewriting them deadlocked concurrent messages); a steward's decision, a relink or a later link writes it.
    expect(await links(personB)).toEqual([[`Patient/${b}`, 'level3']]);
    await server.services.gate.run(systemContext('test'), { action: 'mpi-link' }, async (scope) => void (await server.services.links.writePersons(scope, [personB])));
    return { b, x, task: task!, personB, personX: (await personOf(x))! };
  };
  const everything = async (token: string, patientId: string) => {
    const res = await call(token, 'GET', `/fhir/Patient/${patientId}/$everything`);
    expect(res.status).toBe(200);
    return ((res.body as Bundle).entry ?? []).map((e) => `${e.resource!.resourceType}/${e.resource!.id}`);
  };

  beforeAll(async () => {
    server = await startTestServer(kind);
    const org = async (name: string) => (await server.services.gate.run(systemContext('test'), { action: 'create' }, (scope) =>
      server.services.records.create(scope, { resourceType: 'Organization', name }))).resource.id!;
    const [orgA, orgB] = [await org('Probable Hospital A'), await org('Probable Clinic B')];
    systemA = await systemClientToken(server, 'probable-ehr-a', orgA);
    systemB = await systemClientToken(server, 'probable-ehr-b', orgB);
    admin = await userWithToken(server, { username: 'probable-steward', role: 'admin' });
    clinicianA = await userWithToken(server, { username: 'probable-dr-a', role: 'clinician', organizationId: orgA });
  }, 300_000);
  afterAll(async () => server?.stop());

  it('lists a between-thresholds record at level2 in the candidate\'s Person only, its data outside that compartment; a link makes it level4', async () => {
    const { b, x, task, personB, personX } = await probablePair('Evangeline', 'Pelletier', '1948-11-30', '1949-10-30');
    expect(personX).not.toBe(personB);
    const obsB = await observe(systemA, b);
    const obsX = await observe(systemB, x);
    expect(await links(personB)).toEqual([[`Patient/${b}`, 'level3'], [`Patient/${x}`, 'level2']]);
    expect(await links(personX)).toEqual([[`Patient/${x}`, 'level3']]);
    const filed = await run<{ id: string; person_id: string }>(server.services.db, sql`select id, person_id from resources where id = any(${[obsB, obsX]}::text[])`);
    expect(Object.fromEntries(filed.map((r) => [r.id, r.person_id]))).toEqual({ [obsB]: personB, [obsX]: personX });

    // A's clinician reads the candidate's longitudinal record: the probable record and its data are not in it.
    const before = await everything(clinicianA, b);
    expect(before).toContain(`Observation/${obsB}`);
    expect(before).not.toContain(`Observation/${obsX}`);
    expect(before).not.toContain(`Patient/${x}`);
    const pix = (await call(systemA, 'GET', `/fhir/Patient/$ihe-pix?sourceIdentifier=${encodeURIComponent(`${MRN}|Pelletier-A`)}`)).body as Parameters;
    expect(pix.parameter!.filter((p) => p.name === 'targetIdentifier').map((p) => p.valueIdentifier!.value)).toEqual(['Pelletier-A']);
    expect(pix.parameter!.filter((p) => p.name === 'targetId').map((p) => p.valueReference!.reference)).toEqual([`Patient/${b}`]);

    expect((await call(admin, 'POST', `/admin/mpi/tasks/${task.id}`, { decision: 'link' })).body).toEqual({ status: 'linked' });
    expect(await personOf(x)).toBe(personB);
    expect((await links(personB)).sort()).toEqual([[`Patient/${b}`, 'level3'], [`Patient/${x}`, 'level4']].sort());
    expect((await call(admin, 'GET', `/fhir/Person/${personX}`)).body.active).toBe(false);
    // Confirmed, the record's data joins the person: the same read now shows it.
    expect(await everything(clinicianA, b)).toContain(`Observation/${obsX}`);
  });

  it('a not-link decision removes the level2 entry and leaves the record\'s own Person as it was', async () => {
    const { b, x, task, personB, personX } = await probablePair('Rosalind', 'Thibodeau', '1955-03-14', '1956-02-14');
    expect(await links(personB)).toEqual([[`Patient/${b}`, 'level3'], [`Patient/${x}`, 'level2']]);
    const ownBefore = (await call(admin, 'GET', `/fhir/Person/${personX}`)).body;
    expect((await call(admin, 'POST', `/admin/mpi/tasks/${task.id}`, { decision: 'not-link' })).body).toEqual({ status: 'not-linked' });
    expect(await links(personB)).toEqual([[`Patient/${b}`, 'level3']]);
    expect((await call(admin, 'GET', `/fhir/Person/${personX}`)).body).toEqual(ownBefore);
    expect(await personOf(x)).toBe(personX);
  });

  it('the batch path lists the probable records of the review tasks it opens', async () => {
    const { b, x, personB } = await probablePair('Philomena', 'Gagnon', '1962-06-21', '1963-05-21');
    // Lose the open task and the level2 entry, then let the batch pass find the pair again.
    await run(server.services.db, sql`delete from mpi_tasks where patient_a = ${x} and status = 'open'`);
    await server.services.gate.run(systemContext('test'), { action: 'mpi-link' }, async (scope) => void (await server.services.links.writePersons(scope, [personB])));
    expect(await links(personB)).toEqual([[`Patient/${b}`, 'level3']]);
    await bulkRelink(server.services);
    expect(await taskFor(x, b)).toBeDefined();
    const person = await personOf(b);
    expect(await links(person!)).toEqual(expect.arrayContaining([[`Patient/${b}`, 'level3'], [`Patient/${x}`, 'level2']]));
    expect((await links(person!)).filter(([, assurance]) => assurance === 'level2')).toEqual([[`Patient/${x}`, 'level2']]);
    expect(await personOf(x)).not.toBe(person);
  });
});
