/**
 * privacy-rules §2–3 for data without a clinical date of its own and for data that reaches a person late:
 * - a C-CDA dated before the opt-in leaves no trace: its Binary (the original XML) and Provenance go with the document;
 * - an Observation stored before its Patient was known is purged when that Patient links to an opted-out person, or
 *   to an opted-in person when it is dated before the opt-in, and counted in the PHI-free log like the intake does.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifyPurge } from '../../src/privacy-ops/verify-purge.ts';
import { databaseKinds } from '../support/databases.ts';
import { startTestServer, type TestServer } from '../support/test-server.ts';
import { systemClientToken, userWithToken } from '../support/tokens.ts';
import { adt, consent, count, facilityOrganization, fhir, patientOf, sendHl7, type PersonDemo } from './support.ts';

const kinds = await databaseKinds();
const DAY = 86_400_000;
const REFERRAL = resolve(process.cwd(), '../shared/corpora/ccda/hl7-examples/documents/Referral_Note.xml');
const CONSULT = resolve(process.cwd(), '../shared/corpora/ccda/hl7-examples/documents/Consultation_Note.xml');
const OLIVE: PersonDemo = { family: 'LATEWOOD', given: 'OLIVE', dob: '19710304', sex: 'F', ssn: '321-54-9876', street: '4 Birch Way', city: 'Bangor', state: 'ME', zip: '04401' };
const PETER: PersonDemo = { family: 'TARDYMAN', given: 'PETER', dob: '19650709', sex: 'M', ssn: '321-54-6789', street: '8 Elm Ct', city: 'Orono', state: 'ME', zip: '04473' };

/** The FHIR Patient a feed would send for the person (same demographics as the HL7 PID). */
function patientOfDemo(p: PersonDemo, id: string, mrn: string) {
  return {
    resourceType: 'Patient', id, identifier: [{ system: 'urn:katahdin:test:late-mrn', value: mrn }, { system: 'http://hl7.org/fhir/sid/us-ssn', value: p.ssn }],
    name: [{ family: p.family, given: [p.given] }], gender: p.sex === 'F' ? 'female' : 'male',
    birthDate: `${p.dob.slice(0, 4)}-${p.dob.slice(4, 6)}-${p.dob.slice(6, 8)}`,
    address: [{ line: [p.street], city: p.city, state: p.state, postalCode: p.zip }],
  };
}

describe.each(kinds)('late data and dateless documents against opt-out / opt-in on %s', (kind) => {
  let server: TestServer;
  let feed = '';
  let registrar = '';
  const discarded = (reason: string, type: string) =>
    count(server, 'select coalesce(sum(count), 0)::int as n from discarded_data where reason = $1 and resource_type = $2', [reason, type]);
  const upload = async (path: string) => {
    const res = await server.app.inject({ method: 'POST', url: '/ccda', headers: { authorization: `Bearer ${feed}`, 'content-type': 'application/xml' }, payload: await readFile(path, 'utf8') });
    expect(res.statusCode).toBeLessThan(300);
  };
  /** An Observation for a source Patient nobody has sent yet: stored without a person. */
  async function orphanObservation(patientId: string, effective: Date): Promise<string> {
    const res = await fhir(server, feed, 'POST', '/fhir/Observation', {
      resourceType: 'Observation', status: 'final', code: { coding: [{ system: 'http://loinc.org', code: '2345-7' }] },
      subject: { reference: `Patient/${patientId}` }, effectiveDateTime: effective.toISOString(), valueQuantity: { value: 101, unit: 'mg/dL' },
    });
    expect(res.status).toBe(201);
    const id = (res.body as { id: string }).id;
    expect(await count(server, `select count(*)::int as n from resources where resource_type = 'Observation' and id = $1 and person_id is null`, [id])).toBe(1);
    return id;
  }
  const observationRows = (id: string) => count(server, `select (select count(*) from resources where resource_type = 'Observation' and id = $1)
    + (select count(*) from resource_history where resource_type = 'Observation' and id = $1) as n`, [id]);

  beforeAll(async () => {
    server = await startTestServer(kind);
    const org = await facilityOrganization(server, 'LT');
    feed = await systemClientToken(server, 'late-ehr', org);
    registrar = await userWithToken(server, { username: 'late-reg', role: 'registrar' });
  });
  afterAll(async () => server?.stop());

  it.skipIf(!existsSync(REFERRAL))('a C-CDA dated before the opt-in stores no Binary, DocumentReference or Provenance', async () => {
    await upload(CONSULT);
    const { id: patientId, person_id: personId } = (await server.services.db.query<{ id: string; person_id: string }>(
      `select id, person_id from resources where resource_type = 'Patient' and source_org is not null order by last_updated limit 1`)).rows[0];
    const personRows = (type: string) => count(server, 'select count(*)::int as n from resources where person_id = $1 and resource_type = $2', [personId, type]);
    expect(await personRows('Binary')).toBe(1);
    expect((await consent(server, registrar, patientId, 'opt-out')).status).toBeLessThan(300);
    expect(await personRows('Binary')).toBe(0);
    expect((await consent(server, registrar, patientId, 'opt-in')).status).toBeLessThan(300);
    await upload(REFERRAL);
    // Both documents are about the same person (else this would prove nothing).
    expect(await count(server, `select count(distinct person_id)::int as n from resources where resource_type = 'Patient'`)).toBe(1);
    for (const type of ['Binary', 'DocumentReference', 'Provenance', 'Observation', 'Condition']) expect(await personRows(type)).toBe(0);
    expect(await discarded('before-opt-in', 'Binary')).toBe(1);
    expect(await discarded('before-opt-in', 'Provenance')).toBe(1);
  });

  it('an Observation stored before its Patient is purged when the Patient links to an opted-out person', async () => {
    expect(await sendHl7(server, adt(OLIVE, 'LA', 'OL-1', { visit: 'OV-1', at: new Date(Date.now() - 10 * DAY) }))).toBe('AA');
    const { patientId, personId } = await patientOf(server, 'LA', 'OL-1');
    expect((await consent(server, registrar, patientId, 'opt-out')).status).toBeLessThan(300);
    const obsId = await orphanObservation('late-olive', new Date(Date.now() - DAY));
    const before = await discarded('opted-out', 'Observation');
    const put = await fhir(server, feed, 'PUT', '/fhir/Patient/late-olive', patientOfDemo(OLIVE, 'late-olive', 'OL-LATE'));
    expect(put.status).toBe(201);
    expect(await count(server, `select count(*)::int as n from mpi_links where patient_id = 'late-olive' and person_id = $1`, [personId])).toBe(1);
    expect(await observationRows(obsId)).toBe(0);
    expect(await discarded('opted-out', 'Observation')).toBe(before + 1);
    expect((await verifyPurge(server.services.db, personId)).ok).toBe(true);
  });

  it('after an opt-in, a late-linked Observation dated before it is purged and one dated after it is kept', async () => {
    expect(await sendHl7(server, adt(PETER, 'LA', 'PT-1', { visit: 'PV-1', at: new Date(Date.now() - 30 * DAY) }))).toBe('AA');
    const { patientId, personId } = await patientOf(server, 'LA', 'PT-1');
    expect((await consent(server, registrar, patientId, 'opt-out')).status).toBeLessThan(300);
    const optInDate = new Date();
    expect((await consent(server, registrar, patientId, 'opt-in', { date: optInDate.toISOString() })).status).toBeLessThan(300);
    const old = await orphanObservation('late-peter', new Date(optInDate.getTime() - 3 * DAY));
    const recent = await orphanObservation('late-peter', new Date(optInDate.getTime() + 60_000));
    const before = await discarded('before-opt-in', 'Observation');
    expect((await fhir(server, feed, 'PUT', '/fhir/Patient/late-peter', patientOfDemo(PETER, 'late-peter', 'PT-LATE'))).status).toBe(201);
    expect(await count(server, `select count(*)::int as n from mpi_links where patient_id = 'late-peter' and person_id = $1`, [personId])).toBe(1);
    expect(await observationRows(old)).toBe(0);
    expect(await count(server, `select count(*)::int as n from resources where resource_type = 'Observation' and id = $1 and person_id = $2`, [recent, personId])).toBe(1);
    expect(await discarded('before-opt-in', 'Observation')).toBe(before + 1);
  });
});
