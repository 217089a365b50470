import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemContext, type AccessContext } from '../../src/access/context.ts';
import { databaseKinds } from '../support/databases.ts';
import { startTestServer, type TestServer } from '../support/test-server.ts';
import { userWithToken } from '../support/tokens.ts';

const kinds = await databaseKinds();

describe.each(kinds)('patient access report on %s', (kind) => {
  let server: TestServer;
  let patientId: string;
  let obsId: string;
  let tokens: { clinician: string; patient: string; po: string };
  const get = (url: string, token: string) => server.app.inject({ method: 'GET', url, headers: { authorization: `Bearer ${token}` } });

  beforeAll(async () => {
    server = await startTestServer(kind);
    const internal = systemContext('test');
    const orgId = (await server.services.gate.run(internal, { action: 'create' }, (s) => server.services.records.create(s, { resourceType: 'Organization', name: 'Millinocket Regional' }))).resource.id!;
    const asOrg: AccessContext = { ...internal, organizationId: orgId };
    const write = async (r: object) => (await server.services.gate.run(asOrg, { action: 'create' }, (s) => server.services.records.create(s, r as never))).resource.id!;
    patientId = await write({ resourceType: 'Patient', identifier: [{ system: 'urn:m', value: 'R1' }], name: [{ family: 'Reportson', given: ['Rae'] }], birthDate: '1975-05-05', gender: 'female' });
    await write({ resourceType: 'Encounter', status: 'finished', class: { code: 'AMB' }, subject: { reference: `Patient/${patientId}` }, period: { start: new Date().toISOString() } });
    obsId = await write({ resourceType: 'Observation', status: 'final', subject: { reference: `Patient/${patientId}` }, code: { coding: [{ system: 'http://loinc.org', code: '2345-7' }] } });
    const personId = (await server.services.db.query<{ person_id: string }>('select person_id from mpi_links where patient_id = $1', [patientId])).rows[0].person_id;
    tokens = {
      clinician: await userWithToken(server, { username: 'dr.report', role: 'clinician', organizationId: orgId }),
      patient: await userWithToken(server, { username: 'rae', role: 'patient', personId }),
      po: await userWithToken(server, { username: 'po.report', role: 'privacy-officer' }),
    };
  }, 300_000);
  afterAll(async () => server?.stop());

  it('lists exactly the clinician\'s accesses, in order, with names and organization; CSV and PDF download', async () => {
    expect((await get(`/fhir/Patient/${patientId}`, tokens.clinician)).statusCode).toBe(200);
    expect((await get(`/fhir/Observation?patient=${patientId}`, tokens.clinician)).statusCode).toBe(200);
    expect((await get(`/fhir/Observation/${obsId}`, tokens.clinician)).statusCode).toBe(200);
    const res = await get(`/fhir/Patient/${patientId}/$access-report`, tokens.patient);
    expect(res.statusCode).toBe(200);
    const report = res.json<{ person: { name: string }; rows: Array<{ time: string; userName: string; organization: string; action: string; emergency: boolean }> }>();
    expect(report.person.name).toBe('Rae Reportson');
    const clinicianRows = report.rows.filter((r) => r.userName === 'Test dr.report');
    expect(clinicianRows).toHaveLength(3);
    expect(report.rows.filter((r) => r.userName !== 'Test dr.report' && r.userName !== 'Test rae')).toEqual([]);
    expect(clinicianRows.every((r) => r.organization === 'Millinocket Regional' && !r.emergency)).toBe(true);
    const times = clinicianRows.map((r) => r.time);
    expect([...times].sort((a, b) => a.localeCompare(b)).join() === times.join() || [...times].sort((a, b) => b.localeCompare(a)).join() === times.join()).toBe(true);
    const ascending = [...clinicianRows].sort((a, b) => a.time.localeCompare(b.time)).map((r) => r.action);
    expect(ascending[0]).toMatch(/demographics/);
    expect(ascending[1]).toMatch(/search/);
    expect(ascending[2]).toMatch(/view/);

    const csv = await get(`/fhir/Patient/${patientId}/$access-report?_format=csv`, tokens.patient);
    expect(csv.statusCode).toBe(200);
    expect(csv.headers['content-type']).toMatch(/^text\/csv/);
    const lines = csv.body.trim().split(/\r?\n/);
    expect(lines.filter((l) => l.includes('Test dr.report'))).toHaveLength(3);
    expect(lines.filter((l) => l.includes('Test dr.report')).every((l) => l.includes('Millinocket Regional'))).toBe(true);
    const pdf = await server.app.inject({ method: 'GET', url: `/fhir/Patient/${patientId}/$access-report?_format=pdf`, headers: { authorization: `Bearer ${tokens.po}` } });
    expect(pdf.statusCode).toBe(200);
    expect(pdf.headers['content-type']).toBe('application/pdf');
    expect(pdf.rawPayload.subarray(0, 5).toString()).toBe('%PDF-');
  });
});
