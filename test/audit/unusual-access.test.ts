import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemContext, type AccessContext } from '../../src/access/context.ts';
import { databaseKinds } from '../support/databases.ts';
import { startTestServer, type TestServer } from '../support/test-server.ts';
import { userWithToken } from '../support/tokens.ts';

const kinds = await databaseKinds();

// Working hours that exclude the hour the test runs in (UTC), so its reads are "outside working hours" on any day.
const hour = new Date().getUTCHours();
const start = (hour + 1) % 24;

describe.each(kinds)('unusual-access report on %s', (kind) => {
  let server: TestServer;
  let tokens: { clinician: string; po: string };
  let kin: string;
  let stranger: string;
  const get = (url: string, token: string) => server.app.inject({ method: 'GET', url, headers: { authorization: `Bearer ${token}` } });

  beforeAll(async () => {
    server = await startTestServer(kind, { auditWorkingHours: { start, end: start + 1 }, auditTimeZone: 'UTC' });
    const internal = systemContext('test');
    const orgId = (await server.services.gate.run(internal, { action: 'create' }, (s) => server.services.records.create(s, { resourceType: 'Organization', name: 'Baxter Clinic' }))).resource.id!;
    const asOrg: AccessContext = { ...internal, organizationId: orgId };
    const write = async (r: object) => (await server.services.gate.run(asOrg, { action: 'create' }, (s) => server.services.records.create(s, r as never))).resource.id!;
    const patient = async (mrn: string, family: string, given: string, birthDate: string) => {
      const id = await write({ resourceType: 'Patient', identifier: [{ system: 'urn:baxter', value: mrn }], name: [{ family, given: [given] }], birthDate, gender: 'female' });
      await write({ resourceType: 'Encounter', status: 'finished', class: { code: 'AMB' }, subject: { reference: `Patient/${id}` }, period: { start: new Date().toISOString() } });
      return id;
    };
    // The clinician's display name is "Test pinkham": a patient named Pinkham is a possible relative.
    kin = await patient('K1', 'Pinkham', 'Lydia', '1950-02-09');
    stranger = await patient('S1', 'Oakes', 'Mabel', '1962-07-30');
    tokens = {
      clinician: await userWithToken(server, { username: 'pinkham', role: 'clinician', organizationId: orgId }),
      po: await userWithToken(server, { username: 'po.unusual', role: 'privacy-officer' }),
    };
  }, 300_000);
  afterAll(async () => server?.stop());

  it('lists the clinician who viewed a namesake, and every view outside working hours; only for privacy officers', async () => {
    expect((await get(`/fhir/Patient/${kin}`, tokens.clinician)).statusCode).toBe(200);
    expect((await get(`/fhir/Patient/${stranger}`, tokens.clinician)).statusCode).toBe(200);
    const res = await get('/admin/unusual-access?threshold=1', tokens.po);
    expect(res.statusCode).toBe(200);
    const body = res.json<{
      manyPeople: unknown[];
      familiarPeople: Array<{ agentName: string; sharedFamilyName: boolean; sharedAddress: boolean; events: number }>;
      outsideWorkingHours: Array<{ agentName: string; action: string }>;
      workingHours: { start: number; end: number; timeZone: string };
    }>();
    expect(body.workingHours).toMatchObject({ start, end: start + 1, timeZone: 'UTC' });
    expect(body.familiarPeople).toEqual([expect.objectContaining({ agentName: 'Test pinkham', sharedFamilyName: true, sharedAddress: false, events: 1 })]);
    expect(body.outsideWorkingHours.filter((r) => r.agentName === 'Test pinkham').map((r) => r.action)).toEqual(['read', 'read']);
    // Both views were within a care relationship.
    expect(body.manyPeople).toEqual([]);
    expect((await get('/admin/unusual-access', tokens.clinician)).statusCode).toBe(403);
    expect((await get('/admin/unusual-access?from=yesterday', tokens.po)).statusCode).toBe(400);
    expect((await get('/admin/unusual-access?from=2026-12-08&to=2026-12-07', tokens.po)).statusCode).toBe(400);
    const past = (await get('/admin/unusual-access?from=2020-01-01&to=2020-01-31', tokens.po)).json<{ familiarPeople: unknown[]; outsideWorkingHours: unknown[] }>();
    expect(past.familiarPeople).toEqual([]);
    expect(past.outsideWorkingHours).toEqual([]);
  });
});
