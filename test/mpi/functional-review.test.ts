// Functional requirements of the MPI issue checked through the real server: an update re-evaluates its link,
// $match refuses bad input as FHIR asks, $ihe-pix answers the ITI-83 error cases, and the MPI CLI refuses bad arguments.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Patient } from '@medplum/fhirtypes';
import { systemContext } from '../../src/access/context.ts';
// main.ts first: the CLI modules import each other through it.
import { CliError } from '../../src/main.ts';
import { MPI_COMMANDS } from '../../src/cli/mpi-commands.ts';
import { databaseKinds } from '../support/databases.ts';
import { startTestServer, type TestServer } from '../support/test-server.ts';
import { systemClientToken, userWithToken } from '../support/tokens.ts';
import { demoPatient, jsonCaller, patientWriter, personOfPatient, type Demo } from './support.ts';

const kinds = await databaseKinds();
const MRN = 'urn:katahdin:id:REVIEW';

const patient = (d: Demo): Patient => demoPatient(MRN, d, { line: ['7 Elm St'], city: 'Bangor', postalCode: '04401' });

describe.each(kinds)('MPI functional review on %s', (kind) => {
  let server: TestServer;
  let system: string;
  let admin: string;
  const call = jsonCaller(() => server);
  const { create, update } = patientWriter(call, () => system, patient);
  const personOf = (patientId: string) => personOfPatient(server, patientId);
  const personLinks = async (personId: string) =>
    (await call(admin, 'GET', `/fhir/Person/${personId}`)).body.link?.map((l: { target: { reference: string } }) => l.target.reference).sort() ?? [];

  beforeAll(async () => {
    server = await startTestServer(kind);
    const org = await server.services.gate.run(systemContext('test'), { action: 'create' }, (scope) =>
      server.services.records.create(scope, { resourceType: 'Organization', name: 'Review Test Hospital' }));
    system = await systemClientToken(server, 'review-ehr', org.resource.id!);
    admin = await userWithToken(server, { username: 'mpi-reviewer', role: 'admin' });
  }, 300_000);
  afterAll(async () => server?.stop());

  it('an update that makes a record someone else moves it out of the person, with the Person mirrors', async () => {
    const same = { given: 'Josephine', family: 'Bouchard', birthDate: '1958-02-27', ssn: '234-56-7891' };
    const a = await create({ ...same, mrn: 'UP-A' });
    const b = await create({ ...same, mrn: 'UP-B' });
    const shared = await personOf(a);
    expect(await personOf(b)).toBe(shared);
    // The sender corrects B: it was another patient altogether.
    await update(b, { mrn: 'UP-B', given: 'Zebulon', family: 'Quarrington', birthDate: '2001-10-03', gender: 'male' });
    expect(await personOf(a)).toBe(shared);
    const moved = await personOf(b);
    expect(moved).not.toBe(shared);
    expect(await personLinks(shared!)).toEqual([`Patient/${a}`]);
    expect(await personLinks(moved!)).toEqual([`Patient/${b}`]);
  });

  it('an update keeps a record with a steward-confirmed companion (level4 is never undone automatically)', async () => {
    const a = await create({ mrn: 'CF-A', given: 'Evangeline', family: 'Gagnon', birthDate: '1949-06-30' });
    const b = await create({ mrn: 'CF-B', given: 'Rosalind', family: 'Paradis', birthDate: '1977-11-05' });
    expect(await personOf(b)).not.toBe(await personOf(a));
    const merged = await call(admin, 'POST', '/admin/mpi/merge', { sourcePersonId: await personOf(b), targetPersonId: await personOf(a) });
    expect(merged.status).toBe(200);
    await update(a, { mrn: 'CF-A', given: 'Evangeline', family: 'Gagnon-Roy', birthDate: '1949-06-30' });
    expect(await personOf(a)).toBe(await personOf(b));
  });

  it('$match refuses a bad count and an invalid Patient with an OperationOutcome', async () => {
    const probe = patient({ mrn: 'probe', given: 'Anyone', family: 'Somebody', birthDate: '1970-01-02' });
    for (const count of [0, -1, 2.5]) {
      const res = await call(system, 'POST', '/fhir/Patient/$match', { resourceType: 'Parameters', parameter: [{ name: 'resource', resource: probe }, { name: 'count', valueInteger: count }] });
      expect(res.status, `count ${count}`).toBe(400);
      expect(res.body.resourceType).toBe('OperationOutcome');
      expect(res.body.issue[0].expression).toEqual(['count']);
    }
    const invalid = await call(system, 'POST', '/fhir/Patient/$match', { resourceType: 'Parameters', parameter: [{ name: 'resource', resource: { ...probe, birthDate: 'last spring' } }] });
    expect(invalid.status).toBe(400);
    expect(invalid.body.resourceType).toBe('OperationOutcome');
  });

  it('$ihe-pix answers the ITI-83 cases: unknown domain 400, unknown identifier 404, unknown target system 403', async () => {
    const id = await create({ mrn: 'PIX-1', given: 'Lucienne', family: 'Thériault', birthDate: '1966-08-08' });
    const pix = (q: string) => call(system, 'GET', `/fhir/Patient/$ihe-pix?${q}`);
    const source = `sourceIdentifier=${encodeURIComponent(`${MRN}|PIX-1`)}`;
    const ok = await pix(`${source}&targetSystem=${encodeURIComponent(MRN)}`);
    expect(ok.status).toBe(200);
    expect(ok.body.parameter).toContainEqual({ name: 'targetId', valueReference: { reference: `Patient/${id}` } });
    const unknownId = await pix(`sourceIdentifier=${encodeURIComponent(`${MRN}|NO-SUCH`)}`);
    expect([unknownId.status, unknownId.body.issue[0].code]).toEqual([404, 'not-found']);
    const unknownDomain = await pix(`sourceIdentifier=${encodeURIComponent('urn:oid:1.2.3.999|PIX-1')}`);
    expect([unknownDomain.status, unknownDomain.body.issue[0].code]).toEqual([400, 'code-invalid']);
    const unknownTarget = await pix(`${source}&targetSystem=${encodeURIComponent('urn:oid:1.2.3.999')}`);
    expect([unknownTarget.status, unknownTarget.body.issue[0].code]).toEqual([403, 'code-invalid']);
  });
  it('explains every link through the API: assurance, score and the weight of each field, with the companions', async () => {
    const same = { given: 'Evangeline', family: 'Thibodeau', birthDate: '1947-10-03', ssn: '345-67-8912' };
    const a = await create({ ...same, mrn: 'EX-A' });
    const b = await create({ ...same, mrn: 'EX-B' });
    const res = await call(admin, 'GET', `/admin/mpi/links/${b}`);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ patientId: b, personId: await personOf(a), assurance: 'level3', companions: [a] });
    expect(res.body.score).toBeGreaterThan(14);
    const fields = new Map<string, { level: string; weight: number }>(res.body.explanation.map((e: { field: string; level: string; weight: number }) => [e.field, e]));
    expect(fields.get('ssn')).toMatchObject({ level: 'exact' });
    expect(fields.get('ssn')!.weight).toBeGreaterThan(0);
    expect((await call(admin, 'GET', '/admin/mpi/links/no-such-patient')).status).toBe(404);
    expect((await call(admin, 'GET', '/admin/mpi/tasks?status=bogus')).status).toBe(400);
  });
});

describe('MPI CLI arguments', () => {
  const command = (name: string) => MPI_COMMANDS.find((c) => c.name === name)!;
  it('refuses stray arguments before touching the database', async () => {
    await expect(command('mpi train').run(['--force'])).rejects.toThrow(CliError);
    await expect(command('mpi train').run(['all'])).rejects.toThrow(/unexpected argument "all"/);
    await expect(command('mpi relink').run(['everything'])).rejects.toThrow(/unexpected argument "everything"/);
    await expect(command('mpi relink').run(['--batch', 'no'])).rejects.toThrow(/--batch takes no value/);
    await expect(command('mpi relink').run(['--bacth'])).rejects.toThrow(/unknown option --bacth/);
  });
});
