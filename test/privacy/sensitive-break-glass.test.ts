/**
 * privacy-rules §1, §4, §5 end to end: a person known to three hospitals (HL7 v2 over MLLP), with an HIV result and a
 * depression diagnosis; a clinician without and with a care relationship, before and after the patient shares mental
 * health, and break-the-glass (with the audit trail it must leave).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Bundle } from '@medplum/fhirtypes';
import { systemContext } from '../../src/access/context.ts';
import { databaseKinds } from '../support/databases.ts';
import { startTestServer, type TestServer } from '../support/test-server.ts';
import { userWithToken } from '../support/tokens.ts';
import { adt, asBundle, asOutcome, asParams, codesIn, consent, EVE, facilityOrganization, fhir, oru, patientOf, sendHl7 } from './support.ts';

const kinds = await databaseKinds();
const DAY = 86_400_000;
const HIV_LOINC = '75622-1';
const DEPRESSION = 'F32.9';

describe.each(kinds)('sensitive data and break-the-glass on %s', (kind) => {
  let server: TestServer;
  const pids: Record<string, string> = {};
  let personId = '';
  let drH1 = '';
  let drH4 = '';
  let officer = '';
  let patient = '';
  const ids = { hivObs: '', hivReport: '', glucoseReport: '', condition: '' };

  const internalIds = (type: string, code: string) =>
    server.services.gate.run(systemContext('test oracle'), { action: 'search' }, async (scope) =>
      (await scope.searchType(type, [['code', code]], false)).matches.map((r) => r.id!));

  beforeAll(async () => {
    server = await startTestServer(kind);
    const h1 = await facilityOrganization(server, 'H1');
    const h4 = await facilityOrganization(server, 'H4');
    const now = Date.now();
    // Hospitals 2 and 3 treat her; hospital 1 only registered her (no visit yet).
    expect(await sendHl7(server, adt(EVE, 'H2', 'M2-100', { visit: 'V2-1', at: new Date(now - 20 * DAY) }))).toBe('AA');
    expect(await sendHl7(server, adt(EVE, 'H3', 'M3-100', { visit: 'V3-1', at: new Date(now - 15 * DAY), diagnoses: [{ code: DEPRESSION, display: 'Major depressive disorder, single episode, unspecified' }] }))).toBe('AA');
    expect(await sendHl7(server, adt(EVE, 'H1', 'M1-100', { event: 'A28' }))).toBe('AA');
    expect(await sendHl7(server, oru(EVE, 'H2', 'M2-100', { order: 'ORD-HIV', panel: { code: '11502-2', display: 'Laboratory report' }, at: new Date(now - 19 * DAY), results: [{ code: HIV_LOINC, display: 'HIV 1 and 2 Ag+Ab', type: 'ST', value: 'Reactive' }] }))).toBe('AA');
    expect(await sendHl7(server, oru(EVE, 'H2', 'M2-100', { order: 'ORD-GLU', panel: { code: '24323-8', display: 'Comprehensive metabolic panel' }, at: new Date(now - 19 * DAY), results: [{ code: '2345-7', display: 'Glucose', type: 'NM', value: '95', units: 'mg/dL' }] }))).toBe('AA');
    for (const [f, mrn] of [['H1', 'M1-100'], ['H2', 'M2-100'], ['H3', 'M3-100']]) {
      const found = await patientOf(server, f, mrn);
      pids[f] = found.patientId;
      personId ||= found.personId;
      expect(found.personId, `${f} record links to the same person`).toBe(personId);
    }
    ids.hivObs = (await internalIds('Observation', HIV_LOINC))[0];
    ids.condition = (await internalIds('Condition', DEPRESSION))[0];
    const reports = await server.services.gate.run(systemContext('test oracle'), { action: 'search' }, async (scope) =>
      (await scope.searchType('DiagnosticReport', [['subject', `Patient/${pids.H2}`]], false)).matches);
    ids.hivReport = reports.find((r) => JSON.stringify(r).includes(ids.hivObs))!.id!;
    ids.glucoseReport = reports.find((r) => r.id !== ids.hivReport)!.id!;
    drH1 = await userWithToken(server, { username: 'dr-h1', role: 'clinician', organizationId: h1 });
    drH4 = await userWithToken(server, { username: 'dr-h4', role: 'clinician', organizationId: h4 });
    officer = await userWithToken(server, { username: 'po', role: 'privacy-officer' });
    patient = await userWithToken(server, { username: 'eve', role: 'patient', personId });
  }, 300_000);
  afterAll(async () => server?.stop());

  const everything = async (token: string) => fhir(server, token, 'GET', `/fhir/Patient/${pids.H1}/$everything`);
  const idsOf = (b: Bundle) => (b.entry ?? []).map((e) => `${e.resource?.resourceType}/${e.resource?.id}`);

  it('labels the HIV result, the report holding it and the depression diagnosis on ingestion', async () => {
    expect(ids.hivObs && ids.hivReport && ids.condition).toBeTruthy();
    const rows = await server.services.db.query<{ resource_type: string; security: string[] }>(
      'select resource_type, security from resources where id = any($1::text[]) order by resource_type', [[ids.hivObs, ids.hivReport, ids.condition, ids.glucoseReport]]);
    expect(rows.rows.map((r) => `${r.resource_type}:${r.security.join(',')}`).sort()).toEqual(['Condition:PSY', 'DiagnosticReport:', 'DiagnosticReport:HIV', 'Observation:HIV'].sort());
  });

  it('without a care relationship: demographics to pick the person, 403 no-care-relationship for the record', async () => {
    const search = await fhir(server, drH1, 'GET', '/fhir/Patient?family=BETTERHALF');
    expect(search.status).toBe(200);
    expect(asBundle(search).total).toBe(3);
    const res = await everything(drH1);
    expect(res.status).toBe(403);
    expect(asOutcome(res).issue?.[0].details?.coding?.[0].code).toBe('no-care-relationship');
    expect(JSON.stringify(res.body)).not.toContain(HIV_LOINC);
    const obs = await fhir(server, drH1, 'GET', `/fhir/Observation?patient=Patient/${pids.H2}`);
    expect(asBundle(obs).total).toBe(0);
  });

  it('with a relationship (hospital 1 sent a visit): the record, but not HIV, its report or the depression diagnosis — and totals agree', async () => {
    expect(await sendHl7(server, adt(EVE, 'H1', 'M1-100', { visit: 'V1-1', at: new Date(Date.now() - DAY) }))).toBe('AA');
    const res = await everything(drH1);
    expect(res.status).toBe(200);
    const seen = idsOf(asBundle(res));
    expect(seen).toContain(`DiagnosticReport/${ids.glucoseReport}`);
    expect(seen).not.toContain(`Observation/${ids.hivObs}`);
    expect(seen).not.toContain(`DiagnosticReport/${ids.hivReport}`);
    expect(seen).not.toContain(`Condition/${ids.condition}`);
    expect(codesIn(asBundle(res))).not.toContain(HIV_LOINC);
    expect(asBundle(res).total).toBe(seen.length);
    const obs = asBundle(await fhir(server, drH1, 'GET', `/fhir/Observation?patient=Patient/${pids.H2}`));
    expect([obs.total, obs.entry?.length]).toEqual([1, 1]);
    const reports = asBundle(await fhir(server, drH1, 'GET', `/fhir/DiagnosticReport?patient=Patient/${pids.H2}&_include=DiagnosticReport:result`));
    expect(reports.total).toBe(1);
    expect(codesIn(reports)).not.toContain(HIV_LOINC);
    expect(asBundle(await fhir(server, drH1, 'GET', `/fhir/Condition?patient=Patient/${pids.H3}`)).total).toBe(0);
    const direct = await fhir(server, drH1, 'GET', `/fhir/Observation/${ids.hivObs}`);
    expect(direct.status).not.toBe(200);
    expect(JSON.stringify(direct.body)).not.toContain(HIV_LOINC);
  });

  it('after the patient shares mental health: depression visible, HIV still withheld', async () => {
    const res = await consent(server, patient, pids.H1, 'share', { category: 'PSY' });
    expect(res.status).toBe(200);
    expect(asParams(res).shared).toEqual(['PSY']);
    const seen = idsOf(asBundle(await everything(drH1)));
    expect(seen).toContain(`Condition/${ids.condition}`);
    expect(seen).not.toContain(`Observation/${ids.hivObs}`);
    expect(asBundle(await fhir(server, drH1, 'GET', `/fhir/Condition?patient=Patient/${pids.H3}`)).total).toBe(1);
  });

  it('break-the-glass: everything, even without a relationship; only for the clinician who declared it', async () => {
    expect((await everything(drH4)).status).toBe(403);
    const btg = await fhir(server, drH4, 'POST', `/fhir/Patient/${pids.H1}/$break-the-glass`, { resourceType: 'Parameters', parameter: [{ name: 'reason', valueString: 'unconscious in ED' }] });
    expect(btg.status).toBe(200);
    const seen = idsOf(asBundle(await everything(drH4)));
    expect(seen).toEqual(expect.arrayContaining([`Observation/${ids.hivObs}`, `DiagnosticReport/${ids.hivReport}`, `Condition/${ids.condition}`]));
    expect(asBundle(await fhir(server, drH4, 'GET', `/fhir/Observation?patient=Patient/${pids.H2}`)).total).toBe(2);
    expect(idsOf(asBundle(await everything(drH1)))).not.toContain(`Observation/${ids.hivObs}`);
  });

  it('every access under break-the-glass is audited ETREAT, queued for review and in the patient’s access report', async () => {
    const events = asBundle(await fhir(server, officer, 'GET', `/fhir/AuditEvent?patient=Patient/${pids.H1}&purpose=ETREAT&_count=100`));
    expect(events.total).toBeGreaterThanOrEqual(3);
    for (const e of events.entry ?? []) {
      expect(JSON.stringify(e.resource)).toContain('ETREAT');
      expect(JSON.stringify(e.resource)).toContain('dr-h4');
    }
    const queue = await server.app.inject({ method: 'GET', url: '/admin/break-glass', headers: { authorization: `Bearer ${officer}` } });
    const items = queue.json() as Array<{ personIds: string[]; status: string; flaggedAccesses: number }>;
    const mine = items.find((i) => i.personIds.includes(personId));
    expect(mine).toMatchObject({ status: 'pending' });
    expect(mine!.flaggedAccesses).toBeGreaterThanOrEqual(2);
    const report = await server.app.inject({ method: 'GET', url: `/fhir/Patient/${pids.H1}/$access-report`, headers: { authorization: `Bearer ${patient}` } });
    expect(report.statusCode).toBe(200);
    const rows = (report.json() as { rows: Array<{ emergency: boolean; purpose: string; userName: string }> }).rows;
    expect(rows.some((r) => r.emergency && /dr-h4/.test(r.userName))).toBe(true);
    expect(rows.filter((r) => r.emergency && r.purpose === 'emergency treatment').length).toBeGreaterThanOrEqual(2);
  });
});
