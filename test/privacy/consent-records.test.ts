/**
 * privacy-rules §2 around the purge itself (which opt-out-purge.test.ts proves): who may record an opt-out and what the
 * stored Consent says (scope, policyRule, channel, date); a C-CDA document arriving after the opt-out (acknowledged
 * normally, nothing clinical stored, discard counted without PHI); and the audit trail and the patient's access report
 * surviving the purge.
 */
import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Consent, Resource } from '@medplum/fhirtypes';
import { buildOptOut, buildShareCategory, CONSENT_CHANNEL_URL, CONSENT_SCOPE_SYSTEM } from '../../src/privacy/consent.ts';
import { ACT_CODE_SYSTEM } from '../../src/privacy/labels/value-set-types.ts';
import { databaseKinds } from '../support/databases.ts';
import { startTestServer, type TestServer } from '../support/test-server.ts';
import { systemClientToken, userWithToken } from '../support/tokens.ts';
import { adt, asParams, ccdSample, consent, count, EVE, facilityOrganization, fhir, oru, patientOf, sendHl7, type PersonDemo } from './support.ts';

const kinds = await databaseKinds();
const DAY = 86_400_000;
const CCD = ccdSample('the C-CDA part of the consent-records suite');
const ADAM: PersonDemo = { family: 'QUIMBY', given: 'ADAM', dob: '19580303', sex: 'M', ssn: '123-45-0001', street: '7 Elm St', city: 'Orono', state: 'ME', zip: '04473' };

describe.each(kinds)('opt-out records, late C-CDA and the audit trail on %s', (kind) => {
  let server: TestServer;
  let feedA = '';
  let feedC = '';
  let doctor = '';
  let officer = '';
  let patient = '';
  const eve = { patientId: '', personId: '' };
  const adam = { patientId: '', personId: '' };

  const clinicalRows = (personId: string) =>
    count(server, `select count(*)::int as n from resources where person_id = $1 and resource_type not in ('Patient', 'Person', 'Consent')`, [personId]);
  const consentsOf = async (personId: string) =>
    (await server.services.db.query<{ content: Consent }>(`select content from resources where resource_type = 'Consent' and person_id = $1 order by last_updated`, [personId])).rows.map((r) => r.content);

  beforeAll(async () => {
    server = await startTestServer(kind);
    const orgA = await facilityOrganization(server, 'CA');
    const orgC = await facilityOrganization(server, 'CC');
    feedA = await systemClientToken(server, 'cons-ehr-a', orgA);
    feedC = await systemClientToken(server, 'cons-ehr-c', orgC);
    const visit = new Date(Date.now() - 10 * DAY);
    for (const [p, mrn] of [[EVE, 'CA-EVE'], [ADAM, 'CA-ADAM']] as const) {
      expect(await sendHl7(server, adt(p, 'CA', mrn, { visit: `V-${mrn}`, at: visit }))).toBe('AA');
      expect(await sendHl7(server, oru(p, 'CA', mrn, { order: `O-${mrn}`, panel: { code: '24323-8', display: 'CMP' }, at: visit, results: [{ code: '2345-7', display: 'Glucose', type: 'NM', value: '97', units: 'mg/dL' }] }))).toBe('AA');
    }
    Object.assign(eve, await patientOf(server, 'CA', 'CA-EVE'));
    Object.assign(adam, await patientOf(server, 'CA', 'CA-ADAM'));
    doctor = await userWithToken(server, { username: 'cons-dr', role: 'clinician', organizationId: orgA });
    officer = await userWithToken(server, { username: 'cons-po', role: 'privacy-officer' });
    patient = await userWithToken(server, { username: 'cons-eve', role: 'patient', personId: eve.personId });
  }, 300_000);
  afterAll(async () => server?.stop());

  it('a clinician or a submitting system cannot record a privacy choice for a patient', async () => {
    const adamBefore = await clinicalRows(adam.personId);
    expect(adamBefore).toBeGreaterThan(0);
    const input = { patientRef: `Patient/${adam.patientId}`, channel: 'paper' as const, date: new Date().toISOString(), performer: `Patient/${adam.patientId}` };
    expect((await consent(server, doctor, adam.patientId, 'opt-out')).status).toBe(403);
    for (const [who, token] of [['clinician', doctor], ['submitting system', feedA]] as const) {
      for (const body of [buildOptOut(input), buildShareCategory({ ...input, labels: ['HIV'] })]) {
        const res = await fhir(server, token, 'POST', '/fhir/Consent', body);
        expect(res.status, `${who} POST /fhir/Consent (${body.policyRule ? 'opt-out' : 'share'})`).toBe(403);
        expect((res.body as Resource).resourceType).toBe('OperationOutcome');
      }
    }
    expect(await consentsOf(adam.personId)).toEqual([]);
    expect(asParams(await fhir(server, officer, 'GET', `/fhir/Patient/${adam.patientId}/$consent-status`)).optedOut).toEqual([false]);
    expect(await clinicalRows(adam.personId)).toBe(adamBefore);
  });

  it('the patient opts out online: a patient-privacy Consent with policyRule OPTOUT, channel online and its date', async () => {
    // Accesses before the opt-out, for the audit report afterwards.
    expect((await fhir(server, doctor, 'GET', `/fhir/Patient/${eve.patientId}/$everything`)).status).toBe(200);
    expect((await fhir(server, doctor, 'GET', `/fhir/Observation?patient=Patient/${eve.patientId}`)).status).toBe(200);
    const before = Date.now();
    const res = await consent(server, patient, eve.patientId, 'opt-out');
    expect(res.status).toBe(200);
    expect(asParams(res).optedOut).toEqual([true]);
    const [c] = await consentsOf(eve.personId);
    expect(c.status).toBe('active');
    expect(c.scope?.coding).toEqual([{ system: CONSENT_SCOPE_SYSTEM, code: 'patient-privacy' }]);
    expect(c.policyRule?.coding).toEqual([{ system: ACT_CODE_SYSTEM, code: 'OPTOUT' }]);
    expect(c.extension).toEqual([{ url: CONSENT_CHANNEL_URL, valueCode: 'online' }]);
    expect(c.performer).toEqual([{ reference: `Patient/${eve.patientId}` }]);
    expect(Math.abs(Date.parse(c.provision!.period!.start!) - before)).toBeLessThan(60_000);
    expect(await clinicalRows(eve.personId)).toBe(0);
  });

  it('a privacy officer records a phone opt-out on the patient\'s behalf, named as the performer', async () => {
    const res = await consent(server, officer, adam.patientId, 'opt-out', { channel: 'phone' });
    expect(res.status).toBe(200);
    const [c] = await consentsOf(adam.personId);
    expect(c.policyRule?.coding?.[0].code).toBe('OPTOUT');
    expect(c.extension).toEqual([{ url: CONSENT_CHANNEL_URL, valueCode: 'phone' }]);
    expect(c.performer).toEqual([{ display: 'Test cons-po' }]);
    expect(await clinicalRows(adam.personId)).toBe(0);
    const audited = await server.services.db.query<{ agent_role: string; outcome: string }>(`select agent_role, outcome from audit_log where action = 'consent' and $1 = any(person_ids)`, [adam.personId]);
    expect(audited.rows).toEqual([{ agent_role: 'privacy-officer', outcome: 'success' }]);
  });

  it('after the purge the audit trail remains, and the patient still gets a report of who viewed their record', async () => {
    expect(await count(server, `select count(*)::int as n from audit_log where $1 = any(person_ids) and agent_role = 'clinician'`, [eve.personId])).toBeGreaterThanOrEqual(2);
    const res = await server.app.inject({ method: 'GET', url: `/fhir/Patient/${eve.patientId}/$access-report`, headers: { authorization: `Bearer ${patient}` } });
    expect(res.statusCode).toBe(200);
    const rows = res.json<{ rows: Array<{ userName: string; role: string; organization: string; action: string }> }>().rows;
    const doctorRows = rows.filter((r) => r.userName === 'Test cons-dr');
    expect(doctorRows.length).toBeGreaterThanOrEqual(2);
    expect(doctorRows.every((r) => r.organization === 'CA Hospital' && /clinician/i.test(r.role))).toBe(true);
  });

  it('a submitting system may send a Consent of its own (treatment), but never change or delete a privacy choice', async () => {
    const treatment: Consent = {
      resourceType: 'Consent', status: 'active', scope: { coding: [{ system: CONSENT_SCOPE_SYSTEM, code: 'treatment' }] },
      category: [{ coding: [{ system: 'http://loinc.org', code: '59284-0' }] }], patient: { reference: `Patient/${adam.patientId}` },
      dateTime: new Date().toISOString(), policy: [{ uri: 'https://ca-hospital.example/consent-to-treat' }],
    };
    const status = async () => (await fhir(server, officer, 'GET', `/fhir/Patient/${adam.patientId}/$consent-status`)).body;
    const before = await status();
    const created = await fhir(server, feedA, 'POST', '/fhir/Consent', treatment);
    expect(created.status, JSON.stringify(created.body).slice(0, 300)).toBe(201);
    expect(await status(), 'a treatment Consent changes no privacy choice').toEqual(before);

    const choice = (await consentsOf(eve.personId)).find((c) => c.scope?.coding?.some((x) => x.code === 'patient-privacy'));
    expect(choice?.id).toBeTruthy();
    const refusals = [
      await fhir(server, feedA, 'PUT', `/fhir/Consent/${choice!.id}`, { ...treatment, id: choice!.id, patient: choice!.patient }),
      await fhir(server, feedA, 'DELETE', `/fhir/Consent/${choice!.id}`),
    ];
    for (const res of refusals) {
      expect(res.status).toBe(403);
      expect(JSON.stringify(res.body)).toContain('privacy choices are recorded by the patient');
    }
    expect((await consentsOf(eve.personId)).find((c) => c.id === choice!.id)).toEqual(choice);
  });

  it.skipIf(!CCD)('a C-CDA document for the opted-out person is acknowledged like any other, stores nothing clinical, and is counted without PHI', async () => {
    const discarded = () => count(server, `select coalesce(sum(count), 0)::int as n from discarded_data where reason = 'opted-out'`);
    const discardedBefore = await discarded();
    const res = await server.app.inject({ method: 'POST', url: '/ccda', headers: { authorization: `Bearer ${feedC}`, 'content-type': 'application/xml' }, payload: await readFile(CCD!, 'utf8') });
    expect(res.statusCode, res.body.slice(0, 300)).toBe(201);
    expect(res.body).not.toMatch(/opt|consent|discard/i);
    const ccdPatient = (await server.services.db.query<{ person_id: string }>(`select person_id from resources where resource_type = 'Patient' and source_org = (
      select id from resources where resource_type = 'Organization' and content->>'name' = 'CC Hospital')`)).rows;
    expect(ccdPatient.map((r) => r.person_id), 'the document\'s patient is the opted-out person').toEqual([eve.personId]);
    expect(await clinicalRows(eve.personId)).toBe(0);
    expect(await count(server, `select count(*)::int as n from ingest_messages where channel = 'ccda' and raw is not null`)).toBe(0);
    expect(await discarded()).toBeGreaterThan(discardedBefore);
    const rows = await server.services.db.query('select * from discarded_data');
    expect(JSON.stringify(rows.rows)).not.toMatch(/betterhalf|CA-EVE|2345-7|444-22-2222/i);
    expect(server.logs.join('\n')).not.toMatch(/betterhalf|444-22-2222/i);
  }, 120_000);
});
