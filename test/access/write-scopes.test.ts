/**
 * SMART v2 write scopes are per interaction: `.c` creates, `.u` updates, `.d` deletes — through the REST API and in
 * transaction bundles — and `$consent` (a Consent written on the caller's behalf) needs a Consent create scope, so an
 * app granted only `patient/Patient.rs` cannot record its patient's opt-out (which purges the record).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { OperationOutcome } from '@medplum/fhirtypes';
import { databaseKinds } from '../support/databases.ts';
import { startTestServer, type TestServer } from '../support/test-server.ts';
import { systemClientToken, TEST_PASSWORD } from '../support/tokens.ts';
import { adt, asParams, consent, facilityOrganization, fhir, patientOf, sendHl7, type PersonDemo } from '../privacy/support.ts';

const kinds = await databaseKinds();
const ANN: PersonDemo = { family: 'SCOPEWRITE', given: 'ANN', dob: '19700101', sex: 'F', ssn: '123-45-0101', street: '1 Elm St', city: 'Bangor', state: 'ME', zip: '04401' };

describe.each(kinds)('write scopes are enforced per interaction on %s', (kind) => {
  let server: TestServer;
  let org = '';
  const ann = { patientId: '', personId: '' };
  const tokens: Record<string, string> = {};
  const observation = (id?: string) => ({
    resourceType: 'Observation', ...(id ? { id } : {}), status: 'final', code: { text: 'pulse' }, subject: { reference: `Patient/${ann.patientId}` },
  });
  const create = async () => {
    const res = await fhir(server, tokens.cruds, 'POST', '/fhir/Observation', observation());
    expect(res.status).toBe(201);
    return (res.body as { id: string }).id;
  };
  const expectRefused = (res: { status: number; body: unknown }, verb: string) => {
    expect(res.status, JSON.stringify(res.body).slice(0, 200)).toBe(403);
    expect((res.body as OperationOutcome).issue[0].diagnostics).toBe(`Your access token's scopes do not allow ${verb} Observation.`);
  };

  beforeAll(async () => {
    server = await startTestServer(kind);
    org = await facilityOrganization(server, 'SW');
    expect(await sendHl7(server, adt(ANN, 'SW', 'SW-ANN', { visit: 'V-SW', at: new Date() }))).toBe('AA');
    Object.assign(ann, await patientOf(server, 'SW', 'SW-ANN'));
    for (const perms of ['cruds', 'cru', 'c', 'u', 'd']) tokens[perms] = await systemClientToken(server, `sw-${perms}`, org, [`system/Observation.${perms}`]);
  }, 300_000);
  afterAll(async () => server?.stop());

  it('creating needs .c', async () => {
    expectRefused(await fhir(server, tokens.u, 'POST', '/fhir/Observation', observation()), 'creating');
    expect((await fhir(server, tokens.c, 'POST', '/fhir/Observation', observation())).status).toBe(201);
  });

  it('updating needs .u', async () => {
    const id = await create();
    expectRefused(await fhir(server, tokens.c, 'PUT', `/fhir/Observation/${id}`, observation(id)), 'updating');
    expect((await fhir(server, tokens.u, 'PUT', `/fhir/Observation/${id}`, observation(id))).status).toBe(200);
  });

  it('deleting needs .d, also in a transaction bundle', async () => {
    const id = await create();
    expectRefused(await fhir(server, tokens.cru, 'DELETE', `/fhir/Observation/${id}`), 'deleting');
    const bundle = { resourceType: 'Bundle', type: 'transaction', entry: [{ request: { method: 'DELETE', url: `Observation/${id}` } }] };
    expectRefused(await fhir(server, tokens.cru, 'POST', '/fhir', bundle), 'deleting');
    expect((await fhir(server, tokens.cruds, 'GET', `/fhir/Observation/${id}`)).status).toBe(200);
    expect((await fhir(server, tokens.d, 'DELETE', `/fhir/Observation/${id}`)).status).toBe(200);
    expect((await fhir(server, tokens.cruds, 'GET', `/fhir/Observation/${id}`)).status).toBe(410);
  });

  it('$consent needs a Consent create scope: a patient app with patient/Patient.rs cannot opt its patient out', async () => {
    await server.services.auth.addUser({ username: 'sw-ann', role: 'patient', personId: ann.personId, password: TEST_PASSWORD, displayName: 'Ann' });
    const readOnly = await server.services.auth.mintTokenForUser('sw-ann', { scopes: ['patient/Patient.rs'] });
    const refused = await consent(server, readOnly.accessToken, ann.patientId, 'opt-out');
    expect(refused.status).toBe(403);
    expect((refused.body as OperationOutcome).issue[0].diagnostics).toBe('Your access token\'s scopes do not allow creating Consent.');
    const full = await server.services.auth.mintTokenForUser('sw-ann', { scopes: ['patient/Patient.rs', 'patient/Consent.cru'] });
    expect(asParams(await fhir(server, full.accessToken, 'GET', `/fhir/Patient/${ann.patientId}/$consent-status`)).optedOut).toEqual([false]);
    expect((await consent(server, full.accessToken, ann.patientId, 'opt-out')).status).toBe(200);
  });
});
