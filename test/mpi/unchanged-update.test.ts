// A Patient update that changes nothing the MPI decided from (an ORU repeating the PID) keeps the link without
// scoring again; a change of the record, of the model, or a steward's decision makes the next update decide anew.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Patient } from '@medplum/fhirtypes';
import { systemContext } from '../../src/access/context.ts';
import { databaseKinds } from '../support/databases.ts';
import { startTestServer, type TestServer } from '../support/test-server.ts';
import { systemClientToken, userWithToken } from '../support/tokens.ts';

const kinds = await databaseKinds();

const patient = (org: string, over: Partial<Patient> = {}): Patient => ({
  resourceType: 'Patient',
  identifier: [{ system: `urn:katahdin:id:${org}`, value: 'MRN-77' }, { system: 'http://hl7.org/fhir/sid/us-ssn', value: '412-55-7781' }],
  name: [{ use: 'official', family: 'Thibodeau', given: ['Ginette'] }], gender: 'female', birthDate: '1958-06-21',
  telecom: [{ system: 'phone', value: '207-555-0161' }], address: [{ line: ['12 Water St'], city: 'Hallowell', state: 'ME', postalCode: '04347' }],
  ...over,
});

describe.each(kinds)('unchanged Patient updates on %s', (kind) => {
  let server: TestServer;
  const tokens: Record<string, string> = {};
  const ids: Record<string, string> = {};

  const put = async (org: string, body: Patient) => {
    const res = await server.app.inject({
      method: 'PUT', url: `/fhir/Patient?identifier=${encodeURIComponent(`urn:katahdin:id:${org}|MRN-77`)}`,
      headers: { authorization: `Bearer ${tokens[org]}`, 'content-type': 'application/fhir+json' }, payload: JSON.stringify(body),
    });
    expect([200, 201]).toContain(res.statusCode);
    return res.json<Patient>().id!;
  };
  const personOf = async (patientId: string) =>
    (await server.services.db.query<{ person_id: string }>('select person_id from mpi_links where patient_id = $1', [patientId])).rows[0].person_id;
  const adminToken = () => userWithToken(server, { username: `mpi.admin.${Math.random().toString(36).slice(2, 8)}`, role: 'admin' });
  const personVersions = async () => Number((await server.services.db.query<{ n: number }>(`select count(*)::int as n from resource_history where resource_type = 'Person'`)).rows[0].n);

  beforeAll(async () => {
    server = await startTestServer(kind);
    for (const name of ['NORTH', 'SOUTH']) {
      const org = await server.services.gate.run(systemContext('test'), { action: 'create' }, (scope) => server.services.records.create(scope, { resourceType: 'Organization', name }));
      tokens[name] = await systemClientToken(server, `ehr-${name.toLowerCase()}`, org.resource.id!);
      ids[name] = await put(name, patient(name));
    }
  }, 300_000);
  afterAll(async () => server?.stop());

  it('links both sources to one person, and an unchanged update keeps it without rewriting the Person', async () => {
    const person = await personOf(ids.NORTH);
    expect(await personOf(ids.SOUTH)).toBe(person);
    const before = await personVersions();
    for (let i = 0; i < 3; i++) expect(await put('NORTH', patient('NORTH'))).toBe(ids.NORTH);
    expect(await personOf(ids.NORTH)).toBe(person);
    expect(await personVersions(), 'no Person version written for unchanged updates').toBe(before);
  });

  it('an update that changes the record is decided anew: scored, its link and Person mirror written again', async () => {
    const hashOf = async () => (await server.services.db.query<{ record_hash: string }>('select record_hash from mpi_links where patient_id = $1', [ids.SOUTH])).rows[0].record_hash;
    const [hash, before] = [await hashOf(), await personVersions()];
    expect(hash).toBeTruthy();
    await put('SOUTH', patient('SOUTH', { address: [{ line: ['40 Second St'], city: 'Hallowell', state: 'ME', postalCode: '04347' }] }));
    expect(await hashOf()).not.toBe(hash);
    expect(await personVersions()).toBeGreaterThan(before);
    expect(await personOf(ids.SOUTH)).toBe(await personOf(ids.NORTH));
  });

  it('a steward\'s decision clears the fingerprint, so the next update decides anew', async () => {
    const unlink = await server.app.inject({ method: 'POST', url: '/admin/mpi/unlink', headers: { authorization: `Bearer ${await adminToken()}`, 'content-type': 'application/json' }, payload: JSON.stringify({ patientId: ids.SOUTH }) });
    expect(unlink.statusCode, unlink.body).toBe(200);
    const row = (await server.services.db.query<{ record_hash: string | null; assurance: string }>('select record_hash, assurance from mpi_links where patient_id = $1', [ids.SOUTH])).rows[0];
    expect(row).toEqual({ record_hash: null, assurance: 'level4' });
  });

  it('a new model version makes an unchanged update decide again', async () => {
    const before = await personVersions();
    await put('NORTH', patient('NORTH'));
    expect(await personVersions()).toBe(before);
    const model = server.services.model.current;
    server.services.model.current = { ...model, version: model.version + 1 };
    try {
      await put('NORTH', patient('NORTH'));
      expect(await personVersions(), 'decided again: the Person mirror is written').toBeGreaterThan(before);
    } finally {
      server.services.model.current = model;
    }
  });
});
