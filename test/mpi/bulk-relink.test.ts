// bulkRelink (the batch path) against a real store: same persons as the write path, confirmed links and
// not-link decisions kept, compartments and Person resources consistent afterwards.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Patient } from '@medplum/fhirtypes';
import { systemContext } from '../../src/access/context.ts';
import { bulkRelink } from '../../src/mpi/bulk-relink.ts';
import { run } from '../../src/store/database.ts';
import { sql } from '../../src/store/sql.ts';
import { startTestServer, type TestServer } from '../support/test-server.ts';
import { systemClientToken, userWithToken } from '../support/tokens.ts';

const patient = (mrn: string, given: string, family: string, birthDate: string): Patient => ({
  resourceType: 'Patient', identifier: [{ system: 'urn:katahdin:id:BULK', value: mrn }, { system: 'http://hl7.org/fhir/sid/us-ssn', value: `3${birthDate.replace(/-/g, '').slice(0, 8)}` }],
  name: [{ use: 'official', family, given: [given] }], gender: 'female', birthDate,
});

describe('bulkRelink on pglite', () => {
  let server: TestServer;
  let system: string;
  let admin: string;
  const ids: Record<string, string> = {};
  const post = async (token: string, url: string, body: unknown) =>
    server.app.inject({ method: 'POST', url, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, payload: JSON.stringify(body) });
  const links = async () => new Map((await run<{ patient_id: string; person_id: string; assurance: string }>(server.services.db, sql`select patient_id, person_id, assurance from mpi_links`)).map((r) => [r.patient_id, r]));

  beforeAll(async () => {
    server = await startTestServer('pglite');
    const org = await server.services.gate.run(systemContext('test'), { action: 'create' }, (scope) => server.services.records.create(scope, { resourceType: 'Organization', name: 'Bulk' }));
    system = await systemClientToken(server, 'bulk-ehr', org.resource.id!);
    admin = await userWithToken(server, { username: 'bulk-admin', role: 'admin' });
    const people: Array<[string, string, string, string]> = [['a1', 'Margaret', 'Thibodeau', '1961-04-12'], ['a2', 'Margaret', 'Thibodeau', '1961-04-12'],
      ['b1', 'Roland', 'Daigle', '1990-07-19'], ['b2', 'Roland', 'Daigle', '1990-07-19'], ['c1', 'Beatrice', 'Cyr', '1952-01-08']];
    for (const [mrn, ...rest] of people) ids[mrn] = (await post(system, '/fhir/Patient', patient(mrn, ...rest))).json().id;
    for (const mrn of ['a2', 'b2', 'c1']) {
      await post(system, '/fhir/Observation', { resourceType: 'Observation', status: 'final', code: { text: 'x' }, subject: { reference: `Patient/${ids[mrn]}` } });
    }
    expect((await post(admin, '/admin/mpi/unlink', { patientId: ids.b2 })).statusCode).toBe(200);
  }, 300_000);
  afterAll(async () => server?.stop());

  it('reproduces the write path persons and keeps the steward decisions', async () => {
    const before = await links();
    const report = await bulkRelink(server.services);
    expect(report.records).toBe(5);
    const after = await links();
    expect(after.get(ids.a2)!.person_id).toBe(after.get(ids.a1)!.person_id);
    expect(after.get(ids.b2)).toEqual(before.get(ids.b2));
    expect(after.get(ids.b1)!.person_id).not.toBe(after.get(ids.b2)!.person_id);
    expect(new Set([ids.a1, ids.b1, ids.c1].map((id) => after.get(id)!.person_id)).size).toBe(3);
    expect(report.moved).toBe(0);
  });

  it('leaves every resource in its source Patient person and the Person resources in step', async () => {
    const l = await links();
    const rows = await run<{ owner: string; person_id: string }>(server.services.db, sql`select coalesce(patient_id, id) as owner, person_id from resources where resource_type in ('Patient', 'Observation')`);
    expect(rows).toHaveLength(8);
    for (const r of rows) expect(r.person_id).toBe(l.get(r.owner)!.person_id);
    for (const [patientId, link] of l) {
      const person = (await server.app.inject({ method: 'GET', url: `/fhir/Person/${link.person_id}`, headers: { authorization: `Bearer ${admin}` } })).json();
      expect(person.link.map((x: { target: { reference: string } }) => x.target.reference)).toContain(`Patient/${patientId}`);
    }
  });

  it('re-links from scratch after the links are lost, to the same partition', async () => {
    const before = await links();
    await run(server.services.db, sql`delete from mpi_links where assurance <> 'level4'`);
    await bulkRelink(server.services);
    const after = await links();
    const partition = (m: Map<string, { person_id: string }>) => Object.values(ids).map((id) => Object.values(ids).map((o) => m.get(id)!.person_id === m.get(o)!.person_id));
    expect(partition(after)).toEqual(partition(before));
  });
});
