/**
 * A token's SMART scopes bound every path that returns several resource types, not only the type in the URL: a
 * client granted only `Patient` reads gets no Observation through `$everything`, `_revinclude` or system history,
 * and the totals count only what it is given (a direct read of the Observation is already refused).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Bundle, Resource } from '@medplum/fhirtypes';
import { databaseKinds } from '../support/databases.ts';
import { startTestServer, type TestServer } from '../support/test-server.ts';
import { systemClientToken } from '../support/tokens.ts';
import { facilityOrganization, fhir } from '../privacy/support.ts';

const kinds = await databaseKinds();

describe.each(kinds)('scopes on multi-type paths on %s', (kind) => {
  let server: TestServer;
  let full = '';
  let patientOnly = '';
  let patient = '';

  beforeAll(async () => {
    server = await startTestServer(kind);
    const org = await facilityOrganization(server, 'SC');
    full = await systemClientToken(server, 'sc-ehr', org);
    patientOnly = await systemClientToken(server, 'sc-directory', org, ['system/Patient.rs']);
    const create = async (body: Resource) => {
      const res = await fhir(server, full, 'POST', `/fhir/${body.resourceType}`, body);
      if (res.status !== 201) throw new Error(`create ${body.resourceType}: ${res.status}`);
      return (res.body as Resource).id!;
    };
    patient = await create({ resourceType: 'Patient', identifier: [{ system: 'urn:katahdin:id:SC', value: 'SC-1' }], name: [{ family: 'Scope' }], gender: 'male', birthDate: '1960-06-06' });
    await create({ resourceType: 'Observation', status: 'final', subject: { reference: `Patient/${patient}` }, code: { text: 'heart rate' }, effectiveDateTime: new Date().toISOString() } as Resource);
  }, 300_000);
  afterAll(async () => server?.stop());

  const types = (b: Bundle) => [...new Set((b.entry ?? []).map((e) => e.resource!.resourceType))].sort();
  const paths = () => [`/fhir/Patient/${patient}/$everything`, `/fhir/Patient?_id=${patient}&_revinclude=Observation:subject`, '/fhir/_history'];

  it('a client with Patient scopes only gets Patients, with totals that count only them', async () => {
    for (const url of paths()) {
      const res = await fhir(server, patientOnly, 'GET', url);
      expect(res.status, url).toBe(200);
      const bundle = res.body as Bundle;
      expect(types(bundle), url).toEqual(['Patient']);
      if (!url.includes('_revinclude')) expect(bundle.total, url).toBe(bundle.entry!.length);
    }
  });

  it('a client with every type in its scopes still gets the Observation on each path', async () => {
    for (const url of paths()) expect(types((await fhir(server, full, 'GET', url)).body as Bundle), url).toContain('Observation');
  });
});
