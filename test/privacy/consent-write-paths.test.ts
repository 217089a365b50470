/**
 * privacy-rules §2–§4 on every way a privacy choice could be written: `$consent` refuses choices dated ahead (they
 * would never take effect) and takes a date within the clock-skew allowance as now; a registrar or privacy officer
 * cannot create, change or delete a patient-privacy Consent through the REST API or a transaction (which would skip
 * the date and channel checks, or rewrite the person's choices after the fact), while other Consents stay writable.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Bundle, Consent, OperationOutcome } from '@medplum/fhirtypes';
import { buildOptOut, buildShareCategory, CONSENT_SCOPE_SYSTEM } from '../../src/privacy/consent.ts';
import { databaseKinds } from '../support/databases.ts';
import { startTestServer, type TestServer } from '../support/test-server.ts';
import { userWithToken } from '../support/tokens.ts';
import { adt, asParams, consent, count, facilityOrganization, fhir, patientOf, sendHl7, type FhirResponse, type PersonDemo } from './support.ts';

const kinds = await databaseKinds();
const DAY = 86_400_000;
const RUTH: PersonDemo = { family: 'WRITEPATH', given: 'RUTH', dob: '19690909', sex: 'F', ssn: '123-45-0909', street: '9 Pine St', city: 'Bangor', state: 'ME', zip: '04401' };

describe.each(kinds)('privacy choices are written only through $consent on %s', (kind) => {
  let server: TestServer;
  let registrar = '';
  let officer = '';
  let doctor = '';
  const ruth = { patientId: '', personId: '' };
  let depressionId = '';

  const privacyConsents = async () =>
    (await server.services.db.query<{ content: Consent }>(`select content from resources where resource_type = 'Consent' and person_id = $1 and deleted = false
      and content->'scope'->'coding'->0->>'code' = 'patient-privacy' order by last_updated`, [ruth.personId])).rows.map((r) => r.content);
  const status = async () => asParams(await fhir(server, officer, 'GET', `/fhir/Patient/${ruth.patientId}/$consent-status`));
  const clinicalRows = () => count(server, `select count(*)::int as n from resources where person_id = $1 and resource_type not in ('Patient', 'Person', 'Consent')`, [ruth.personId]);
  const input = (date: string) => ({ patientRef: `Patient/${ruth.patientId}`, channel: 'paper' as const, date, performer: { display: 'Test wp-reg' } });
  const expectPointsToConsentOperation = (res: FhirResponse) => {
    expect(res.status, JSON.stringify(res.body).slice(0, 300)).toBe(422);
    const issue = (res.body as OperationOutcome).issue[0];
    expect(issue.code).toBe('business-rule');
    expect(issue.diagnostics).toContain('POST /fhir/Patient/{id}/$consent');
  };

  beforeAll(async () => {
    server = await startTestServer(kind);
    const orgA = await facilityOrganization(server, 'WP');
    expect(await sendHl7(server, adt(RUTH, 'WP', 'WP-RUTH', { visit: 'V-WP', at: new Date(Date.now() - 2 * DAY), diagnoses: [{ code: 'F32.9', display: 'Depression' }] }))).toBe('AA');
    Object.assign(ruth, await patientOf(server, 'WP', 'WP-RUTH'));
    depressionId = (await server.services.db.query<{ id: string }>(`select id from resources where resource_type = 'Condition' and person_id = $1`, [ruth.personId])).rows[0].id;
    registrar = await userWithToken(server, { username: 'wp-reg', role: 'registrar' });
    officer = await userWithToken(server, { username: 'wp-po', role: 'privacy-officer' });
    doctor = await userWithToken(server, { username: 'wp-dr', role: 'clinician', organizationId: orgA });
  }, 300_000);
  afterAll(async () => server?.stop());

  it('$consent refuses a choice dated in the future with a 400 naming the date, and records nothing', async () => {
    const rowsBefore = await clinicalRows();
    expect(rowsBefore).toBeGreaterThan(0);
    const refusals = [
      await consent(server, registrar, ruth.patientId, 'opt-out', { date: new Date(Date.now() + 10 * 60_000).toISOString() }),
      await consent(server, registrar, ruth.patientId, 'opt-in', { date: new Date(Date.now() + 2 * DAY).toISOString().slice(0, 10) }),
      await consent(server, officer, ruth.patientId, 'share', { category: 'PSY', date: new Date(Date.now() + 365 * DAY).toISOString() }),
    ];
    for (const res of refusals) {
      expect(res.status).toBe(400);
      const issue = (res.body as OperationOutcome).issue[0];
      expect(issue.expression).toEqual(['date']);
      expect(issue.diagnostics).toContain('cannot be dated in the future');
    }
    expect(await privacyConsents()).toEqual([]);
    expect(await status()).toMatchObject({ optedOut: [false] });
    expect((await status()).shared).toBeUndefined();
    expect(await clinicalRows()).toBe(rowsBefore);
  });

  it('a date within five minutes ahead (clock skew) is recorded as now and takes effect at once', async () => {
    expect((await fhir(server, doctor, 'GET', `/fhir/Condition/${depressionId}`)).status).not.toBe(200);
    const before = Date.now();
    const res = await consent(server, registrar, ruth.patientId, 'share', { category: 'PSY', date: new Date(before + 60_000).toISOString() });
    expect(res.status, JSON.stringify(res.body).slice(0, 300)).toBe(200);
    expect(asParams(res).shared).toEqual(['PSY']);
    const [c] = await privacyConsents();
    const effective = Date.parse(c.provision!.period!.start!);
    expect(effective).toBeGreaterThanOrEqual(before);
    expect(effective).toBeLessThanOrEqual(Date.parse(c.dateTime!));
    expect((await fhir(server, doctor, 'GET', `/fhir/Condition/${depressionId}`)).status).toBe(200);
  });

  it('a registrar cannot create a privacy choice directly — back-dated, as a transaction entry, or by turning another Consent into one', async () => {
    const threeYearsAgo = new Date(Date.now() - 3 * 365 * DAY).toISOString();
    expectPointsToConsentOperation(await fhir(server, registrar, 'POST', '/fhir/Consent', buildOptOut(input(threeYearsAgo))));
    expectPointsToConsentOperation(await fhir(server, officer, 'POST', '/fhir/Consent', buildOptOut(input(new Date().toISOString()))));
    const bundle: Bundle = {
      resourceType: 'Bundle', type: 'transaction',
      entry: [{ fullUrl: 'urn:uuid:5d4c1c1e-0a53-4f0e-9d0e-6f1d2f0b6a11', resource: buildOptOut(input(threeYearsAgo)), request: { method: 'POST', url: 'Consent' } }],
    };
    expectPointsToConsentOperation(await fhir(server, registrar, 'POST', '/fhir', bundle));

    // Consents that are not privacy choices (here: consent to treat) remain ordinary resources.
    const treatment: Consent = {
      resourceType: 'Consent', status: 'active', scope: { coding: [{ system: CONSENT_SCOPE_SYSTEM, code: 'treatment' }] },
      category: [{ coding: [{ system: 'http://loinc.org', code: '59284-0' }] }], patient: { reference: `Patient/${ruth.patientId}` },
      dateTime: new Date().toISOString(), policy: [{ uri: 'https://wp-hospital.example/consent-to-treat' }],
    };
    const created = await fhir(server, registrar, 'POST', '/fhir/Consent', treatment);
    expect(created.status, JSON.stringify(created.body).slice(0, 300)).toBe(201);
    const id = (created.body as Consent).id!;
    expect((await fhir(server, registrar, 'PUT', `/fhir/Consent/${id}`, { ...treatment, id, status: 'inactive' })).status).toBe(200);
    expectPointsToConsentOperation(await fhir(server, registrar, 'PUT', `/fhir/Consent/${id}`, { ...buildOptOut(input(threeYearsAgo)), id }));

    expect((await privacyConsents()).map((c) => c.policyRule?.coding?.[0].code)).toEqual([undefined]);
    expect(await status()).toMatchObject({ optedOut: [false], shared: ['PSY'] });
    expect(await clinicalRows()).toBeGreaterThan(0);
  });

  it('a recorded choice cannot be changed or deleted: the share stays in force until a new choice withdraws it', async () => {
    const [share] = await privacyConsents();
    expectPointsToConsentOperation(await fhir(server, registrar, 'PUT', `/fhir/Consent/${share.id}`, { ...share, status: 'inactive' }));
    expectPointsToConsentOperation(await fhir(server, registrar, 'PUT', `/fhir/Consent/${share.id}`, { ...buildShareCategory({ ...input(new Date().toISOString()), labels: ['HIV'] }), id: share.id }));
    for (const token of [registrar, officer]) expectPointsToConsentOperation(await fhir(server, token, 'DELETE', `/fhir/Consent/${share.id}`));
    expect(await privacyConsents()).toEqual([share]);
    expect(await status()).toMatchObject({ shared: ['PSY'] });
    expect((await fhir(server, doctor, 'GET', `/fhir/Condition/${depressionId}`)).status).toBe(200);

    expect((await consent(server, registrar, ruth.patientId, 'withhold', { category: 'PSY' })).status).toBe(200);
    expect((await status()).shared).toBeUndefined();
    expect((await fhir(server, doctor, 'GET', `/fhir/Condition/${depressionId}`)).status).not.toBe(200);
    expect((await privacyConsents()).map((c) => c.provision?.type)).toEqual(['permit', 'deny']);
  });
});
