/**
 * privacy-rules §4 for documents and Binaries that reach their person late: a labelled DocumentReference and the PDF
 * Binary it names, sent by different systems before their Patient is known (no person, so neither may label the
 * other's row), are stored apart; when the Patient arrives and the rows join a person — or a Binary's own source
 * Patient links to the person whose stored document names it, or a document's Patient links to the person holding
 * the Binary — the document's labels pass to the Binary in that transaction, so the Binary is withheld with the
 * document at once (not after `katahdin privacy relabel`). Break-the-glass and a PSY share open it. A document of
 * another person still labels nothing when rows join.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Resource } from '@medplum/fhirtypes';
import { labelsFromDocuments } from '../../src/access/stored-labels.ts';
import { databaseKinds } from '../support/databases.ts';
import { startTestServer, type TestServer } from '../support/test-server.ts';
import { systemClientToken, userWithToken } from '../support/tokens.ts';
import { consent, count, facilityOrganization, fhir } from './support.ts';

const kinds = await databaseKinds();
const DEPRESSION = { coding: [{ system: 'http://hl7.org/fhir/sid/icd-10-cm', code: 'F32.9', display: 'Major depressive disorder' }] };

describe.each(kinds)('a labelled document labels its Binary when both join a person late, on %s', (kind) => {
  let server: TestServer;
  let hospital = '';
  let lab = '';
  let doctor = '';
  let emergency = '';
  let registrar = '';

  /** A FHIR Patient with full demographics (the MPI links two with the same SSN, name, birth date and address). */
  const patient = (id: string, system: string, mrn: string, who: { family: string; given: string; ssn: string; birthDate: string }) => ({
    resourceType: 'Patient', id, identifier: [{ system, value: mrn }, { system: 'http://hl7.org/fhir/sid/us-ssn', value: who.ssn }],
    name: [{ family: who.family, given: [who.given] }], gender: 'female', birthDate: who.birthDate,
    address: [{ line: ['12 Spruce St'], city: 'Bangor', state: 'ME', postalCode: '04401' }],
  });
  const put = async (token: string, body: Resource & { id: string }) => {
    const res = await fhir(server, token, 'PUT', `/fhir/${body.resourceType}/${body.id}`, body);
    if (res.status !== 201) throw new Error(`put ${body.resourceType}/${body.id}: ${res.status} ${JSON.stringify(res.body)}`);
  };
  /** A PDF about `owner` (its security context), with nothing a classifier reads. */
  const pdf = (token: string, id: string, owner: string) => put(token, {
    resourceType: 'Binary', id, contentType: 'application/pdf', securityContext: { reference: `Patient/${owner}` }, data: Buffer.from(`%PDF-1.4 ${id}`).toString('base64'),
  } as Resource & { id: string });
  /** A DocumentReference about `subject`, labelled PSY by its own code, presenting the Binary at `url`. */
  const psyDocument = (token: string, id: string, subject: string, url: string) => put(token, {
    resourceType: 'DocumentReference', id, status: 'current', subject: { reference: `Patient/${subject}` }, category: [DEPRESSION],
    content: [{ attachment: { contentType: 'application/pdf', url } }],
  } as Resource & { id: string });
  const visit = (token: string, id: string, subject: string) => {
    const when = new Date(Date.now() - 86_400_000).toISOString();
    return put(token, { resourceType: 'Encounter', id, status: 'finished', class: { code: 'AMB' }, subject: { reference: `Patient/${subject}` }, period: { start: when, end: when } } as Resource & { id: string });
  };
  const row = async (type: string, id: string) => (await server.services.db.query<{ security: string[]; person_id: string | null }>(
    `select security, person_id from resources where resource_type = $1 and id = $2`, [type, id])).rows[0];
  const labels = async (id: string) => (await row('Binary', id)).security;
  const personOf = async (patientId: string) => (await row('Patient', patientId)).person_id;
  const readBinary = async (token: string, id: string) => (await fhir(server, token, 'GET', `/fhir/Binary/${id}`)).status;

  beforeAll(async () => {
    server = await startTestServer(kind);
    const org = await facilityOrganization(server, 'LD');
    const labOrg = await facilityOrganization(server, 'LL');
    const other = await facilityOrganization(server, 'LE');
    hospital = await systemClientToken(server, 'ld-ehr', org);
    lab = await systemClientToken(server, 'll-lab', labOrg);
    doctor = await userWithToken(server, { username: 'ld-dr', role: 'clinician', organizationId: org });
    emergency = await userWithToken(server, { username: 'ld-er', role: 'clinician', organizationId: other });
    registrar = await userWithToken(server, { username: 'ld-reg', role: 'registrar' });
  }, 300_000);
  afterAll(async () => server?.stop());

  it('a document and a Binary stored before their Patient (by different senders, either first) label it when the Patient arrives', async () => {
    await pdf(lab, 'late-before', 'late-ann');
    await psyDocument(hospital, 'late-doc-1', 'late-ann', 'Binary/late-before');
    await psyDocument(hospital, 'late-doc-2', 'late-ann', 'Binary/late-after');
    await pdf(lab, 'late-after', 'late-ann');
    // No person yet, and another sender's loose Binary: nothing may pass (document-binary-owners.test.ts).
    expect((await row('DocumentReference', 'late-doc-1')).security).toEqual(['PSY']);
    expect((await row('Binary', 'late-before')).person_id).toBeNull();
    expect(await labels('late-before')).toEqual([]);
    expect(await labels('late-after')).toEqual([]);

    await put(hospital, patient('late-ann', 'urn:katahdin:id:LD', 'LA-1', { family: 'Latecomer', given: 'Ann', ssn: '321-54-1111', birthDate: '1979-05-06' }) as Resource & { id: string });
    const person = await personOf('late-ann');
    expect(person).toBeTruthy();
    expect((await row('Binary', 'late-before')).person_id).toBe(person);
    expect(await labels('late-before')).toEqual(['PSY']);
    expect(await labels('late-after')).toEqual(['PSY']);
    // meta.security of the stored content too, not only the column.
    expect(await count(server, `select count(*)::int as n from resources r, jsonb_array_elements(r.content->'meta'->'security') s
      where r.resource_type = 'Binary' and r.id = any($1) and s->>'code' = 'PSY'`, [['late-before', 'late-after']])).toBe(2);

    await visit(hospital, 'late-visit-ann', 'late-ann');
    expect(await readBinary(doctor, 'late-before')).toBe(403);
    expect(await readBinary(doctor, 'late-after')).toBe(403);
    expect((await fhir(server, doctor, 'GET', '/fhir/DocumentReference/late-doc-1')).status).toBe(403);
    expect((await fhir(server, doctor, 'GET', '/fhir/Patient/late-ann')).status).toBe(200);

    const btg = await fhir(server, emergency, 'POST', '/fhir/Patient/late-ann/$break-the-glass', { resourceType: 'Parameters', parameter: [{ name: 'reason', valueString: 'crisis presentation' }] });
    expect(btg.status).toBe(200);
    expect(await readBinary(emergency, 'late-before')).toBe(200);
    expect(await readBinary(emergency, 'late-after')).toBe(200);

    expect((await consent(server, registrar, 'late-ann', 'share', { category: 'PSY', channel: 'paper' })).status).toBe(200);
    expect(await readBinary(doctor, 'late-before')).toBe(200);
    expect(await readBinary(doctor, 'late-after')).toBe(200);
  });

  it('a Binary whose source Patient links to the person of a stored document naming it, and a document whose Patient links to the Binary\'s person, label it', async () => {
    const cora = { family: 'Linkwood', given: 'Cora', ssn: '321-54-2222', birthDate: '1983-09-10' };
    await put(hospital, patient('h-cora', 'urn:katahdin:id:LD', 'LC-1', cora) as Resource & { id: string });
    await visit(hospital, 'h-cora-visit', 'h-cora');
    const person = await personOf('h-cora');
    // The hospital's document (in the person's record) names a Binary the lab files under its own Patient id.
    await psyDocument(hospital, 'h-cora-doc', 'h-cora', 'Binary/l-cora-pdf');
    await pdf(lab, 'l-cora-pdf', 'l-cora');
    // The hospital's Binary (in the person's record) is named by a document the lab files under its own Patient id.
    await pdf(hospital, 'h-cora-pdf', 'h-cora');
    await psyDocument(lab, 'l-cora-doc', 'l-cora', 'Binary/h-cora-pdf');
    expect(await labels('l-cora-pdf')).toEqual([]);
    expect(await labels('h-cora-pdf')).toEqual([]);
    expect(await readBinary(doctor, 'h-cora-pdf')).toBe(200);

    await put(lab, patient('l-cora', 'urn:katahdin:id:LL', 'LC-9', cora) as Resource & { id: string });
    expect(await personOf('l-cora')).toBe(person);
    expect(await labels('l-cora-pdf')).toEqual(['PSY']);
    expect(await labels('h-cora-pdf')).toEqual(['PSY']);
    expect(await readBinary(doctor, 'l-cora-pdf')).toBe(403);
    expect(await readBinary(doctor, 'h-cora-pdf')).toBe(403);
  });

  it('a document of another person naming a Binary labels nothing when the Binary joins its own person', async () => {
    await put(hospital, patient('h-bob', 'urn:katahdin:id:LD', 'LB-1', { family: 'Otherton', given: 'Bob', ssn: '321-54-3333', birthDate: '1990-01-02' }) as Resource & { id: string });
    await psyDocument(hospital, 'h-bob-doc', 'h-bob', 'Binary/late-dee-pdf');
    await pdf(lab, 'late-dee-pdf', 'late-dee');
    await put(lab, patient('late-dee', 'urn:katahdin:id:LL', 'LD-1', { family: 'Deering', given: 'Dee', ssn: '321-54-4444', birthDate: '1966-12-13' }) as Resource & { id: string });
    expect(await personOf('late-dee')).not.toBe(await personOf('h-bob'));
    expect((await row('Binary', 'late-dee-pdf')).person_id).toBe(await personOf('late-dee'));
    expect(await labels('late-dee-pdf')).toEqual([]);
  });

  it('a document naming another server\'s Binary/id does not label the local Binary of that id; one under this server\'s base does', async () => {
    const base = server.services.fhirBase;
    await put(hospital, patient('h-eve', 'urn:katahdin:id:LD', 'LV-1', { family: 'Elsewhere', given: 'Eve', ssn: '321-54-5555', birthDate: '1975-03-04' }) as Resource & { id: string });
    await pdf(hospital, 'eve-pdf', 'h-eve');
    await psyDocument(hospital, 'eve-foreign-doc', 'h-eve', 'http://other.example.org/fhir/Binary/eve-pdf');
    const eve = { id: 'eve-pdf', personId: await personOf('h-eve'), sourceOrg: null };
    expect((await labelsFromDocuments(server.services.db, [eve], base)).get('Binary/eve-pdf')).toBeUndefined();
    await psyDocument(hospital, 'eve-own-doc', 'h-eve', `${base}/Binary/eve-pdf`);
    expect((await labelsFromDocuments(server.services.db, [eve], base)).get('Binary/eve-pdf')).toEqual(['PSY']);
  });
});
