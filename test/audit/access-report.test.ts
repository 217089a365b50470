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
    // Oldest first, as the patient reads a history.
    const times = clinicianRows.map((r) => r.time);
    expect(times).toEqual([...times].sort((a, b) => a.localeCompare(b)));
    expect(clinicianRows.map((r) => r.action)).toEqual([expect.stringMatching(/demographics/), expect.stringMatching(/search/), expect.stringMatching(/view/)]);

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

  it('keeps the accesses made to a record before its person was merged into the patient\'s, and only those', async () => {
    const internal = systemContext('test');
    const orgId = (await server.services.db.query<{ organization_id: string }>('select organization_id from users where username = $1', ['dr.report'])).rows[0]?.organization_id;
    const asOrg: AccessContext = { ...internal, organizationId: orgId };
    const write = async (r: object) => (await server.services.gate.run(asOrg, { action: 'create' }, (s) => server.services.records.create(s, r as never))).resource.id!;
    const other = await write({ resourceType: 'Patient', identifier: [{ system: 'urn:m', value: 'R2' }], name: [{ family: 'Elsewhere', given: ['Otto'] }], birthDate: '1941-11-11', gender: 'male' });
    await write({ resourceType: 'Encounter', status: 'finished', class: { code: 'AMB' }, subject: { reference: `Patient/${other}` }, period: { start: new Date().toISOString() } });
    const personOf = async (id: string) => (await server.services.db.query<{ person_id: string }>('select person_id from mpi_links where patient_id = $1', [id])).rows[0].person_id;
    const [home, away] = [await personOf(patientId), await personOf(other)];
    expect(away).not.toBe(home);
    expect((await get(`/fhir/Patient/${other}`, tokens.clinician)).statusCode).toBe(200);
    const viewsOfOther = async () => (await get(`/fhir/Patient/${patientId}/$access-report`, tokens.po)).json<{ rows: Array<{ userName: string; action: string }> }>().rows
      .filter((r) => r.userName === 'Test dr.report' && /demographics/.test(r.action)).length;
    const before = await viewsOfOther();
    const admin = await userWithToken(server, { username: 'admin.report', role: 'admin' });
    const merged = await server.app.inject({
      method: 'POST', url: '/admin/mpi/merge', headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' },
      payload: JSON.stringify({ sourcePersonId: away, targetPersonId: home }),
    });
    expect(merged.statusCode).toBe(200);
    expect(await personOf(other)).toBe(home);
    expect(await viewsOfOther()).toBe(before + 1);
    const earlier = (await server.services.db.query<{ person_id: string; open: boolean }>(
      'select person_id, linked_until is null as open from mpi_link_periods where patient_id = $1 order by linked_from', [other])).rows;
    expect(earlier).toEqual([{ person_id: away, open: false }, { person_id: home, open: true }]);
  });
});
