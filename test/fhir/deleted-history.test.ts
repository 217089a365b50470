import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Bundle } from '@medplum/fhirtypes';
import { systemContext, type AccessContext } from '../../src/access/context.ts';
import { databaseKinds } from '../support/databases.ts';
import { startTestServer, type TestServer } from '../support/test-server.ts';
import { userWithToken } from '../support/tokens.ts';

const kinds = await databaseKinds();

describe.each(kinds)('history of a deleted resource on %s', (kind) => {
  let server: TestServer;
  let obsId: string;
  let tokens: { treating: string; stranger: string };
  const call = (method: 'GET', url: string, token: string) => server.app.inject({ method, url, headers: { authorization: `Bearer ${token}` } });

  beforeAll(async () => {
    server = await startTestServer(kind);
    const internal = systemContext('test');
    const org = async (name: string) => (await server.services.gate.run(internal, { action: 'create' }, (s) => server.services.records.create(s, { resourceType: 'Organization', name }))).resource.id!;
    const [home, away] = [await org('Rumford Hospital'), await org('Far Away Clinic')];
    const asHome: AccessContext = { ...internal, organizationId: home };
    const write = async (r: object) => (await server.services.gate.run(asHome, { action: 'create' }, (s) => server.services.records.create(s, r as never))).resource.id!;
    const patientId = await write({ resourceType: 'Patient', identifier: [{ system: 'urn:rumford', value: 'D1' }], name: [{ family: 'Delacroix', given: ['Dee'] }], birthDate: '1980-08-08', gender: 'female' });
    await write({ resourceType: 'Encounter', status: 'finished', class: { code: 'AMB' }, subject: { reference: `Patient/${patientId}` }, period: { start: new Date().toISOString() } });
    obsId = await write({ resourceType: 'Observation', status: 'preliminary', code: { coding: [{ system: 'http://loinc.org', code: '2345-7' }] }, subject: { reference: `Patient/${patientId}` }, valueQuantity: { value: 90, unit: 'mg/dL' } });
    tokens = {
      treating: await userWithToken(server, { username: 'dr.treat', role: 'clinician', organizationId: home }),
      stranger: await userWithToken(server, { username: 'dr.far', role: 'clinician', organizationId: away }),
    };
    // The sending system corrects the result, then withdraws it.
    const v1 = (await call('GET', `/fhir/Observation/${obsId}`, tokens.treating)).json();
    await server.services.gate.run(asHome, { action: 'update' }, (s) => server.services.records.update(s, 'Observation', obsId, { ...v1, status: 'final', valueQuantity: { value: 95, unit: 'mg/dL' } }));
    await server.services.gate.run(asHome, { action: 'delete' }, (s) => s.remove('Observation', obsId));
  }, 300_000);
  afterAll(async () => server?.stop());

  it('keeps every version listed and readable by whoever could read them, and answers 410 for the deletion', async () => {
    expect((await call('GET', `/fhir/Observation/${obsId}`, tokens.treating)).statusCode).toBe(410);
    const history = (await call('GET', `/fhir/Observation/${obsId}/_history`, tokens.treating)).json<Bundle>();
    expect(history.total).toBe(3);
    expect(history.entry?.map((e) => e.request?.method)).toEqual(['DELETE', 'PUT', 'POST']);
    const v1 = await call('GET', `/fhir/Observation/${obsId}/_history/1`, tokens.treating);
    expect(v1.statusCode).toBe(200);
    expect(v1.json()).toMatchObject({ status: 'preliminary', valueQuantity: { value: 90 } });
    expect((await call('GET', `/fhir/Observation/${obsId}/_history/2`, tokens.treating)).json()).toMatchObject({ status: 'final' });
    expect((await call('GET', `/fhir/Observation/${obsId}/_history/3`, tokens.treating)).statusCode).toBe(410);
    // No care relationship: neither the versions nor the history are the stranger's to see.
    expect((await call('GET', `/fhir/Observation/${obsId}/_history/1`, tokens.stranger)).statusCode).toBe(403);
    expect((await call('GET', `/fhir/Observation/${obsId}/_history`, tokens.stranger)).json<Bundle>()).toMatchObject({ total: 0 });
  });

  it('counts in the system history exactly the entries it can return', async () => {
    const all = (await call('GET', '/fhir/_history?_count=1000', tokens.treating)).json<Bundle>();
    expect(all.entry?.length).toBe(all.total);
    expect(all.entry?.filter((e) => e.fullUrl?.includes(`Observation/${obsId}`) || e.request?.url?.includes(`Observation/${obsId}`)).length).toBe(3);
  });
});
