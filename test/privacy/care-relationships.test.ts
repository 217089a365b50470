/**
 * privacy-rules §1 (where a care relationship comes from, and how long it lasts) and §5 (how long break-the-glass
 * lasts), on a server configured away from the defaults so the configured values, not constants, are what counts:
 * a 24-month window, attestations for 10 days, break-the-glass for 2 hours. Time passing is simulated by moving a
 * grant's dates back in its table.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Resource } from '@medplum/fhirtypes';
import { databaseKinds } from '../support/databases.ts';
import { outcomeCode } from '../support/leak-oracle.ts';
import { startTestServer, type TestServer } from '../support/test-server.ts';
import { systemClientToken, userWithToken } from '../support/tokens.ts';
import { asParams, count, facilityOrganization, fhir } from './support.ts';

const kinds = await databaseKinds();
const DAY = 86_400_000;
const MONTH = 30.44 * DAY;
const monthsAgo = (m: number) => new Date(Date.now() - m * MONTH).toISOString();

type Scenario = 'planned' | 'admitted' | 'referral' | 'recent' | 'stale';
const SCENARIOS: Scenario[] = ['planned', 'admitted', 'referral', 'recent', 'stale'];

describe.each(kinds)('care relationships, attestation and break-the-glass durations on %s', (kind) => {
  let server: TestServer;
  let orgC = '';
  let feedB = '';
  let feedC = '';
  let drC = '';
  let drC2 = '';
  let drD = '';
  let officer = '';
  /** Per scenario: organization B's Patient, an Observation B sent about them, and their person. */
  const people = {} as Record<Scenario, { patient: string; obs: string; personId: string }>;
  const ids = { admission: '', referral: '' };

  async function create(token: string, body: Resource): Promise<string> {
    const res = await fhir(server, token, 'POST', `/fhir/${body.resourceType}`, body);
    if (res.status !== 201) throw new Error(`create ${body.resourceType}: ${res.status} ${JSON.stringify(res.body)}`);
    return (res.body as Resource).id!;
  }
  /** What organization C's first clinician gets for the Observation B sent: 200, or 403 and its reason. */
  async function readObs(s: Scenario, token = drC): Promise<{ status: number; code?: string; body: string }> {
    const res = await fhir(server, token, 'GET', `/fhir/Observation/${people[s].obs}`);
    return { status: res.status, code: res.status === 200 ? undefined : outcomeCode(res.body as never), body: JSON.stringify(res.body) };
  }
  const encounter = (patient: string, status: string, period: { start: string; end?: string }): Resource =>
    ({ resourceType: 'Encounter', status, class: { code: status === 'in-progress' ? 'IMP' : 'AMB' }, subject: { reference: `Patient/${patient}` }, period }) as Resource;

  beforeAll(async () => {
    server = await startTestServer(kind, { careRelationshipMonths: 24, attestationDays: 10, breakGlassHours: 2 });
    const orgB = await facilityOrganization(server, 'CRB');
    orgC = await facilityOrganization(server, 'CRC');
    const orgD = await facilityOrganization(server, 'CRD');
    feedB = await systemClientToken(server, 'cr-ehr-b', orgB);
    feedC = await systemClientToken(server, 'cr-ehr-c', orgC);
    for (const [i, s] of SCENARIOS.entries()) {
      const patient = await create(feedB, {
        resourceType: 'Patient', identifier: [{ system: 'urn:katahdin:id:CRB', value: `CR-${s}` }], name: [{ family: `Carewell${s}`, given: [`Gus${i}`] }],
        gender: i % 2 ? 'male' : 'female', birthDate: `19${50 + i * 7}-0${i + 1}-1${i}`,
      } as Resource);
      const obs = await create(feedB, {
        resourceType: 'Observation', status: 'final', subject: { reference: `Patient/${patient}` }, code: { coding: [{ system: 'http://loinc.org', code: '2345-7' }] },
        effectiveDateTime: monthsAgo(1), valueQuantity: { value: 88 + i },
      } as Resource);
      const personId = (await server.services.db.query<{ person_id: string }>('select person_id from mpi_links where patient_id = $1', [patient])).rows[0].person_id;
      people[s] = { patient, obs, personId };
    }
    drC = await userWithToken(server, { username: 'cr-dr-c', role: 'clinician', organizationId: orgC });
    drC2 = await userWithToken(server, { username: 'cr-dr-c2', role: 'clinician', organizationId: orgC });
    drD = await userWithToken(server, { username: 'cr-dr-d', role: 'clinician', organizationId: orgD });
    officer = await userWithToken(server, { username: 'cr-po', role: 'privacy-officer' });
    expect(new Set(SCENARIOS.map((s) => people[s].personId)).size, 'five distinct persons').toBe(5);
  }, 300_000);
  afterAll(async () => server?.stop());

  it('without any relationship, the record answers 403 no-care-relationship and says what is missing', async () => {
    for (const s of SCENARIOS) {
      const r = await readObs(s);
      expect([r.status, r.code], s).toEqual([403, 'no-care-relationship']);
      expect(r.body).toMatch(/care relationship/i);
      expect(r.body).toMatch(/attest/i);
      expect(r.body).not.toContain('2345-7');
    }
  });

  it('a scheduled encounter, an active admission begun long ago and an active referral each give the organization a relationship', async () => {
    await create(feedC, encounter(people.planned.patient, 'planned', { start: new Date(Date.now() + 7 * DAY).toISOString() }));
    ids.admission = await create(feedC, encounter(people.admitted.patient, 'in-progress', { start: monthsAgo(30) }));
    // The referral is B's: B refers the person to organization C (the performer), long enough ago that only its being active counts.
    ids.referral = await create(feedB, {
      resourceType: 'ServiceRequest', status: 'active', intent: 'order', subject: { reference: `Patient/${people.referral.patient}` },
      code: { coding: [{ system: 'http://snomed.info/sct', code: '3457005', display: 'Patient referral' }] }, authoredOn: monthsAgo(30),
      performer: [{ reference: `Organization/${orgC}` }],
    } as Resource);
    for (const s of ['planned', 'admitted', 'referral'] as const) expect((await readObs(s)).status, s).toBe(200);
    // Organization D has none of these: the relationship is the organization's, not everyone's.
    expect((await readObs('planned', drD)).status).toBe(403);
  });

  it('the relationship from an admission or referral ends when it is no longer active and older than the window', async () => {
    const discharged = await fhir(server, feedC, 'PUT', `/fhir/Encounter/${ids.admission}`, { ...encounter(people.admitted.patient, 'finished', { start: monthsAgo(30), end: monthsAgo(25) }), id: ids.admission });
    expect(discharged.status).toBe(200);
    const referral = (await fhir(server, feedB, 'GET', `/fhir/ServiceRequest/${ids.referral}`)).body as Resource;
    expect((await fhir(server, feedB, 'PUT', `/fhir/ServiceRequest/${ids.referral}`, { ...referral, status: 'completed' })).status).toBe(200);
    for (const s of ['admitted', 'referral'] as const) expect((await readObs(s)).code, s).toBe('no-care-relationship');
  });

  it('data the organization sent in an encounter counts for the configured window (24 months here, not the default 18)', async () => {
    await create(feedC, encounter(people.recent.patient, 'finished', { start: monthsAgo(23), end: monthsAgo(23) }));
    await create(feedC, encounter(people.stale.patient, 'finished', { start: monthsAgo(25), end: monthsAgo(25) }));
    expect((await readObs('recent')).status).toBe(200);
    expect((await readObs('stale')).code).toBe('no-care-relationship');
  });

  it('an attestation is the user\'s, records its reason, lasts the configured days, is audited and shown to privacy officers', async () => {
    const before = Date.now();
    const res = await fhir(server, drC, 'POST', `/fhir/Patient/${people.stale.patient}/$attest`, { resourceType: 'Parameters', parameter: [{ name: 'reason', valueString: 'second opinion requested by Dr. Ames' }] });
    expect(res.status).toBe(200);
    const expires = Date.parse(String(asParams(res).expires[0]));
    expect(expires - before).toBeGreaterThanOrEqual(10 * DAY - 60_000);
    expect(expires - before).toBeLessThanOrEqual(10 * DAY + 60_000);
    expect((await readObs('stale')).status).toBe(200);
    expect((await readObs('stale', drC2)).code, 'a colleague of the same organization has not attested').toBe('no-care-relationship');

    expect(await count(server, `select count(*)::int as n from audit_log where action = 'attest' and outcome = 'success' and $1 = any(person_ids) and agent_role = 'clinician'`, [people.stale.personId])).toBe(1);
    const listed = await server.app.inject({ method: 'GET', url: '/admin/attestations', headers: { authorization: `Bearer ${officer}` } });
    expect(listed.statusCode).toBe(200);
    const entry = listed.json<{ attestations: Array<{ personId: string; reason: string; expires: string }> }>().attestations.find((a) => a.personId === people.stale.personId);
    expect(entry).toMatchObject({ reason: 'second opinion requested by Dr. Ames' });
    expect(Date.parse(entry!.expires)).toBe(expires);

    // Ten days and a minute later.
    await server.services.db.query(`update attestations set created_at = created_at - interval '10 days 1 minute', expires_at = expires_at - interval '10 days 1 minute' where person_id = $1`, [people.stale.personId]);
    expect((await readObs('stale')).code).toBe('no-care-relationship');
  });

  it('break-the-glass lasts the configured hours and then ends', async () => {
    const before = Date.now();
    const res = await fhir(server, drD, 'POST', `/fhir/Patient/${people.stale.patient}/$break-the-glass`, { resourceType: 'Parameters', parameter: [{ name: 'reason', valueString: 'unresponsive on arrival' }] });
    expect(res.status).toBe(200);
    const expires = Date.parse(String(asParams(res).expires[0]));
    expect(expires - before).toBeGreaterThanOrEqual(2 * 3_600_000 - 60_000);
    expect(expires - before).toBeLessThanOrEqual(2 * 3_600_000 + 60_000);
    expect((await readObs('stale', drD)).status).toBe(200);
    expect(asParams(await fhir(server, drD, 'GET', `/fhir/Patient/${people.stale.patient}/$break-the-glass`)).active).toEqual([true]);

    // Two hours and a minute later.
    await server.services.db.query(`update break_glass set created_at = created_at - interval '2 hours 1 minute', expires_at = expires_at - interval '2 hours 1 minute' where person_id = $1`, [people.stale.personId]);
    expect((await readObs('stale', drD)).code).toBe('no-care-relationship');
    expect(asParams(await fhir(server, drD, 'GET', `/fhir/Patient/${people.stale.patient}/$break-the-glass`)).active).toEqual([false]);
  });
});
